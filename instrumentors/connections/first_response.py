"""Synchronous streaming calls of an SDK client, timed to the server's first response.

Some plugins call a synchronous gRPC SDK from a worker thread of their own
(NVIDIA Riva's ``streaming_response_generator`` and ``synthesize_online``).
No task context reaches that thread, so the component is found through the
SDK client object instead: the plugin's code that builds or caches the client
links it to its component (:func:`.owners.linker`), and a call on a client that
no component owns (a user's own) passes through untouched.

Such a call returns its iterator of responses at once; gRPC connects the
channel and starts the stream only when the iterator is first advanced.  The
acquisition lasts from the call until the iterator yields its first response,
ends, or raises.  The iterator is handed back behind a transparent proxy, so
the caller gets the same responses, the same exceptions and the same object
(a gRPC call object keeps ``cancel()``, ``code()`` and the rest).

A gRPC channel keeps its connection for the calls that follow: a call on a
channel that an earlier call already used is a reused connection.  A call
that fails before its first response leaves the channel unused, so the next
call, which connects again, is new.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
import weakref
from typing import TYPE_CHECKING, Any, Callable

from wrapt import ObjectProxy

from opentelemetry.instrumentation.livekit_agents.instrumentors.connections.acquisition import (
    Acquisition,
    Wrapper,
    record_acquisition,
)
from opentelemetry.instrumentation.livekit_agents.instrumentors.connections.owners import (
    linked_component,
)
from opentelemetry.instrumentation.livekit_agents.model_identity import identify
from opentelemetry.instrumentation.livekit_agents.otel_context import current_context

if TYPE_CHECKING:
    from opentelemetry.instrumentation.livekit_agents.recorder import Recorder

_logger = logging.getLogger(__name__)

_used: weakref.WeakSet[object] = weakref.WeakSet()
"""The channels a call has used: they hold a connection (neither kept alive here)."""
_lock = threading.Lock()  # worker threads of several streams share a TTS's channel


def first_response_timing(channel_of: Callable[[Any], object]) -> Callable[[Recorder], Wrapper]:
    """A wrapper factory for a synchronous SDK method that returns an iterator of
    server responses; ``channel_of(client)`` is the connection the call runs on."""

    def factory(recorder: Recorder) -> Wrapper:
        def wrapper(wrapped: Callable[..., Any], instance: Any, args: Any, kwargs: Any) -> Any:
            pending = _start(recorder, instance, channel_of)
            if pending is None:
                return wrapped(*args, **kwargs)
            try:
                responses = wrapped(*args, **kwargs)
            except BaseException as error:
                pending.finish(error)
                raise
            return pending.watch(responses)

        return wrapper

    return factory


class _PendingCall:
    """One call from its start until its first response."""

    __slots__ = ("acquisition", "channel", "recorder", "start")

    def __init__(self, recorder: Recorder, acquisition: Acquisition, channel: object) -> None:
        self.recorder = recorder
        self.acquisition = acquisition
        self.channel = channel
        self.start = time.perf_counter()

    def watch(self, responses: Any) -> Any:
        """``responses`` behind a proxy that finishes this call at its first response."""
        try:
            if hasattr(type(responses), "__next__"):
                return FirstResponse(responses, self)
        except Exception:
            _logger.debug("livekit-agents instrumentation dropped a stream", exc_info=True)
        self._release_if_new()  # not an iterator: nothing to time, nothing recorded
        return responses

    def finish(self, error: BaseException | None) -> None:
        """Record the acquisition; a failed first call leaves its channel unused."""
        seconds = time.perf_counter() - self.start
        if error is not None:
            self._release_if_new()
        record_acquisition(self.recorder, identify, self.acquisition, seconds, error)

    def _release_if_new(self) -> None:
        # the call that claimed the channel did not connect it: the next call will.
        # A failed call on a used channel (an error status) leaves it used.
        if self.acquisition.connected:
            _release(self.channel)


if TYPE_CHECKING:  # wrapt's stubs make the proxy generic; its runtime class is not
    _Proxy = ObjectProxy[Any]
else:
    _Proxy = ObjectProxy


class FirstResponse(_Proxy):
    """The call's response iterator, unchanged but for noting its first response."""

    def __init__(self, responses: Any, pending: _PendingCall) -> None:
        super().__init__(responses)
        self._self_pending: _PendingCall | None = pending

    def __iter__(self) -> FirstResponse:
        return self

    def __next__(self) -> Any:
        pending = self._self_pending
        if pending is None:
            return next(self.__wrapped__)
        self._self_pending = None
        try:
            response = next(self.__wrapped__)
        except StopIteration:  # the server ended the call: it answered
            pending.finish(None)
            raise
        except BaseException as error:
            pending.finish(error)
            raise
        pending.finish(None)
        return response


def _start(
    recorder: Recorder, client: object, channel_of: Callable[[Any], object]
) -> _PendingCall | None:
    """The timing of a call on ``client``, or None when it is not a component's."""
    try:
        component = linked_component(client)
        if component is None:
            return None
        context = current_context()
        if context is None:  # suppressed instrumentation
            return None
        channel = channel_of(client)
        reused = _claim(channel)
        return _PendingCall(recorder, Acquisition(component, not reused, context), channel)
    except Exception:
        _logger.debug("livekit-agents instrumentation dropped a stream", exc_info=True)
        return None


def _claim(channel: object) -> bool:
    """True when an earlier call used ``channel``; else it is this call's, now."""
    with _lock:
        try:
            if channel in _used:
                return True
            _used.add(channel)
        except TypeError:  # not weak-referenceable: every call counts as new
            pass
        return False


def _release(channel: object) -> None:
    with _lock, contextlib.suppress(TypeError):
        _used.discard(channel)
