"""`python -m modelpack <verb>`: the same as the `modelpack` command."""

import sys

from .cli.commands import main

sys.exit(main())
