"""``python -m dashapp``: the development server on the built-in default data."""

import argparse
import os

from core.store import DatasetStore
from dashapp.app import create_app
from dashapp.runtime.settings import Settings


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m dashapp")
    parser.add_argument("--host", default=os.environ.get("TRAFFIC_HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("TRAFFIC_PORT", "8050")))
    parser.add_argument("--debug", action="store_true")
    args = parser.parse_args()
    settings = Settings.from_env()
    DatasetStore(settings.data_dir).default_id()  # build the default dataset before the first request
    create_app(settings).run(host=args.host, port=args.port, debug=args.debug)


if __name__ == "__main__":
    main()
