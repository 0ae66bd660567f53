"""Inworld: the TTS's shared websocket, which every stream waits for.

Each stream (and ``prewarm()``) calls ``_InworldConnection.connect`` on the
TTS's one connection.  From 1.8 the first call starts the handshake in a task
of its own (``_connect``) and every call waits for that task, so an
acquisition is reused unless it started a ``_connect``; up to 1.7 ``connect``
is the handshake itself, called for every stream, and returns at once once
the connection is open (the transport patch marks the one that connects).
The handshake inside is not timed again.  Usage::

    from opentelemetry.instrumentation.livekit_agents.instrumentors.inworld import (
        InworldInstrumentor,
    )

    InworldInstrumentor().instrument()

or entry point ``livekit_agents_inworld`` (``AgentsInstrumentor`` runs it).

``_connect`` swallows a failed handshake: it hands an ``APIConnectionError`` to
the streams through ``_handle_connection_error`` and returns, so the error
being handled there is noted on the acquisition, which then records it.
"""

from __future__ import annotations

import sys
from typing import Any, Callable

from opentelemetry.instrumentation.livekit_agents.instrumentors.connections.acquisition import (
    Wrapper,
    acquire_wrapper,
    current_acquisition,
)
from opentelemetry.instrumentation.livekit_agents.instrumentors.connections.handshake_owner import (
    calling_component,
    component_classes,
    owning_component,
)
from opentelemetry.instrumentation.livekit_agents.instrumentors.connections.owners import (
    component_of,
    link,
    linked_component,
)
from opentelemetry.instrumentation.livekit_agents.model_identity import ModelIdentity, identify
from opentelemetry.instrumentation.livekit_agents.provider_instrumentor import (
    PatchTarget,
    ProviderInstrumentor,
    marks_new_connection,
)
from opentelemetry.instrumentation.livekit_agents.recorder import Recorder

_TTS = "livekit.plugins.inworld.tts"


def _identity(connection: object) -> ModelIdentity:
    return identify(component_of(connection))


def _shared_connection(recorder: Recorder) -> Wrapper:
    """Times ``connect`` for the TTS whose code calls it.

    The connection object knows no model; the stream or TTS that first asks for
    it (a calling frame) is linked to it, on every release's shape."""
    classes = component_classes()
    timed = acquire_wrapper(recorder, _identity, may_reuse=True)

    def wrapper(wrapped: Callable[..., Any], instance: Any, args: Any, kwargs: Any) -> Any:
        try:
            if linked_component(instance) is None:
                component = calling_component(sys._getframe(1), classes)
                if component is not None:
                    link(instance, owning_component(component))
        except Exception:  # unattributed (model "unknown"), never the host's problem
            pass
        return timed(wrapped, instance, args, kwargs)

    return wrapper


def _notes_failure(recorder: Recorder) -> Wrapper:
    def wrapper(wrapped: Callable[..., Any], instance: Any, args: Any, kwargs: Any) -> Any:
        acquisition = current_acquisition()
        # only a failed handshake (no websocket yet): the send and receive loops, which
        # inherit the context of the acquisition that connected, call it too
        if acquisition is not None and getattr(instance, "_ws", None) is None:
            # called synchronously inside _connect's `except` block: the handshake's
            # own error is the one being handled, the argument a fresh wrapper of it
            handled = sys.exc_info()[1]
            given = args[0] if args and isinstance(args[0], BaseException) else None
            acquisition.failure = handled or given
        return wrapped(*args, **kwargs)

    return wrapper


class InworldInstrumentor(ProviderInstrumentor):
    """Times the inworld TTS's acquisitions of its shared connection, new or reused."""

    provider = "inworld"
    targets = (
        # the acquisition on every release with a websocket TTS (1.5+; HTTP-only at 1.2)
        PatchTarget(_TTS, "_InworldConnection.connect", _shared_connection),
        # 1.8+: the handshake task that connect starts, and its swallowed failure (up to
        # 1.7 only the loops call _handle_connection_error, with a websocket: a no-op)
        PatchTarget(_TTS, "_InworldConnection._connect", marks_new_connection),
        PatchTarget(_TTS, "_InworldConnection._handle_connection_error", _notes_failure),
    )
