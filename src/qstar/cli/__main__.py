import sys

from qstar.cli.main import main

sys.exit(main())
