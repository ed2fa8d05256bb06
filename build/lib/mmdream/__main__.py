import sys

from mmdream.cli import main

sys.exit(main())
