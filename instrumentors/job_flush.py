"""Flush the MeterProvider when a job ends, so its last turns are exported.

livekit-agents runs each job in a child process. Under the default
``forkserver`` start method on Linux that process leaves through ``os._exit``,
so no ``atexit`` hook runs (not even the SDK's ``shutdown_on_exit``), and with
a periodic reader anything recorded since its last export would be lost. So the
provider given to ``instrument(meter_provider=...)``, else the global one, is
force-flushed:

* at the end of ``ipc.job_proc_lazy_main:_JobProc._run_job_task``, on every
  release from 1.0 (process and thread executors alike). That coroutine is the
  job's whole shutdown sequence: the primary session's ``aclose()`` (1.4+), the
  user's ``on_session_end`` and ``JobContext._on_session_end`` (where 1.5.2+
  records its own turn metrics) and every shutdown callback, which run
  concurrently with each other and, on 1.8, with the close of every other
  session. Only its end is after all of them; the process exits right after.
* at the end of the session's ``aclose()`` (``LiveSession`` from 2.0,
  ``AgentSession`` before) when no job is running (a script,
  a test, a custom host), since then no job end will come.

Each flush runs in a daemon thread, so a blocking exporter never stalls the
event loop, and is awaited at most :data:`FLUSH_TIMEOUT_SECONDS`; it never
raises. A cancelled job is not held up: its flush is started, not awaited.

SIGTERM and SIGINT: on every release from 1.0.23 to 1.8.9 the job process
ignores both (the framework's job entry point sets ``signal.SIG_IGN``); the worker
process catches them and shuts its jobs down through IPC (``ShutdownRequest``),
which runs the job's normal shutdown sequence and then this flush. So no signal
handler is installed here: one would change the host's behaviour, and the
worker's CLI replaces signal handlers after instrumentation anyway.

Usage: nothing to call; ``AgentsInstrumentor().instrument()`` enables it and
``uninstrument()`` restores both methods and stops any later flush.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
import threading
from typing import Any, Callable

from opentelemetry.instrumentation.utils import unwrap
from opentelemetry.metrics import get_meter_provider
from wrapt import wrap_function_wrapper

from opentelemetry.instrumentation.livekit_agents.error_boundary import never_raises
from opentelemetry.instrumentation.livekit_agents.instrumentors.session_class import (
    session_class,
)
from opentelemetry.instrumentation.livekit_agents.otel_context import current_context
from opentelemetry.instrumentation.livekit_agents.recorder import Recorder

_logger = logging.getLogger(__name__)

_JOB_MODULE = "livekit.agents.ipc.job_proc_lazy_main"

FLUSH_TIMEOUT_SECONDS = 5.0
"""The longest a job end or a session close waits for the export."""


class JobFlush:
    """The job-flush aspect: the recorder whose MeterProvider is flushed, while instrumented."""

    def __init__(self) -> None:
        self._recorder: Recorder | None = None
        self._session: type | None = None

    def instrument(self, recorder: Recorder) -> None:
        """Flush at the end of every job and of every session run outside a job."""
        self._recorder = recorder
        try:
            wrap_function_wrapper(_JOB_MODULE, "_JobProc._run_job_task", self._job_wrapper)
        except (AttributeError, ImportError):  # private: a future release may rename it
            _logger.debug("no _JobProc._run_job_task to patch: no flush at job end", exc_info=True)
        self._session = session_class()
        wrap_function_wrapper(self._session, "aclose", self._aclose_wrapper)

    def uninstrument(self) -> None:
        """Restore both methods; a job or session that is ending now is not flushed."""
        self._recorder = None
        if self._session is not None:
            unwrap(self._session, "aclose")
            self._session = None
        job_proc = getattr(sys.modules.get(_JOB_MODULE), "_JobProc", None)
        if job_proc is not None:  # None when instrument() could not patch it either
            unwrap(job_proc, "_run_job_task")

    async def flush(self) -> None:
        """Force-flush our MeterProvider; wait at most :data:`FLUSH_TIMEOUT_SECONDS`.

        Never raises; does nothing while uninstrumented or suppressed.
        """
        done = self._start_flush()
        if done is None:
            return
        try:
            await asyncio.wait_for(asyncio.shield(done), FLUSH_TIMEOUT_SECONDS)
        except asyncio.TimeoutError:
            _logger.debug("metrics flush still running after %s s", FLUSH_TIMEOUT_SECONDS)

    async def _job_wrapper(
        self, wrapped: Callable[..., Any], instance: Any, args: Any, kwargs: Any
    ) -> Any:
        try:
            result = await wrapped(*args, **kwargs)
        except asyncio.CancelledError:
            self._start_flush()  # the job is being torn down: do not delay that
            raise
        except BaseException:
            await self.flush()  # a failed shutdown still ends the job, and its data still counts
            raise
        await self.flush()
        return result

    async def _aclose_wrapper(
        self, wrapped: Callable[..., Any], instance: Any, args: Any, kwargs: Any
    ) -> Any:
        result = await wrapped(*args, **kwargs)
        if not _in_job():  # in a job, the job's own end flushes, after everything else
            await self.flush()
        return result

    @never_raises
    def _start_flush(self) -> asyncio.Future[None] | None:
        """Start the flush in a daemon thread; a future that is done when it returns."""
        recorder = self._recorder
        if recorder is None or current_context() is None:  # None: instrumentation suppressed
            return None
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()

        def run() -> None:
            _force_flush(recorder, int(FLUSH_TIMEOUT_SECONDS * 1000))
            # the loop may have closed while we exported: then nobody waits any more
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(_resolve, done)

        # a daemon thread: the process may always exit, an export never holds it back
        threading.Thread(target=run, name="otel-livekit-agents-flush", daemon=True).start()
        return done


def _in_job() -> bool:
    from livekit.agents.job import get_job_context

    try:
        get_job_context()  # `required=` only exists from 1.5
    except Exception:  # RuntimeError: no job; anything else: flushing is harmless
        return False
    return True


def _resolve(done: asyncio.Future[None]) -> None:
    if not done.done():
        done.set_result(None)


@never_raises
def _force_flush(recorder: Recorder, timeout_millis: int) -> None:
    """Flush the recorder's MeterProvider, else the global one (as it is now: it may
    have been set after ``instrument()``). Only SDK providers can flush."""
    provider = recorder.meter_provider or get_meter_provider()
    force_flush = getattr(provider, "force_flush", None)
    if callable(force_flush):
        force_flush(timeout_millis=timeout_millis)
