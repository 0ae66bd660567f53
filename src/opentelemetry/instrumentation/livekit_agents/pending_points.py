"""Data points on their way to the SDK, recorded in batches.

Valid points wait in :data:`PENDING` and reach the SDK together, always before
the collection that exports their time: see :class:`PendingPoints`.
"""

from __future__ import annotations

import inspect
import logging
import os
from collections import deque
from collections.abc import Iterable
from typing import Union

from opentelemetry.context import Context
from opentelemetry.metrics import CallbackOptions, Counter, Histogram, Observation
from opentelemetry.trace import get_current_span
from opentelemetry.util.types import Attributes

from opentelemetry.instrumentation.livekit_agents.error_boundary import DROPPED

_logger = logging.getLogger(__name__)

MAX_PENDING = 64
"""Points held before they are recorded together."""
PENDING_POINTS_INSTRUMENT = "lk.agents.instrumentation.pending_points"
"""An observable gauge that observes nothing: the SDK calls it at the start of every
collection, and its callback records the pending points first."""

# The sync instruments take the measurement's context (for exemplars) from API 1.28.
_RECORD_TAKES_CONTEXT = "context" in inspect.signature(Counter.add).parameters


# Union, not |: a runtime alias, evaluated on Python 3.9 too
PendingPoint = tuple[Union[Counter, Histogram], float, Attributes, Context, bool]
"""One data point that waits for the SDK: its instrument, amount and attributes, the
context it was observed in (kept for exemplars), and whether the instrument is a
counter (``add``) rather than a histogram (``record``).  A plain tuple: a
``NamedTuple`` is made through a slower constructor, paid on every point."""


class PendingPoints:
    """Data points on their way to the SDK, recorded in batches.

    One ``add``/``record`` is some sixty Python calls in the SDK; made one at a time
    inside a running session they find the CPU caches cold and cost several times
    what they cost in a loop (docs/performance.md), so points wait here and are
    recorded together:

    - before every collection: the callback of :data:`PENDING_POINTS_INSTRUMENT`,
      which the SDK runs first in every ``collect`` (periodic export, Prometheus
      scrape, ``force_flush``, ``shutdown``, and so the flush at job end);
    - as soon as :data:`MAX_PENDING` points wait, so memory stays bounded even where
      nothing collects (no SDK, no reader);
    - at ``uninstrument()`` and before a ``fork``, as if they had been recorded at once.

    Each point keeps the context it was observed in, so exemplars still link it to
    the span that was current then.  A counter's points that could not become an
    exemplar are summed per series first: see :meth:`record_all`.  ``deque``
    appends and pops are atomic, so an event-loop thread may add points while a
    reader thread records them: each is recorded exactly once.
    """

    def __init__(self) -> None:
        self._queue: deque[PendingPoint] = deque()

    def __len__(self) -> int:
        return len(self._queue)

    def add(
        self,
        instrument: Union[Counter, Histogram],  # noqa: UP007  # as in PendingPoint
        amount: float,
        attributes: Attributes,
        context: Context,
        additive: bool,
    ) -> None:
        """Queue one point; record the batch once :data:`MAX_PENDING` wait."""
        queue = self._queue
        queue.append((instrument, amount, attributes, context, additive))
        if len(queue) >= MAX_PENDING:
            self.record_all()

    def record_all(self) -> None:
        """Hand every pending point to the SDK; never raises.

        A counter's points observed where no sampled span was current, which the SDK's
        default (trace-based) exemplar filter would never keep, are summed per series
        first: one ``add`` per series and batch instead of one per point, the same
        total.  Every other point is recorded as it was observed.
        """
        for instrument, amount, attributes, context, additive in self._take():
            try:
                record = instrument.add if additive else instrument.record  # type: ignore[union-attr]
                if _RECORD_TAKES_CONTEXT:
                    record(amount, attributes, context)
                else:
                    record(amount, attributes)
            except Exception:
                _logger.debug(DROPPED, exc_info=True)

    def _take(self) -> list[PendingPoint]:
        """Every pending point, taken from the queue; a counter's summed where it may."""
        points: list[PendingPoint] = []
        # per series, its first point and its total: attributes are shared per model,
        # so one object is one series (the first point keeps it alive, so its id is
        # not reused within the batch)
        firsts: dict[tuple[object, int], PendingPoint] = {}
        totals: dict[tuple[object, int], float] = {}
        checked: object = totals  # the context last checked for a sampled span: none yet
        sampled = False
        pop = self._queue.popleft
        while True:
            try:
                point = pop()
            except IndexError:  # none left (or taken by another thread meanwhile)
                break
            instrument, amount, attributes, context, additive = point
            if additive:
                if context is not checked:
                    checked, sampled = context, _has_sampled_span(context)
                if not sampled:
                    series = (instrument, id(attributes))
                    try:
                        total = totals.get(series)
                    except TypeError:  # a third-party instrument that cannot be a key
                        points.append(point)
                        continue
                    if total is None:
                        firsts[series] = point
                        totals[series] = amount
                    else:
                        totals[series] = total + amount
                    continue
            points.append(point)
        points.extend(
            (instrument, totals[series], attributes, context, True)
            for series, (instrument, _, attributes, context, _) in firsts.items()
        )
        return points

    def observe(self, options: CallbackOptions) -> Iterable[Observation]:
        """The callback of :data:`PENDING_POINTS_INSTRUMENT`: record, observe nothing."""
        self.record_all()
        return ()


def _has_sampled_span(context: Context) -> bool:
    """Whether a measurement in ``context`` may become an exemplar: its span is sampled."""
    if not _RECORD_TAKES_CONTEXT:  # an API before 1.28: no exemplars at all
        return False
    try:
        return bool(get_current_span(context).get_span_context().trace_flags.sampled)
    except Exception:  # a broken span: keep the point as it was observed
        _logger.debug("cannot read the span of a data point", exc_info=True)
        return True


PENDING = PendingPoints()
"""The process's pending points, for every recorder and MeterProvider alike: each
point holds its own instrument, and any collection records them all."""
if hasattr(os, "register_at_fork"):
    os.register_at_fork(before=PENDING.record_all)
