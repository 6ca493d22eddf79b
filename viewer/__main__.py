"""``python -m viewer`` is the same as the ``lightbox`` command."""

import sys

from viewer.cli import main

sys.exit(main())
