"""`modelpack <verb>`; the verbs are described in cli/commands.py."""

import sys

from .commands import main

sys.exit(main())
