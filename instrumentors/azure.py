"""Azure Speech STT: the Speech SDK's websocket, timed to its ``connected`` event.

The plugin's ``SpeechStream._run`` builds a ``SpeechRecognizer`` of the Azure
Speech SDK (azure-cognitiveservices-speech) and calls its
``start_continuous_recognition()``.  The SDK opens its websocket in its native
library, where neither ``aiohttp`` nor ``websockets`` is involved, and tells of
it only through events fired on its own threads.  The plugin's own
``session_started`` is no sign of a connection: the SDK fires it before it
connects, and fires it even when the connection is refused.

So while ``_run`` runs, a ``start_continuous_recognition()`` call is one
acquisition of the stream's STT, from the call until the first of:

* the ``connected`` event of the recognizer's ``speechsdk.Connection`` (the
  websocket upgrade is done): a new connection, no error;
* a ``canceled`` event with reason ``Error`` (a refused or failed connection):
  ``error.type`` is the SDK's ``CancellationErrorCode`` name
  (``ConnectionFailure``...), carried by :class:`SpeechCanceled`'s ``code()``;
* the stream's ``conn_options.timeout`` (the plugin's own bound on starting a
  session), when the SDK neither connects nor gives up: ``TimeoutError``;
* ``session_stopped`` before any of those (the stream ended first):
  ``CancelledError``, as an async connect cancelled midway.

The point is recorded from whichever thread tells first (the recorder's
pending points are thread-safe).  Our callbacks never raise into the SDK, run
after the plugin's own, and hold only a weak reference to the timing, which
lives as long as the recognizer does.  Each recognizer opens its own websocket:
every point is a new connection.  A recognizer of the user's own, started
outside the plugin's stream, is not recorded.  Usage::

    from opentelemetry.instrumentation.livekit_agents.instrumentors.azure import (
        AzureInstrumentor,
    )

    AzureInstrumentor().instrument()

or entry point ``livekit_agents_azure`` (``AgentsInstrumentor`` runs it).
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import threading
import time
import weakref
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, Callable

from opentelemetry.instrumentation.livekit_agents.instrumentors.connections.acquisition import (
    Acquisition,
    Wrapper,
    record_acquisition,
)
from opentelemetry.instrumentation.livekit_agents.model_identity import identify
from opentelemetry.instrumentation.livekit_agents.otel_context import current_context
from opentelemetry.instrumentation.livekit_agents.provider_instrumentor import (
    PatchTarget,
    ProviderInstrumentor,
)

if TYPE_CHECKING:
    from opentelemetry.instrumentation.livekit_agents.recorder import Recorder

_logger = logging.getLogger(__name__)

_SDK = "azure.cognitiveservices.speech"
_DEFAULT_TIMEOUT = 10.0  # livekit-agents' DEFAULT_API_CONNECT_OPTIONS.timeout

_stream: ContextVar[Any] = ContextVar("livekit_agents_azure_stream", default=None)
"""The plugin's ``SpeechStream`` whose ``_run`` runs in this task, if any."""

_timings: weakref.WeakKeyDictionary[Any, _Timing] = weakref.WeakKeyDictionary()
"""recognizer -> its timing: the timing (and the SDK ``Connection`` it observes)
lives as long as the recognizer, and no longer."""


class SpeechCanceled(Exception):
    """A recognition the Speech SDK canceled before it connected.

    ``code()`` is the SDK's ``CancellationErrorCode``: as for a gRPC error, its name
    (``ConnectionFailure``...) becomes ``error.type`` (:func:`.acquisition.error_type`)."""

    def __init__(self, code: object) -> None:
        super().__init__(code)
        self._code = code

    def code(self) -> object:
        return self._code


class _Timing:
    """One ``start_continuous_recognition()`` until its first connection event."""

    __slots__ = ("__weakref__", "acquisition", "connection", "done", "lock", "recorder", "start")

    def __init__(self, recorder: Recorder, acquisition: Acquisition) -> None:
        self.recorder = recorder
        self.acquisition = acquisition
        self.connection: object = None
        self.done = False
        self.lock = threading.Lock()  # the SDK's threads and the event loop may race
        self.start = time.perf_counter()

    def finish(self, error: BaseException | None) -> None:
        """Record the acquisition, once: the first event that tells wins."""
        seconds = time.perf_counter() - self.start
        with self.lock:
            if self.done:
                return
            self.done = True
        record_acquisition(self.recorder, identify, self.acquisition, seconds, error)


_IRRELEVANT = object()
"""What an event returns that tells nothing of the connection."""


def _told(reference: weakref.ref[_Timing], outcome: Callable[[Any], object]) -> Any:
    """An SDK event callback: finishes the timing with ``outcome(event)`` (an error,
    or None for connected) unless that is ``_IRRELEVANT``; never raises."""

    def callback(event: Any) -> None:
        try:
            timing = reference()
            if timing is None or timing.done:
                return
            error = outcome(event)
            if error is not _IRRELEVANT:
                timing.finish(error if isinstance(error, BaseException) else None)
        except Exception:  # the SDK's thread must never see our error
            _logger.debug("livekit-agents instrumentation dropped an Azure event", exc_info=True)

    return callback


def _connected(event: Any) -> object:
    return None


def _on_canceled(event: Any) -> object:
    details = event.cancellation_details
    if getattr(details.reason, "name", None) != "Error":  # the audio ended: no failure
        return _IRRELEVANT
    return SpeechCanceled(details.code)


def _stopped(event: Any) -> object:
    return asyncio.CancelledError()


def _timed_out(reference: weakref.ref[_Timing]) -> None:
    _told(reference, lambda _event: TimeoutError())(None)


def _watch(recorder: Recorder, recognizer: Any) -> _Timing | None:
    """The timing of the plugin stream's recognizer, or None (not the plugin's, or
    instrumentation suppressed)."""
    try:
        stream = _stream.get()
        if stream is None:
            return None
        context = current_context()
        if context is None:
            return None
        owner = getattr(stream, "_stt", None) or stream
        timing = _Timing(recorder, Acquisition(owner, True, context))
        reference = weakref.ref(timing)
        # the Connection's events stop when it is collected: the timing keeps it
        connection = importlib.import_module(_SDK).Connection.from_recognizer(recognizer)
        timing.connection = connection
        connection.connected.connect(_told(reference, _connected))
        recognizer.canceled.connect(_told(reference, _on_canceled))
        recognizer.session_stopped.connect(_told(reference, _stopped))
        _timings[recognizer] = timing
        timeout = getattr(getattr(stream, "_conn_options", None), "timeout", _DEFAULT_TIMEOUT)
        asyncio.get_running_loop().call_later(float(timeout), _timed_out, reference)
        return timing
    except Exception:
        _logger.debug("livekit-agents instrumentation dropped an Azure recognizer", exc_info=True)
        return None


def _timed_start(recorder: Recorder) -> Wrapper:
    """A wrapper for ``SpeechRecognizer.start_continuous_recognition``."""

    def wrapper(wrapped: Callable[..., Any], instance: Any, args: Any, kwargs: Any) -> Any:
        timing = _watch(recorder, instance)
        try:
            return wrapped(*args, **kwargs)
        except BaseException as error:
            if timing is not None:
                timing.finish(error)
            raise

    return wrapper


def _stream_run(recorder: Recorder) -> Wrapper:
    """A wrapper for ``SpeechStream._run``: names the stream while it runs, in its task."""

    async def wrapper(wrapped: Callable[..., Any], instance: Any, args: Any, kwargs: Any) -> Any:
        token = _stream.set(instance)
        try:
            return await wrapped(*args, **kwargs)
        finally:
            _stream.reset(token)

    return wrapper


class AzureInstrumentor(ProviderInstrumentor):
    """Times the Azure Speech STT's websocket, opened by the native Speech SDK."""

    provider = "azure"
    targets = (
        PatchTarget("livekit.plugins.azure.stt", "SpeechStream._run", _stream_run),
        PatchTarget(_SDK, "SpeechRecognizer.start_continuous_recognition", _timed_start),
    )
