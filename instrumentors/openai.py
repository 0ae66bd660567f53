"""OpenAI: the provider switch ``livekit_agents_openai``; its connections are timed elsewhere.

The STT (``use_realtime=True``) keeps its websockets in a ``ConnectionPool``,
timed by the framework aspect; the Responses LLM's pool is timed per logical
acquisition (``connections/retries.py``) under the LLM's own model
(``connections/owners.py``).  The Realtime and GPT-Live session websockets
belong to the OpenAI-protocol realtime engine, which the xai and ThunderPhone
plugins and LiveKit Inference share: ``connections/realtime_engine.py`` times
them whichever providers are allowed, and each point is switched by its own
provider.  This instrumentor is the one way in for ``openai`` (entry point
``livekit_agents_openai``, which ``AgentsInstrumentor`` runs); usage::

    from opentelemetry.instrumentation.livekit_agents.instrumentors.openai import (
        OpenAIInstrumentor,
    )

    OpenAIInstrumentor().instrument()
"""

from __future__ import annotations

from opentelemetry.instrumentation.livekit_agents.provider_instrumentor import (
    ProviderInstrumentor,
)


class OpenAIInstrumentor(ProviderInstrumentor):
    """The openai provider: no patch of its own (see the module docstring)."""

    provider = "openai"
    targets = ()
