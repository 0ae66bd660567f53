"""A SIGTERM that reaches a job process flushes the last points before it kills.

livekit-agents means its job processes to ignore SIGTERM
(``ipc/job_proc_lazy_main.py`` sets ``SIG_IGN`` when imported in a process
named ``job_proc``).  But a production worker preloads ``livekit.agents`` into
the ``forkserver``, where that import runs under another name, so the job
processes forked from it keep the default action: an orchestrator's SIGTERM to
the whole control group kills the job at once, with whatever was recorded since
the last export.

So in the job process's main thread, and only while SIGTERM still has its
default action (a handler the host installed, or ``SIG_IGN``, is left alone),
:class:`SigtermFlush` installs a handler that flushes, bounded, then puts the
default action back and sends SIGTERM again: the process ends exactly as it
would have, exit status -15 included.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from types import FrameType
from typing import Callable

_logger = logging.getLogger(__name__)


class SigtermFlush:
    """The SIGTERM handler of a job process, while installed."""

    def __init__(self, flush: Callable[[], None], timeout_seconds: float) -> None:
        self._flush = flush
        self._timeout = timeout_seconds
        self._handler = self._on_sigterm  # one bound method: compared by identity
        self.installed = False

    def install(self) -> None:
        """Install the handler where SIGTERM has its default action (main thread only)."""
        if self.installed or threading.current_thread() is not threading.main_thread():
            return  # signal.signal() works in the main thread only: a thread executor's job
        try:
            if signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
                return  # the host's own handler, or ignored: theirs to decide
            signal.signal(signal.SIGTERM, self._handler)
            self.installed = True
        except (ValueError, OSError):
            _logger.debug("cannot install the SIGTERM flush", exc_info=True)

    def uninstall(self) -> None:
        """Put the default action back, unless the host replaced our handler since."""
        if not self.installed or threading.current_thread() is not threading.main_thread():
            return
        self.installed = False
        try:
            if signal.getsignal(signal.SIGTERM) is self._handler:
                signal.signal(signal.SIGTERM, signal.SIG_DFL)
        except (ValueError, OSError):
            _logger.debug("cannot remove the SIGTERM flush", exc_info=True)

    def _on_sigterm(self, signum: int, frame: FrameType | None) -> None:
        try:
            # in another thread: the main thread, interrupted here, may hold a lock the
            # flush needs; then the join times out instead of deadlocking
            flusher = threading.Thread(target=self._flush, name="otel-sigterm-flush", daemon=True)
            flusher.start()
            flusher.join(self._timeout)
        except BaseException:  # whatever happens, the process must still die of SIGTERM
            _logger.debug("SIGTERM flush failed", exc_info=True)
        finally:
            self.installed = False
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            os.kill(os.getpid(), signal.SIGTERM)
