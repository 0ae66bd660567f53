"""Deepgram: the streaming STT websockets, which open without a pool.

The TTS keeps its websockets in a ``ConnectionPool``, timed by the framework
aspect.  Usage::

    from opentelemetry.instrumentation.livekit_agents.instrumentors.deepgram import (
        DeepgramInstrumentor,
    )

    DeepgramInstrumentor().instrument()

or entry point ``livekit_agents_deepgram`` (``AgentsInstrumentor`` runs it).
"""

from __future__ import annotations

from opentelemetry.instrumentation.livekit_agents.provider_instrumentor import (
    PatchTarget,
    ProviderInstrumentor,
    timed_connect,
)

_STREAM = timed_connect("_stt")


class DeepgramInstrumentor(ProviderInstrumentor):
    """Times the deepgram STT's websocket connections (v1 and, from 1.2, v2/Flux)."""

    provider = "deepgram"
    targets = (
        PatchTarget("livekit.plugins.deepgram.stt", "SpeechStream._connect_ws", _STREAM),
        PatchTarget("livekit.plugins.deepgram.stt_v2", "SpeechStreamv2._connect_ws", _STREAM),
    )
