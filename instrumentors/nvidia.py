"""NVIDIA Riva: the streaming STT and TTS gRPC calls, timed to the first response.

The plugin calls nvidia-riva-client's synchronous gRPC services from a worker
thread of its own (``threading.Thread``, which starts with an empty context),
so nothing of the stream's task reaches the call.  The component is carried on
the Riva service object instead (``connections/first_response.py``): the STT
stream's ``ASRService`` (built in ``SpeechStream.__init__``, one channel per
stream) is linked to the STT, and the TTS's ``SpeechSynthesisService`` (cached
by ``TTS._ensure_session``, one channel for every stream and sentence of the
TTS) to the TTS.  Each ``streaming_response_generator`` / ``synthesize_online``
call on a linked service is one acquisition, from the call to the server's
first response; the first call on a channel is a new connection, the later
ones reuse it.  Usage::

    from opentelemetry.instrumentation.livekit_agents.instrumentors.nvidia import (
        NvidiaInstrumentor,
    )

    NvidiaInstrumentor().instrument()

or entry point ``livekit_agents_nvidia`` (``AgentsInstrumentor`` runs it).  The
experimental realtime model (PersonaPlex) is reported by the framework itself
and recorded from that report (``connections/native.py``).
"""

from __future__ import annotations

from typing import Any

from opentelemetry.instrumentation.livekit_agents.instrumentors.connections.first_response import (
    first_response_timing,
)
from opentelemetry.instrumentation.livekit_agents.instrumentors.connections.owners import linker
from opentelemetry.instrumentation.livekit_agents.provider_instrumentor import (
    PatchTarget,
    ProviderInstrumentor,
)


def _channel(service: Any) -> object:
    """The gRPC channel a Riva service calls on (its ``Auth`` made it)."""
    return getattr(getattr(service, "auth", None), "channel", None) or service


_timed = first_response_timing(_channel)


class NvidiaInstrumentor(ProviderInstrumentor):
    """Times the NVIDIA Riva STT and TTS streaming gRPC calls."""

    provider = "nvidia"
    targets = (
        PatchTarget(
            "livekit.plugins.nvidia.stt",
            "SpeechStream.__init__",
            linker("_asr_service", owner="_stt"),
        ),
        PatchTarget("livekit.plugins.nvidia.tts", "TTS._ensure_session", linker("_tts_service")),
        PatchTarget("riva.client.asr", "ASRService.streaming_response_generator", _timed),
        PatchTarget("riva.client.tts", "SpeechSynthesisService.synthesize_online", _timed),
    )
