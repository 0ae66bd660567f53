"""xAI: the streaming STT websocket, which opens without a pool.

The TTS keeps its websockets in a ``ConnectionPool``, timed by the framework
aspect.  The Realtime session is the OpenAI-protocol engine's, timed by
``connections/realtime_engine.py`` under provider ``xai`` whether or not
``openai`` is allowed; switching ``xai`` off drops those points.  Usage::

    from opentelemetry.instrumentation.livekit_agents.instrumentors.xai import XAIInstrumentor

    XAIInstrumentor().instrument()

or entry point ``livekit_agents_xai`` (``AgentsInstrumentor`` runs it).
"""

from __future__ import annotations

from opentelemetry.instrumentation.livekit_agents.provider_instrumentor import (
    PatchTarget,
    ProviderInstrumentor,
    timed_connect,
)


class XAIInstrumentor(ProviderInstrumentor):
    """Times the xAI STT's websocket connections."""

    provider = "xai"
    targets = (
        PatchTarget("livekit.plugins.xai.stt", "SpeechStream._connect_ws", timed_connect("_stt")),
    )
