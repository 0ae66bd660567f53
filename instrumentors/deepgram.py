"""Deepgram: the streaming STT's websocket, which opens without a pool.

The TTS keeps its websockets in a ``ConnectionPool``, timed by the framework
aspect.  Usage: ``DeepgramInstrumentor().instrument()``, or entry point
``livekit_agents_deepgram``.
"""

from __future__ import annotations

from typing import Any

from opentelemetry.instrumentation.livekit_agents.acquisition import Wrapper, acquire_wrapper
from opentelemetry.instrumentation.livekit_agents.model_identity import identify
from opentelemetry.instrumentation.livekit_agents.provider_instrumentor import (
    PatchTarget,
    ProviderInstrumentor,
)
from opentelemetry.instrumentation.livekit_agents.recorder import Recorder


def _stream_connect(recorder: Recorder) -> Wrapper:
    def stt_of(stream: Any) -> Any:
        return identify(getattr(stream, "_stt", stream))

    return acquire_wrapper(recorder, stt_of, may_reuse=False)


class DeepgramInstrumentor(ProviderInstrumentor):
    """Times the deepgram STT's websocket connections."""

    provider = "deepgram"
    targets = (
        PatchTarget("livekit.plugins.deepgram.stt", "SpeechStream._connect_ws", _stream_connect),
    )
