"""A lint probe, never imported or collected: the openai SDK sorts as third-party.

``instrumentors/openai.py`` must not make ``openai`` a first-party module (pyproject's
ruff ``src`` leaves ``instrumentors`` out for that).  If it did, ``ruff check`` (rule
I001, tox -e lint) would ask to move ``import openai`` below ``wrapt`` and fail here.
"""

import openai  # noqa: F401
import wrapt  # noqa: F401

from opentelemetry.instrumentation.livekit_agents import AgentsInstrumentor  # noqa: F401
