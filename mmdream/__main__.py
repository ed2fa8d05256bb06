"""`python -m mmdream`: the command line."""

import sys

from mmdream.cli import main

if __name__ == "__main__":  # importing it (a docs build inspecting the package) runs nothing
    sys.exit(main())
