"""``python -m opentelemetry.instrumentation.livekit_agents.demo``: see :mod:`.cli`."""

import sys

from opentelemetry.instrumentation.livekit_agents.demo.cli import main

sys.exit(main())
