"""``python -m fastem``: the same as the ``fastem`` command."""

import sys

from .cli import main

sys.exit(main())
