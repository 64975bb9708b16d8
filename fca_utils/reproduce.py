"""``python -m fca_utils.reproduce``: run the notebook series (see :mod:`fca_utils.cli.reproduce`)."""
import sys

from .cli.reproduce import main

if __name__ == "__main__":
    sys.exit(main())
