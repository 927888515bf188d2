"""``python -m hamr.bench _one RUN_JSON``: the one run a grid's subprocess executes."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
