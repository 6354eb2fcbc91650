"""``python -m core``: the command-line interface."""

import os
import sys

from core.cli import FAST_EXIT, _command, main

if __name__ == "__main__":
    code = main()
    if _command(sys.argv[1:]) in FAST_EXIT:
        # The dataset is stored (atomically) and the report written: flush it and leave without the
        # interpreter's teardown (~0.04 s after a full-size ingest: freeing the modules and arrays
        # one by one; bench/results/coldstart.md). Only here, in a process of its own, never in main().
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        except (OSError, ValueError):
            sys.exit(code)  # a closed or broken stdout: let the interpreter report it as usual
        os._exit(code)
    sys.exit(code)
