import sys

from ferbench.cli import main

sys.exit(main())
