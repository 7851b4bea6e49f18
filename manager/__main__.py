import sys

from manager.cli import main

sys.exit(main())
