"""``python -m agent_fsm`` runs the ``agent-fsm`` command line."""

import sys

from .cli import main

sys.exit(main())
