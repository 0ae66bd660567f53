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

The push readers only are flushed (:mod:`.metrics_flush`): a pull reader such
as Prometheus's would serve every family twice at its next scrape. Flushes run
in one daemon thread, one at a time (requests made meanwhile are coalesced), so
a blocking exporter never stalls the event loop and flush threads never pile
up. A job end waits for its flush at most :data:`FLUSH_TIMEOUT_SECONDS`, a
session closed outside a job at most :data:`CLOSE_WAIT_SECONDS`, less than a
host bounding ``aclose()`` would notice; neither ever raises. A cancelled job is
not held up: its flush is started, not awaited.

SIGTERM: the job process is meant to ignore it, but a worker that preloads
``livekit.agents`` into the forkserver (every production worker does) forks job
processes that keep SIGTERM's default action. There, the job's main thread gets
a handler that flushes (at most :data:`SIGTERM_FLUSH_SECONDS`) and then dies of
SIGTERM as it would have (:mod:`.sigterm_flush`); a handler of the host's, or
``SIG_IGN``, is left alone.

Usage: nothing to call; ``AgentsInstrumentor().instrument()`` enables it and
``uninstrument()`` restores both methods and SIGTERM and stops any later flush.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import sys
from typing import Any, Callable

from opentelemetry.instrumentation.utils import unwrap
from opentelemetry.metrics import get_meter_provider
from wrapt import wrap_function_wrapper

from opentelemetry.instrumentation.livekit_agents.error_boundary import never_raises
from opentelemetry.instrumentation.livekit_agents.instrumentors.metrics_flush import (
    CoalescingFlusher,
    flush_push_readers,
)
from opentelemetry.instrumentation.livekit_agents.instrumentors.session_class import (
    session_class,
)
from opentelemetry.instrumentation.livekit_agents.instrumentors.sigterm_flush import SigtermFlush
from opentelemetry.instrumentation.livekit_agents.otel_context import current_context
from opentelemetry.instrumentation.livekit_agents.recorder import Recorder

_logger = logging.getLogger(__name__)

_JOB_MODULE = "livekit.agents.ipc.job_proc_lazy_main"

FLUSH_TIMEOUT_SECONDS = 5.0
"""The longest a job end waits for the export, and the export's own bound."""

CLOSE_WAIT_SECONDS = 1.0
"""The longest a session closed outside a job waits for the export (it goes on after)."""

SIGTERM_FLUSH_SECONDS = 3.0
"""The longest a job process that got SIGTERM exports before it dies."""

_JOB_PROCESS_NAME = "job_proc"  # what livekit-agents names its job processes


class JobFlush:
    """The job-flush aspect: the recorder whose MeterProvider is flushed, while instrumented."""

    def __init__(self) -> None:
        self._recorder: Recorder | None = None
        self._session: type | None = None
        self.flusher = CoalescingFlusher()
        """The flush thread's owner: at most one flush in flight."""
        self.sigterm = SigtermFlush(self._flush_now, SIGTERM_FLUSH_SECONDS)
        """The job process's SIGTERM handler, while installed."""

    def instrument(self, recorder: Recorder) -> None:
        """Flush at the end of every job and of every session run outside a job."""
        self._recorder = recorder
        try:
            wrap_function_wrapper(_JOB_MODULE, "_JobProc._run_job_task", self._job_wrapper)
        except (AttributeError, ImportError):  # private: a future release may rename it
            _logger.debug("no _JobProc._run_job_task to patch: no flush at job end", exc_info=True)
        self._session = session_class()
        wrap_function_wrapper(self._session, "aclose", self._aclose_wrapper)
        if multiprocessing.current_process().name == _JOB_PROCESS_NAME:
            self.sigterm.install()  # instrumented inside a running job

    def uninstrument(self) -> None:
        """Restore both methods and SIGTERM; a job or session that is ending now is not flushed."""
        self._recorder = None
        self.sigterm.uninstall()
        if self._session is not None:
            unwrap(self._session, "aclose")
            self._session = None
        job_proc = getattr(sys.modules.get(_JOB_MODULE), "_JobProc", None)
        if job_proc is not None:  # None when instrument() could not patch it either
            unwrap(job_proc, "_run_job_task")

    async def flush(self, wait_seconds: float = FLUSH_TIMEOUT_SECONDS) -> None:
        """Force-flush our MeterProvider's push readers; wait at most ``wait_seconds``.

        Never raises; does nothing while uninstrumented or suppressed.
        """
        done = self._start_flush()
        if done is None:
            return
        try:
            await asyncio.wait_for(asyncio.shield(done), wait_seconds)
        except asyncio.TimeoutError:
            _logger.debug("metrics flush still running after %s s", wait_seconds)

    async def _job_wrapper(
        self, wrapped: Callable[..., Any], instance: Any, args: Any, kwargs: Any
    ) -> Any:
        self.sigterm.install()  # the job process's main thread: from here SIGTERM flushes
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
        if not in_job():  # in a job, the job's own end flushes, after everything else
            await self.flush(CLOSE_WAIT_SECONDS)
        return result

    @never_raises
    def _start_flush(self) -> asyncio.Future[None] | None:
        """Ask for a flush; a future that is done when one started after now returns."""
        recorder = self._recorder
        if recorder is None or current_context() is None:  # None: instrumentation suppressed
            return None
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()

        def finished() -> None:
            # the loop may have closed while we exported: then nobody waits any more
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(_resolve, done)

        self.flusher.request(lambda: _force_flush(recorder), finished)
        return done

    def _flush_now(self) -> None:
        """The SIGTERM handler's flush, in a thread of its own."""
        recorder = self._recorder
        if recorder is not None:
            _force_flush(recorder, int(SIGTERM_FLUSH_SECONDS * 1000))


def in_job() -> bool:
    """Whether a job is running in this context (its process, or its executor thread)."""
    from livekit.agents.job import get_job_context

    try:
        get_job_context()  # `required=` only exists from 1.5
    except Exception:  # RuntimeError: no job; anything else: flushing is harmless
        return False
    return True


def _resolve(done: asyncio.Future[None]) -> None:
    if not done.done():
        done.set_result(None)


_FLUSH_TIMEOUT_MILLIS = int(FLUSH_TIMEOUT_SECONDS * 1000)


def _force_flush(recorder: Recorder, timeout_millis: int = _FLUSH_TIMEOUT_MILLIS) -> None:
    """Flush the recorder's MeterProvider, else the global one (as it is now: it may
    have been set after ``instrument()``)."""
    flush_push_readers(recorder.meter_provider or get_meter_provider(), timeout_millis)
