"""Entry point of ``python -m services.devstack``."""

import sys

from services.devstack.cli import main

sys.exit(main(sys.argv[1:]))
