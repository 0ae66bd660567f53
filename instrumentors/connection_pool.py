"""Times every ``ConnectionPool`` acquisition into ``lk.agents.connection.acquire_time``.

``get()`` is wrapped (``connection()`` calls it), so each acquisition is
measured by its own caller: concurrent acquisitions never share state, and a
reused connection is recorded with its real wait (the framework records none).
``_connect()`` is wrapped only to learn, through a context variable local to
the acquiring task, whether this acquisition opened a new connection.
"""

from __future__ import annotations

import functools
import time
from contextvars import ContextVar
from typing import Any, Callable

from opentelemetry.instrumentation.utils import is_instrumentation_enabled, unwrap
from wrapt import wrap_function_wrapper

from opentelemetry.instrumentation.livekit_agents.model_identity import (
    ModelIdentity,
    identify,
    identify_module,
)
from opentelemetry.instrumentation.livekit_agents.recorder import Recorder, never_raises

_MODULE = "livekit.agents.utils.connection_pool"


class _Acquisition:
    """One ``get()`` call in progress."""

    __slots__ = ("connected", "pool")

    def __init__(self, pool: object) -> None:
        self.pool = pool
        self.connected = False


_current_acquisition: ContextVar[_Acquisition | None] = ContextVar(
    "livekit_agents_acquisition", default=None
)


def instrument(recorder: Recorder) -> None:
    """Patch ``ConnectionPool.get`` and ``ConnectionPool._connect``."""
    wrap_function_wrapper(_MODULE, "ConnectionPool.get", _get_wrapper(recorder))
    wrap_function_wrapper(_MODULE, "ConnectionPool._connect", _connect_wrapper)


def uninstrument() -> None:
    """Restore the original methods."""
    from livekit.agents.utils.connection_pool import ConnectionPool

    unwrap(ConnectionPool, "get")
    unwrap(ConnectionPool, "_connect")


def _get_wrapper(recorder: Recorder) -> Callable[..., Any]:
    async def wrapper(wrapped: Callable[..., Any], pool: Any, args: Any, kwargs: Any) -> Any:
        if not is_instrumentation_enabled():
            return await wrapped(*args, **kwargs)
        acquisition = _Acquisition(pool)
        token = _current_acquisition.set(acquisition)
        start = time.perf_counter()
        try:
            connection = await wrapped(*args, **kwargs)
        except BaseException as error:
            _record(recorder, acquisition, time.perf_counter() - start, error)
            raise
        finally:
            _current_acquisition.reset(token)
        _record(recorder, acquisition, time.perf_counter() - start, None)
        return connection

    return wrapper


async def _connect_wrapper(wrapped: Callable[..., Any], pool: Any, args: Any, kwargs: Any) -> Any:
    acquisition = _current_acquisition.get()
    if acquisition is not None and acquisition.pool is pool:
        acquisition.connected = True
    return await wrapped(*args, **kwargs)


@never_raises
def _record(
    recorder: Recorder, acquisition: _Acquisition, seconds: float, error: BaseException | None
) -> None:
    identity = pool_identity(acquisition.pool)
    recorder.record_acquire_time(identity, seconds, not acquisition.connected, error)


def pool_identity(pool: object) -> ModelIdentity:
    """The model of the pool's owner: the component whose bound method connects."""
    callback = getattr(pool, "_connect_cb", None)
    while isinstance(callback, functools.partial):
        callback = callback.func
    owner = getattr(callback, "__self__", None)
    if owner is not None:
        return identify(owner)
    module = getattr(callback, "__module__", None) or type(pool).__module__
    return identify_module(module)
