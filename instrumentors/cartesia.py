"""Cartesia: the streaming STT websockets, which open without a pool.

The TTS keeps its websockets in a ``ConnectionPool``, timed by the framework
aspect.  The plugin has an STT from 1.1; from 1.5 its streams live in
``_recognize_streams``.  Usage::

    from opentelemetry.instrumentation.livekit_agents.instrumentors.cartesia import (
        CartesiaInstrumentor,
    )

    CartesiaInstrumentor().instrument()

or entry point ``livekit_agents_cartesia`` (``AgentsInstrumentor`` runs it).
"""

from __future__ import annotations

from opentelemetry.instrumentation.livekit_agents.provider_instrumentor import (
    PatchTarget,
    ProviderInstrumentor,
    timed_connect,
)

_STREAM = timed_connect("_stt")
_STREAMS = "livekit.plugins.cartesia._recognize_streams"


class CartesiaInstrumentor(ProviderInstrumentor):
    """Times the cartesia STT's websocket connections."""

    provider = "cartesia"
    targets = (
        PatchTarget("livekit.plugins.cartesia.stt", "SpeechStream._connect_ws", _STREAM),
        PatchTarget(
            f"{_STREAMS}.legacy_recognize_stream", "LegacyRecognizeStream._connect_ws", _STREAM
        ),
        PatchTarget(
            f"{_STREAMS}.auto_finalize_recognize_stream",
            "AutoFinalizeRecognizeStream._connect_ws",
            _STREAM,
        ),
    )
