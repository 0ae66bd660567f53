"""The one patch of ``rtc.EventEmitter.emit``, shared by the aspects that read events.

Components emit their usage, and sessions their turns, as ``rtc.EventEmitter``
events on every livekit-agents release.  Instead of subscribing listeners, each
aspect routes the event names it reads to a callback ``(emitter, arg) -> None``
that this patch calls before the framework's own listeners: the framework runs
``inspect.signature()`` on every listener for every event (~3 us on a slow
core), a direct call costs a dict look-up.

Every event of every emitter in the process passes through the patch, so it is
a plain function rather than a wrapt wrapper: wrapt binds a new wrapper object
on each ``emitter.emit`` access (~1.5 us against ~0.4 us).  ``__wrapped__`` is
the original, as with wrapt.  The patch is installed with the first route and
removed with the last.
"""

from __future__ import annotations

import functools
import logging
from typing import Any, Callable

_logger = logging.getLogger(__name__)
_DROPPED = "livekit-agents instrumentation dropped an event"

Route = Callable[[Any, Any], None]
"""Called with the emitter and the event's argument, before the framework's listeners;
an exception it raises is logged at debug level and goes no further."""

_PATCH_MARK = "_otel_livekit_agents_patch"
_routes: dict[str, tuple[Route, ...]] = {}
_dispatch: dict[str, Route] = {}
"""What the patch calls per event name: its one route (nearly always), or a fan-out."""


def route(event: str, callback: Route) -> None:
    """Call ``callback(emitter, arg)`` on every ``emitter.emit(event, arg)``."""
    _set_routes(event, (*_routes.get(event, ()), callback))
    _patch()


def unroute(event: str, callback: Route) -> None:
    """Stop calling ``callback``; restore ``emit`` once no route is left."""
    _set_routes(event, tuple(c for c in _routes.get(event, ()) if c is not callback))
    if not _routes:
        _unpatch()


def _set_routes(event: str, callbacks: tuple[Route, ...]) -> None:
    """The routes of ``event``, and what the patch calls for it, kept together."""
    if callbacks:
        _routes[event] = callbacks
        _dispatch[event] = _one_call(callbacks)
    else:
        _routes.pop(event, None)
        _dispatch.pop(event, None)


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


def _patch() -> None:
    from livekit.rtc.event_emitter import EventEmitter

    original = EventEmitter.__dict__["emit"]
    if not getattr(original, _PATCH_MARK, False):
        EventEmitter.emit = _patched_emit(original)  # type: ignore[method-assign]


def _unpatch() -> None:
    from livekit.rtc.event_emitter import EventEmitter

    patched = EventEmitter.__dict__.get("emit")
    if getattr(patched, _PATCH_MARK, False):
        EventEmitter.emit = patched.__wrapped__  # type: ignore[method-assign,union-attr]


def _patched_emit(original: Callable[..., Any]) -> Callable[..., Any]:
    dispatch = _dispatch

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
        return original(emitter, event, *args)

    setattr(emit, _PATCH_MARK, True)
    return emit
