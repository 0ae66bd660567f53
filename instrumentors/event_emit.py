"""The one patch of ``rtc.EventEmitter.emit``, shared by the aspects that read events.

Components emit their usage, and sessions their turns, as ``rtc.EventEmitter``
events on every livekit-agents release.  Instead of subscribing listeners, each
aspect routes the event names it reads to a callback ``(emitter, arg) -> None``
that this patch calls before the framework's own listeners: the framework runs
``inspect.signature()`` on every listener for every event, where a direct call
costs a dict look-up.

Every event of every emitter in the process passes through the patch, so it is
a plain function rather than a wrapt wrapper, which binds a new wrapper object
on each ``emitter.emit`` access (docs/performance.md).  ``__wrapped__`` is the
original, as with wrapt.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:
    from opentelemetry.instrumentation.livekit_agents.recorder import Recorder

_logger = logging.getLogger(__name__)
_DROPPED = "livekit-agents instrumentation dropped an event"

Route = Callable[[Any, Any], None]
"""Called with the emitter and the event's argument, before the framework's listeners;
an exception it raises is logged at debug level and goes no further."""


class EventEmitPatch:
    """The ``EventEmitter.emit`` patch (an aspect) and the routes it calls.

    ``instrument()`` patches ``emit``; the aspects that read events then
    ``route()`` their event names to it, and ``uninstrument()`` restores ``emit``
    and forgets every route.
    """

    def __init__(self) -> None:
        self._routes: dict[str, tuple[Route, ...]] = {}
        self._dispatch: dict[str, Route] = {}
        """What the patch calls per event name: its one route (nearly always), or a fan-out."""
        self._original: Callable[..., Any] | None = None
        self._patched: Callable[..., Any] | None = None

    def instrument(self, recorder: Recorder | None = None) -> None:
        """Patch ``EventEmitter.emit`` to call the routes (it records nothing itself)."""
        from livekit.rtc.event_emitter import EventEmitter

        if self._patched is None:
            self._original = EventEmitter.__dict__["emit"]
            self._patched = _patched_emit(self._original, self._dispatch)
            EventEmitter.emit = self._patched  # type: ignore[method-assign]

    def uninstrument(self) -> None:
        """Restore ``EventEmitter.emit`` and forget every route."""
        from livekit.rtc.event_emitter import EventEmitter

        patched, self._patched = self._patched, None
        # another patch applied over ours since stays, and calls ours with no routes
        if patched is not None and EventEmitter.__dict__.get("emit") is patched:
            EventEmitter.emit = self._original  # type: ignore[assignment,method-assign]
        self._routes.clear()
        self._dispatch.clear()

    def route(self, event: str, callback: Route) -> None:
        """Call ``callback(emitter, arg)`` on every ``emitter.emit(event, arg)``."""
        self.set_routes(event, (*self._routes.get(event, ()), callback))

    def unroute(self, event: str, callback: Route) -> None:
        """Stop calling ``callback`` for ``event``."""
        self.set_routes(event, tuple(c for c in self._routes.get(event, ()) if c is not callback))

    @property
    def routes(self) -> Mapping[str, tuple[Route, ...]]:
        """Each routed event name and its callbacks, in the order they are called (a copy)."""
        return dict(self._routes)

    def set_routes(self, event: str, callbacks: tuple[Route, ...]) -> None:
        """Replace the routes of ``event`` (none: stop routing it); what the patch calls
        for it is set with them, so the two never drift.  Benchmarks wrap the routes
        through this to time them."""
        if callbacks:
            self._routes[event] = callbacks
            self._dispatch[event] = _one_call(callbacks)
        else:
            self._routes.pop(event, None)
            self._dispatch.pop(event, None)


def _one_call(callbacks: tuple[Route, ...]) -> Route:
    """One route as it is; several behind one that calls each, guarded alone."""
    if len(callbacks) == 1:
        return callbacks[0]

    def fan_out(emitter: Any, arg: Any) -> None:
        for callback in callbacks:
            try:
                callback(emitter, arg)
            except Exception:
                _logger.debug(_DROPPED, exc_info=True)

    return fan_out


def _patched_emit(original: Callable[..., Any], dispatch: dict[str, Route]) -> Callable[..., Any]:
    @functools.wraps(original)
    # EventEmitter.emit(event, *args) takes no keywords: none to pass on (a dict
    # built on every event of every emitter otherwise)
    def emit(emitter: Any, event: Any, *args: Any) -> Any:
        try:
            callback = dispatch.get(event)
        except TypeError:  # an unhashable event name is none of ours
            callback = None
        if callback is not None and args:
            try:
                callback(emitter, args[0])
            except Exception:
                _logger.debug(_DROPPED, exc_info=True)
            except BaseException as error:  # the listeners still get the event
                return _emit_despite(error, original, emitter, event, args)
        return original(emitter, event, *args)

    return emit


def _emit_despite(
    error: BaseException, original: Callable[..., Any], emitter: Any, event: Any, args: Any
) -> Any:
    """The framework's ``emit`` after a route raised a ``BaseException``.

    A ``KeyboardInterrupt`` (a signal) or ``SystemExit`` (``sys.exit()`` in a signal
    handler) belongs to the host, whatever code it happened to interrupt: it goes on
    once the listeners had the event.  Any other came from reading the event for us
    (a plugin's property): dropped, as our own exceptions are.
    """
    if not isinstance(error, (KeyboardInterrupt, SystemExit)):
        _logger.debug(_DROPPED, exc_info=error)
        return original(emitter, event, *args)
    try:
        original(emitter, event, *args)
    finally:
        raise error
