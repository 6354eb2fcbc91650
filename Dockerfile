# Small production image: slim Python, non-root user, gunicorn, data and cache on a volume.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    OMP_NUM_THREADS=1 \
    OPENBLAS_NUM_THREADS=1 \
    TRAFFIC_DATA_DIR=/var/lib/traffic/data \
    TRAFFIC_CACHE_DIR=/var/lib/traffic/cache \
    TRAFFIC_MODELS_DIR=/var/lib/traffic/models \
    NUMBA_CACHE_DIR=/app/numba-cache \
    TRAFFIC_BIND=0.0.0.0:8050

WORKDIR /app
COPY requirements.txt .
RUN pip install -r requirements.txt

COPY core/ core/
COPY dashapp/ dashapp/
COPY assets/ assets/
COPY gunicorn.conf.py .

# Compile every numba kernel (log parsers, simulator) into the image, so no request waits for the compiler.
# Not on the volume: a mounted volume would hide it. Writable by the app's user, so that a host whose CPU
# differs from the build host's can add its own compiled code there.
# - libgomp1 stays: LightGBM links the system's OpenMP library (its wheel does not bundle it).
# - gcc, g++ and libc6-dev are there for this step only (removed in the same layer): with them the warm-up
#   builds the Common/Combined log parser ahead of time (numba's pycc checks for both compilers), so that
#   `python -m core ingest` in the container does not load numba (~1 s per process).
# - The build fails if that parser is missing, or if a forecasting library does not import without them.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends libgomp1 gcc g++ libc6-dev \
    && python -m core warmup \
    && python -c "from core.ingest.apache import kernel; assert kernel()[0] == 'aot', 'no ahead-of-time parser'" \
    && apt-get purge -y --auto-remove gcc g++ libc6-dev \
    && rm -rf /var/lib/apt/lists/* \
    && python -c "import lightgbm, prophet, statsmodels.api, sklearn" \
    && groupadd --gid 10001 traffic \
    && useradd --create-home --uid 10001 --gid 10001 traffic \
    && mkdir -p /var/lib/traffic \
    && chown 10001:10001 /var/lib/traffic \
    && chown -R 10001:10001 /app/numba-cache
# Numeric user: Kubernetes' runAsNonRoot can verify it without reading /etc/passwd.
USER 10001:10001
VOLUME ["/var/lib/traffic"]
EXPOSE 8050

HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8050/health', timeout=4).status != 200)"]

CMD ["gunicorn", "-c", "gunicorn.conf.py"]
