"""Pure-Python core of the traffic workbench: ingest, store, forecast, simulate.

Never imports dash or plotly (tests/test_layering.py checks it).
"""

__version__ = "0.1.0"
