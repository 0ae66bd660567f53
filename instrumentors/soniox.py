"""Soniox: the TTS's one shared websocket, handed to every stream while it is current.

Each stream (and ``prewarm()``) asks ``TTS._current_connection`` for the
connection; that call opens one (``_Connection.connect``, inside
``asyncio.wait_for``) only when there is none, so an acquisition is reused
unless a ``_Connection.connect`` runs inside it.  The handshake inside is not
timed again: the transport patch only marks the acquisition as new.  Usage::

    from opentelemetry.instrumentation.livekit_agents.instrumentors.soniox import (
        SonioxInstrumentor,
    )

    SonioxInstrumentor().instrument()

or entry point ``livekit_agents_soniox`` (``AgentsInstrumentor`` runs it).

The framework (1.5.2+) also reports the plugin's own acquire time on the
stream's ``TTSMetrics``: a new connection's report spends the credit our point
left (``connections/native.py``), and a reuse reports ``acquire_time=0.0``,
which is no report at all, so each acquisition stays one point.
"""

from __future__ import annotations

from opentelemetry.instrumentation.livekit_agents.provider_instrumentor import (
    PatchTarget,
    ProviderInstrumentor,
    marks_new_connection,
    timed_connect,
)

_TTS = "livekit.plugins.soniox.tts"


class SonioxInstrumentor(ProviderInstrumentor):
    """Times the soniox TTS's acquisitions of its shared connection, new or reused."""

    provider = "soniox"
    targets = (
        # both since the TTS's first release, 1.5 (there is no TTS in 1.2.18)
        PatchTarget(_TTS, "TTS._current_connection", timed_connect(may_reuse=True)),
        PatchTarget(_TTS, "_Connection.connect", marks_new_connection),
    )
