"""Timing connection acquisitions, per call.

One wrapper shape serves every patch point that hands out a connection: the
framework's ``ConnectionPool.get`` and the plugins' own connect methods.  Each
call is timed by its own caller, so concurrent acquisitions share nothing.
An acquisition made inside another one (a plugin's connect method used as a
pool's connect callback) is part of the outer one: it only marks the outer
acquisition as having opened a new connection, and is not recorded twice.
A plugin that loops over a pool to discard stale sockets is one acquisition
too (:mod:`.retries`): the pool calls inside it are not recorded, and only a
connect inside any of them makes it new.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from contextvars import ContextVar
from enum import Enum
from typing import TYPE_CHECKING, Any, Callable

from opentelemetry.context import Context

from opentelemetry.instrumentation.livekit_agents.instruments import (
    ACQUIRE_KEYS,
    ERROR_TYPE,
    attribute_set,
)
from opentelemetry.instrumentation.livekit_agents.model_identity import ModelIdentity
from opentelemetry.instrumentation.livekit_agents.otel_context import current_context

if TYPE_CHECKING:  # the recorder imports acquire_attributes from here
    from opentelemetry.instrumentation.livekit_agents.recorder import Recorder

_logger = logging.getLogger(__name__)

Wrapper = Callable[[Callable[..., Any], Any, Any, Any], Any]


class Acquisition:
    """One acquisition in progress: who asked, and whether it opened a connection."""

    __slots__ = ("connected", "context", "failure", "owner", "reported")

    def __init__(self, owner: object, connected: bool, context: Context) -> None:
        self.owner = owner
        self.connected = connected
        self.context = context
        self.reported = False
        """The framework reported this acquisition itself while we timed it (a
        plugin's connect method that calls ``_report_connection_acquired``)."""
        self.failure: BaseException | None = None
        """The error of a connect inside that the plugin swallowed (inworld's
        ``_InworldConnection._connect`` hands it to its streams instead of raising):
        the acquisition failed although the call returned."""


_current: ContextVar[Acquisition | None] = ContextVar("livekit_agents_acquisition", default=None)
"""The acquisition in progress in this task: a context variable, as each acquiring
task has its own."""


def current_acquisition() -> Acquisition | None:
    """The acquisition in progress in the calling task, if any."""
    return _current.get()


def acquire_attributes(
    identity: ModelIdentity, reused: bool, error: BaseException | None
) -> Mapping[str, str]:
    """The attributes of one acquisition: the model's, whether the connection was
    reused, and the error's type when it failed."""
    attributes = (
        identity.derived("acquire.reused", _with_reused, "true")
        if reused
        else identity.derived("acquire.new", _with_reused, "false")
    )
    if error is not None:
        return {**attributes, ERROR_TYPE: error_type(error)}
    return attributes


def error_type(error: BaseException) -> str:
    """``error.type`` of a failed acquisition: a gRPC error's status code name
    (``UNAVAILABLE``, as the RPC semantic conventions have it), else the exception's
    class name.  gRPC is optional, so its ``RpcError`` is recognised by its
    ``code()`` returning an enum member (``grpc.StatusCode``)."""
    # looked up on the class: an instance's ``code`` property (aiohttp's deprecated
    # one warns) is not read, and only a method is called
    code = getattr(type(error), "code", None)
    if callable(code):
        try:
            status = code(error)
        except Exception:  # a code() that needs arguments or fails: not gRPC's
            _logger.debug("no status code on %r", error, exc_info=True)
        else:
            if isinstance(status, Enum):
                return status.name
    return type(error).__qualname__


def _with_reused(identity: ModelIdentity, reused: str) -> Mapping[str, str]:
    return attribute_set(ACQUIRE_KEYS, identity.model_name, identity.model_provider, reused)


def acquire_wrapper(
    recorder: Recorder,
    identity_of: Callable[[Any], ModelIdentity],
    *,
    may_reuse: bool,
) -> Wrapper:
    """A wrapt wrapper for an async method that returns a connection.

    ``identity_of(instance)`` names the model; with ``may_reuse`` the call is a
    pool that may hand out an idle connection, and it counts as new only if a
    connect (see ``connect_wrapper``) happens inside it.
    """

    async def wrapper(wrapped: Callable[..., Any], instance: Any, args: Any, kwargs: Any) -> Any:
        outer = _current.get()
        context = current_context() if outer is None else None
        if context is None:  # inside another acquisition, or suppressed
            if outer is not None and not may_reuse:
                # a connect method inside a pool: the outer acquisition connected.
                # A pool inside a retry loop (may_reuse) tells through its _connect.
                outer.connected = True
            return await wrapped(*args, **kwargs)
        acquisition = Acquisition(instance, connected=not may_reuse, context=context)
        token = _current.set(acquisition)
        start = time.perf_counter()
        try:
            connection = await wrapped(*args, **kwargs)
        except BaseException as error:
            record_acquisition(
                recorder, identity_of, acquisition, time.perf_counter() - start, error
            )
            raise
        finally:
            _current.reset(token)
        seconds = time.perf_counter() - start
        record_acquisition(recorder, identity_of, acquisition, seconds, acquisition.failure)
        return connection

    return wrapper


async def connect_wrapper(
    wrapped: Callable[..., Any], instance: Any, args: Any, kwargs: Any
) -> Any:
    """Marks the acquisition in progress, if any, as having opened a connection."""
    acquisition = _current.get()
    if acquisition is not None:
        acquisition.connected = True
    return await wrapped(*args, **kwargs)


def record_acquisition(
    recorder: Recorder,
    identity_of: Callable[[Any], ModelIdentity],
    acquisition: Acquisition,
    seconds: float,
    error: BaseException | None,
) -> None:
    """Record one finished acquisition for the model ``identity_of`` its owner; never raises."""
    # the guard of never_raises, inlined: this runs for every acquisition
    try:
        identity = identity_of(acquisition.owner)
        recorder.record_acquire_time(
            identity,
            seconds,
            not acquisition.connected,
            error,
            acquisition.context,
            credit=not acquisition.reported,
        )
    except Exception:
        _logger.debug("livekit-agents instrumentation dropped an acquisition", exc_info=True)
