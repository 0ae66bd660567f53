"""Force-flushing the push readers of a MeterProvider, one flush at a time.

Only push readers (``PeriodicExportingMetricReader``) are flushed: a pull
reader, such as the Prometheus exporter's ``PrometheusMetricReader``, has
nothing to send, and a forced collection would make it queue a second batch
that the next scrape serves too, every metric family twice.

:class:`CoalescingFlusher` runs each flush in one daemon thread, so a blocking
exporter never stalls the event loop and the process may always exit; flushes
asked for while one runs are served together by the next one, so however many
sessions close while an exporter hangs, at most one flush thread is alive.
"""

from __future__ import annotations

import logging
import threading
from typing import Callable

from opentelemetry.instrumentation.livekit_agents.error_boundary import never_raises
from opentelemetry.instrumentation.livekit_agents.otel_context import metric_readers

_logger = logging.getLogger(__name__)


@never_raises
def flush_push_readers(meter_provider: object, timeout_millis: int) -> None:
    """Force-flush every push reader of ``meter_provider``, at most ``timeout_millis``.

    A provider whose readers cannot be listed is flushed as a whole, when it can be.
    """
    readers = metric_readers(meter_provider)
    if readers is None:
        force_flush = getattr(meter_provider, "force_flush", None)
        if callable(force_flush):
            force_flush(timeout_millis=timeout_millis)
        return
    # the SDK is loaded: its provider listed the readers (it is no dependency of ours)
    from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader

    for reader in readers:
        if isinstance(reader, PeriodicExportingMetricReader):
            reader.force_flush(timeout_millis=timeout_millis)


THREAD_NAME = "otel-livekit-agents-flush"
"""The name of the flush thread."""

Flush = Callable[[], None]
Done = Callable[[], None]


class CoalescingFlusher:
    """Runs flushes in a daemon thread, one at a time, coalescing the requests that wait."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._waiting: list[tuple[Flush, Done]] = []
        self._running = False

    @property
    def in_flight(self) -> bool:
        """Whether a flush thread is alive now."""
        return self._running

    def request(self, flush: Flush, done: Done) -> None:
        """Run ``flush`` (now, or after the flush in flight), then call ``done``."""
        with self._lock:
            self._waiting.append((flush, done))
            if self._running:
                return  # the running thread serves it next
            self._running = True
        try:
            thread = threading.Thread(target=self._run, name=THREAD_NAME, daemon=True)
            thread.start()
        except RuntimeError:  # no thread to be had: nothing is flushed, nobody waits for ever
            _logger.debug("cannot start a metrics flush thread", exc_info=True)
            self._serve_none()

    def _run(self) -> None:
        while True:
            with self._lock:
                waiting, self._waiting = self._waiting, []
                if not waiting:
                    self._running = False
                    return
            # the requests waiting now are served by one flush: the latest asked for
            waiting[-1][0]()
            for _, done in waiting:
                _call(done)

    def _serve_none(self) -> None:
        with self._lock:
            waiting, self._waiting = self._waiting, []
            self._running = False
        for _, done in waiting:
            _call(done)


@never_raises
def _call(done: Done) -> None:
    done()
