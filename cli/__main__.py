"""`python -m cli …`: the same as `tthc …`."""

import sys

from cli.main import main

sys.exit(main())
