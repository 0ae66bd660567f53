"""ElevenLabs: the TTS's own shared websocket and the realtime STT websocket.

The TTS keeps one connection and hands it to every stream while it is
current, so an acquisition is reused unless a ``_Connection.connect`` runs
inside it.  Usage::

    from opentelemetry.instrumentation.livekit_agents.instrumentors.elevenlabs import (
        ElevenLabsInstrumentor,
    )

    ElevenLabsInstrumentor().instrument()

or entry point ``livekit_agents_elevenlabs`` (``AgentsInstrumentor`` runs it).
"""

from __future__ import annotations

from opentelemetry.instrumentation.livekit_agents.provider_instrumentor import (
    PatchTarget,
    ProviderInstrumentor,
    marks_new_connection,
    timed_connect,
)

_TTS = "livekit.plugins.elevenlabs.tts"
_SHARED_CONNECTION = timed_connect(may_reuse=True)


class ElevenLabsInstrumentor(ProviderInstrumentor):
    """Times the elevenlabs TTS connection acquisitions and STT websockets."""

    provider = "elevenlabs"
    targets = (
        # public up to 1.4, private (returning the plugin's own timing) from 1.5
        PatchTarget(_TTS, "TTS.current_connection", _SHARED_CONNECTION),
        PatchTarget(_TTS, "TTS._current_connection", _SHARED_CONNECTION),
        PatchTarget(_TTS, "_Connection.connect", marks_new_connection),
        PatchTarget(
            "livekit.plugins.elevenlabs.stt", "SpeechStream._connect_ws", timed_connect("_stt")
        ),
    )
