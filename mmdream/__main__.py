from mmdream.cli import main
import sys

sys.exit(main())
