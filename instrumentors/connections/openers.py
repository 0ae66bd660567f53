"""Connections opened by a provider SDK's call, inside a component's stream.

Some plugins open their connection through an SDK call that knows nothing of
the component (Google's gRPC ``streaming_recognize`` / ``streaming_synthesize``).
The component's stream method is wrapped as the *opener*: while it runs, in its
task, a context variable names the component, and the SDK call is timed as an
acquisition of that component.  The same SDK call made outside any opener (a
user's own client) is never recorded.

While an opener runs, the component's other reports stand down: its
``ConnectionPool`` hands out client objects, not connections (not a point), and
the framework's native report of that pool acquisition is not one either
(:mod:`.native`).
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, Callable

from opentelemetry.instrumentation.livekit_agents.instrumentors.connections.acquisition import (
    Wrapper,
    acquire_wrapper,
)
from opentelemetry.instrumentation.livekit_agents.model_identity import ModelIdentity, identify

if TYPE_CHECKING:
    from opentelemetry.instrumentation.livekit_agents.recorder import Recorder

_opener: ContextVar[object | None] = ContextVar("livekit_agents_opener", default=None)


def current_opener() -> object | None:
    """The component whose stream is opening SDK connections in this task, if any."""
    return _opener.get()


def opener(owner_attribute: str) -> Callable[[Recorder], Wrapper]:
    """A wrapper factory for a stream method that opens SDK connections for the
    component in its ``owner_attribute`` (``_stt``, ``_tts``)."""

    def factory(recorder: Recorder) -> Wrapper:
        async def wrapper(
            wrapped: Callable[..., Any], instance: Any, args: Any, kwargs: Any
        ) -> Any:
            token = _opener.set(getattr(instance, owner_attribute, None) or instance)
            try:
                return await wrapped(*args, **kwargs)
            finally:
                _opener.reset(token)

        return wrapper

    return factory


def _opener_identity(client: object) -> ModelIdentity:
    return identify(_opener.get() or client)


def sdk_stream_open(recorder: Recorder) -> Wrapper:
    """A wrapper factory for the SDK call that opens the stream: timed when an
    opener runs, passed through otherwise."""
    timed = acquire_wrapper(recorder, _opener_identity, may_reuse=False)

    async def wrapper(wrapped: Callable[..., Any], instance: Any, args: Any, kwargs: Any) -> Any:
        if _opener.get() is None:
            return await wrapped(*args, **kwargs)
        return await timed(wrapped, instance, args, kwargs)

    return wrapper
