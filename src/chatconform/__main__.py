"""`python -m chatconform ...` is the `chatconform` command."""

import sys

from chatconform.cli import main

sys.exit(main())
