"""Google: the streaming STT and TTS gRPC streams, timed to the stream being open.

Google STT's ``ConnectionPool`` hands out gRPC *client objects* (its connect
callback does no network I/O), so a pool acquisition is not a connection.  The
connection is the streaming call: ``await client.streaming_recognize(...)``
(and ``streaming_synthesize`` for the TTS) returns once google-api-core's
``wait_for_connection()`` has the server's initial metadata, i.e. once the
HTTP/2 stream is open (and, for a fresh channel, the TCP/TLS connection made).
While the plugin's stream runs (the *opener*, ``connections/openers.py``) that
SDK call is timed as the component's acquisition, and its pool acquisition and
the framework's native report of it are not recorded.  Usage::

    from opentelemetry.instrumentation.livekit_agents.instrumentors.google import (
        GoogleInstrumentor,
    )

    GoogleInstrumentor().instrument()

or entry point ``livekit_agents_google`` (``AgentsInstrumentor`` runs it).  The
realtime model (Gemini Live) is reported by the framework itself (1.5.2+) and
recorded from that report (``connections/native.py``).
"""

from __future__ import annotations

from opentelemetry.instrumentation.livekit_agents.instrumentors.connections.openers import (
    opener,
    sdk_stream_open,
)
from opentelemetry.instrumentation.livekit_agents.provider_instrumentor import (
    PatchTarget,
    ProviderInstrumentor,
)

_SPEECH = "google.cloud.speech_{}.services.speech.async_client"
_TTS_CLIENT = "google.cloud.texttospeech_v1.services.text_to_speech.async_client"


class GoogleInstrumentor(ProviderInstrumentor):
    """Times the google STT and TTS streaming gRPC calls."""

    provider = "google"
    targets = (
        PatchTarget("livekit.plugins.google.stt", "SpeechStream._run", opener("_stt")),
        PatchTarget("livekit.plugins.google.tts", "SynthesizeStream._run_stream", opener("_tts")),
        PatchTarget(_SPEECH.format("v1"), "SpeechAsyncClient.streaming_recognize", sdk_stream_open),
        PatchTarget(_SPEECH.format("v2"), "SpeechAsyncClient.streaming_recognize", sdk_stream_open),
        PatchTarget(_TTS_CLIENT, "TextToSpeechAsyncClient.streaming_synthesize", sdk_stream_open),
    )
