"""``python -m caw.testing.model_server``."""

import sys

from .cli import main

sys.exit(main())
