"""Times every ``ConnectionPool`` acquisition into ``lk.agents.connection.acquire_time``.

``get()`` is wrapped (``connection()`` calls it), so each acquisition is
measured by its own caller: concurrent acquisitions never share state, and a
reused connection is recorded with its real wait (the framework records none).
``_connect()`` is wrapped only to learn, through a context variable local to
the acquiring task, whether this acquisition opened a new connection; a
prewarm connects outside any acquisition and is not recorded.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any, Callable

from opentelemetry.instrumentation.utils import unwrap
from wrapt import wrap_function_wrapper

from opentelemetry.instrumentation.livekit_agents.instrumentors.connections.acquisition import (
    Wrapper,
    acquire_wrapper,
    connect_wrapper,
)
from opentelemetry.instrumentation.livekit_agents.instrumentors.connections.openers import (
    current_opener,
)
from opentelemetry.instrumentation.livekit_agents.instrumentors.connections.owners import (
    closure_owner,
    component_of,
)
from opentelemetry.instrumentation.livekit_agents.model_identity import (
    ModelIdentity,
    identify,
    identify_module,
)

if TYPE_CHECKING:
    from opentelemetry.instrumentation.livekit_agents.recorder import Recorder

_MODULE = "livekit.agents.utils.connection_pool"


class PoolTiming:
    """Times every ``ConnectionPool`` acquisition."""

    def instrument(self, recorder: Recorder) -> None:
        """Patch ``ConnectionPool.get`` and ``ConnectionPool._connect``."""
        wrap_function_wrapper(_MODULE, "ConnectionPool.get", _pool_get(recorder))
        wrap_function_wrapper(_MODULE, "ConnectionPool._connect", connect_wrapper)

    def uninstrument(self) -> None:
        """Restore the original methods."""
        from livekit.agents.utils.connection_pool import ConnectionPool

        unwrap(ConnectionPool, "get")
        unwrap(ConnectionPool, "_connect")


def _pool_get(recorder: Recorder) -> Wrapper:
    timed = acquire_wrapper(recorder, pool_identity, may_reuse=True)

    async def wrapper(wrapped: Callable[..., Any], instance: Any, args: Any, kwargs: Any) -> Any:
        if current_opener() is not None:
            # a pool of SDK clients inside a stream whose SDK call we time (openers.py)
            return await wrapped(*args, **kwargs)
        return await timed(wrapped, instance, args, kwargs)

    return wrapper


def pool_identity(pool: object) -> ModelIdentity:
    """The model of the pool's owner: the component whose bound method connects (or
    the component linked to the helper whose method it is), or the component a
    closure connects for (see :mod:`.owners`)."""
    callback = getattr(pool, "_connect_cb", None)
    while isinstance(callback, functools.partial):
        callback = callback.func
    owner = getattr(callback, "__self__", None)
    if owner is not None:
        return identify(component_of(owner))
    owner = closure_owner(callback) if callback is not None else None
    if owner is not None:
        return identify(owner)
    module = getattr(callback, "__module__", None) or type(pool).__module__
    return identify_module(module)
