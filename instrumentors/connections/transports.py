"""Times websocket handshakes where they are made: in ``aiohttp`` and ``websockets``.

Nearly every plugin and provider SDK opens its streaming connection with
``aiohttp.ClientSession.ws_connect`` or the ``websockets`` client, so timing
the handshake there covers plugins no provider module knows about.  Each
handshake is attributed to the model component whose code opened it
(:mod:`.handshake_owner`); a handshake that belongs to none (the worker's
connection to the LiveKit server, anything else) passes through untouched and
is never recorded.

A handshake inside an acquisition already being timed (a ``ConnectionPool``
acquisition, a provider module's connect method) only marks that acquisition
as new: it is one point, recorded by the outer acquisition.

The patches are applied when their module is imported (post-import hooks), so
``websockets`` is never imported by us.
"""

from __future__ import annotations

import logging
import sys
import time
import weakref
from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any, Callable

from opentelemetry.instrumentation.livekit_agents.instrumentors.connections.acquisition import (
    Wrapper,
    current_acquisition,
)
from opentelemetry.instrumentation.livekit_agents.instrumentors.connections.handshake_owner import (
    component_classes,
    component_of_handshake,
    owning_component,
)
from opentelemetry.instrumentation.livekit_agents.instrumentors.connections.hooked_patches import (
    HookedPatches,
    HookedTarget,
)
from opentelemetry.instrumentation.livekit_agents.model_identity import identify
from opentelemetry.instrumentation.livekit_agents.otel_context import current_context

if TYPE_CHECKING:
    from opentelemetry.instrumentation.livekit_agents.recorder import Recorder

_logger = logging.getLogger(__name__)

AIOHTTP = ("aiohttp.client", "ClientSession._ws_connect")
"""Called synchronously by ``ws_connect`` in the caller's frame; returns the handshake."""

WEBSOCKETS = (
    # the asyncio client (13.0+): handshake in ``__await_impl__`` up to 15.x, ``connect`` from 16
    ("websockets.asyncio.client", "connect"),
    ("websockets.legacy.client", "Connect"),
)
"""The ``websockets`` client classes: built in the caller's frame, awaited later."""

AWAIT_METHODS = ("__await_impl__", "connect")
"""The coroutine method of a ``websockets`` client class that performs the handshake."""


def ws_connect_wrapper(recorder: Recorder, classes: tuple[type, ...]) -> Wrapper:
    """A wrapt wrapper for ``ClientSession._ws_connect``.

    The caller is looked up when the coroutine is made, in the caller's own frame:
    ``asyncio.wait_for`` (3.11) runs the coroutine in a task of its own, whose
    frames would no longer reach the component.  A handshake that is not a
    component's gets its original coroutine back, untouched.
    """

    def wrapper(wrapped: Callable[..., Any], instance: Any, args: Any, kwargs: Any) -> Any:
        acquisition = current_acquisition()
        if acquisition is not None:  # the enclosing acquisition records it
            acquisition.connected = True
            return wrapped(*args, **kwargs)
        component = component_of_handshake(sys._getframe(1), classes)
        if component is None:
            return wrapped(*args, **kwargs)
        return timed(recorder, component, wrapped(*args, **kwargs))

    return wrapper


def client_init_wrapper(
    classes: tuple[type, ...], openers: weakref.WeakKeyDictionary[Any, object]
) -> Wrapper:
    """A wrapt wrapper for a ``websockets`` client's ``__init__``: notes the component
    whose frame builds it (the handshake may run in another task)."""

    def wrapper(wrapped: Callable[..., Any], instance: Any, args: Any, kwargs: Any) -> Any:
        wrapped(*args, **kwargs)
        if current_acquisition() is None:
            component = component_of_handshake(sys._getframe(1), classes)
            if component is not None:
                openers[instance] = component

    return wrapper


def client_await_wrapper(
    recorder: Recorder, openers: weakref.WeakKeyDictionary[Any, object]
) -> Wrapper:
    """A wrapt wrapper for a ``websockets`` client's handshake coroutine method."""

    def wrapper(wrapped: Callable[..., Any], instance: Any, args: Any, kwargs: Any) -> Any:
        acquisition = current_acquisition()
        if acquisition is not None:
            acquisition.connected = True
            return wrapped(*args, **kwargs)
        component = openers.get(instance)
        if component is None:
            return wrapped(*args, **kwargs)
        return timed(recorder, component, wrapped(*args, **kwargs))

    return wrapper


async def timed(recorder: Recorder, component: object, handshake: Awaitable[Any]) -> Any:
    """Await the handshake and record its duration for ``component``."""
    context = current_context()
    if context is None:  # suppressed instrumentation
        return await handshake
    start = time.perf_counter()
    try:
        connection = await handshake
    except BaseException as error:
        _record(recorder, component, time.perf_counter() - start, error, context)
        raise
    _record(recorder, component, time.perf_counter() - start, None, context)
    return connection


def _record(
    recorder: Recorder,
    component: object,
    seconds: float,
    error: BaseException | None,
    context: Any,
) -> None:
    try:
        identity = identify(owning_component(component))
        recorder.record_acquire_time(identity, seconds, False, error, context)
    except Exception:
        _logger.debug("livekit-agents instrumentation dropped a handshake", exc_info=True)


class TransportTiming:
    """Times the websocket handshakes of ``aiohttp`` and ``websockets``."""

    def __init__(self) -> None:
        self._patches: HookedPatches | None = None

    def instrument(self, recorder: Recorder) -> None:
        """Patch each client when (or if already) its module is imported."""
        classes = component_classes()
        openers: weakref.WeakKeyDictionary[Any, object] = weakref.WeakKeyDictionary()
        built = client_init_wrapper(classes, openers)
        awaited = client_await_wrapper(recorder, openers)
        targets = [HookedTarget(*AIOHTTP, lambda _: ws_connect_wrapper(recorder, classes))]
        for module, cls in WEBSOCKETS:
            targets.append(HookedTarget(module, f"{cls}.__init__", lambda _: built))
            targets += [
                HookedTarget(module, f"{cls}.{m}", lambda _: awaited) for m in AWAIT_METHODS
            ]
        self._patches = HookedPatches(targets)
        self._patches.instrument(recorder)

    def uninstrument(self) -> None:
        """Restore every patched handshake; hooks still pending become no-ops."""
        if self._patches is not None:
            self._patches.uninstrument()
            self._patches = None
