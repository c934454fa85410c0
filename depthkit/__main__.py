"""``python -m depthkit``: see :mod:`depthkit.cli`."""

import os
import sys

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from .cli import main

sys.exit(main())
