"""``python -m samplekit.cli``."""

import sys

from samplekit.cli import main

sys.exit(main())
