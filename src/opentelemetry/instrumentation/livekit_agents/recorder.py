"""Turns what the wrappers observe into data points, safely and in batches.

Everything here runs inside a wrapped framework call: bad values are dropped
with a debug log, and each wrapper's own boundary (``never_raises`` or its
inlined equivalent) logs an exception from our own code at debug level and
swallows it.  Valid points wait in :data:`PENDING` and reach the SDK together,
always before the collection that exports their time: see :class:`PendingPoints`.
"""

from __future__ import annotations

import functools
import inspect
import logging
import math
import os
from collections import deque
from collections.abc import Iterable, Mapping
from typing import Any, Callable, TypeVar, Union

from opentelemetry.context import _SUPPRESS_INSTRUMENTATION_KEY, Context
from opentelemetry.context.contextvars_context import ContextVarsRuntimeContext
from opentelemetry.instrumentation.utils import _SUPPRESS_INSTRUMENTATION_KEY_PLAIN
from opentelemetry.metrics import (
    CallbackOptions,
    Counter,
    Histogram,
    MeterProvider,
    Observation,
    get_meter,
)
from opentelemetry.trace import get_current_span
from opentelemetry.util.types import Attributes
from typing_extensions import ParamSpec

from opentelemetry import context as context_api
from opentelemetry.instrumentation.livekit_agents.instruments import Instruments
from opentelemetry.instrumentation.livekit_agents.model_identity import ModelIdentity, remember
from opentelemetry.instrumentation.livekit_agents.provider_switch import ProviderSwitch
from opentelemetry.instrumentation.livekit_agents.version import __version__

SCHEMA_URL = "https://opentelemetry.io/schemas/1.37.0"

_logger = logging.getLogger(__name__)

MAX_SECONDS = 3600.0
"""A latency above an hour is a clock or framework bug, not a measurement."""
MAX_AMOUNT = 1e9
"""More than a billion tokens, characters or seconds in one event is a bug, not usage."""

_P = ParamSpec("_P")
_R = TypeVar("_R")


def never_raises(func: Callable[_P, _R | None]) -> Callable[_P, _R | None]:
    """Run ``func``; on any exception log it at debug level and return None."""

    @functools.wraps(func)
    def guarded(*args: _P.args, **kwargs: _P.kwargs) -> _R | None:
        try:
            return func(*args, **kwargs)
        except Exception:
            _logger.debug("livekit-agents instrumentation dropped a data point", exc_info=True)
            return None

    return guarded


def _context_reader() -> Callable[[], Context]:
    """``context.get_current``, or the ``ContextVar.get`` it ends in (two Python calls
    fewer on every event) when the runtime context is the API's default one."""
    runtime = getattr(context_api, "_RUNTIME_CONTEXT", None)
    variable = getattr(runtime, "_current_context", None)
    if type(runtime) is ContextVarsRuntimeContext and callable(getattr(variable, "get", None)):
        return variable.get  # type: ignore[union-attr,no-any-return]
    return context_api.get_current


_read_context: Callable[[], Context] = context_api.get_current


def _follow_runtime_context() -> None:
    """Read the context as the runtime context of the moment allows: at every
    ``instrument()``, so a runtime replaced after this module's import is followed."""
    global _read_context
    _read_context = _context_reader()


def current_context() -> Context | None:
    """The current context, or None where instrumentation is suppressed.

    ``is_instrumentation_enabled()`` in one context read instead of two, and the
    read gives the context that the event's data points keep for exemplars.
    """
    context = _read_context()
    if context.get(_SUPPRESS_INSTRUMENTATION_KEY) or context.get(
        _SUPPRESS_INSTRUMENTATION_KEY_PLAIN
    ):
        return None
    return context


def valid_number(value: object, limit: float) -> float | None:
    """``value`` as a float when it is finite and in ``[0, limit]``, else None.

    The recorder accepts a plain ``int``/``float`` in range without this call, the
    common case on every data point (NaN fails both comparisons); this decides the rest.
    """
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    number = float(value)
    if not math.isfinite(number) or number < 0.0 or number > limit:
        return None
    return value if isinstance(value, int) else number  # counts stay integers


MAX_PENDING = 64
"""Points held before they are recorded together: ~1.3 ms of SDK work in a running session."""
PENDING_POINTS_INSTRUMENT = "lk.agents.instrumentation.pending_points"
"""An observable gauge that observes nothing: the SDK calls it at the start of every
collection, and its callback records the pending points first."""

# The sync instruments take the measurement's context (for exemplars) from API 1.28.
_RECORD_TAKES_CONTEXT = "context" in inspect.signature(Counter.add).parameters
_Instrument = Union[Counter, Histogram]
Point = tuple[_Instrument, float, Attributes, Context, bool]
"""An instrument, an amount, its attributes, the context it was observed in, and
whether the instrument is a counter (``add``) rather than a histogram (``record``)."""


class PendingPoints:
    """Data points on their way to the SDK, recorded in batches.

    One ``add``/``record`` is some sixty Python calls in the SDK.  Made one at a time
    inside a running session they find the CPU caches cold and cost several times
    what they cost in a loop (~70 us against ~10 us per point on a slow core), so
    points wait here and are recorded together (~26 us each, 64 at a time):

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
        self.queue: deque[Point] = deque()
        """Where the recorders append their points, and record the batch once it holds
        :data:`MAX_PENDING`: appended to directly, a C call per point."""

    def __len__(self) -> int:
        return len(self.queue)

    def record_all(self) -> None:
        """Hand every pending point to the SDK; never raises.

        A counter's points observed where no sampled span was current, which the SDK's
        default (trace-based) exemplar filter would never keep, are summed per series
        first: one ``add`` per series and batch instead of one per point, the same
        total.  Every other point is recorded as it was observed.
        """
        # the SDK call inlined, not a function per point: this runs for every point
        for instrument, amount, attributes, context, additive in self._take():
            try:
                record = instrument.add if additive else instrument.record  # type: ignore[union-attr]
                if _RECORD_TAKES_CONTEXT:
                    record(amount, attributes, context)
                else:
                    record(amount, attributes)
            except Exception:
                _logger.debug("livekit-agents instrumentation dropped a data point", exc_info=True)

    def _take(self) -> list[Point | list[Any]]:
        """Every pending point, taken from the queue; a counter's summed where it may.

        A list, not a generator: resuming one costs a frame switch per point.
        """
        pop = self.queue.popleft
        points: list[Point | list[Any]] = []
        keep = points.append
        sums: dict[tuple[_Instrument, int], list[Any]] = {}
        checked: object = sums  # the context last checked for a sampled span: none yet
        sampled = False
        while True:
            try:
                point = pop()
            except IndexError:
                break
            if point[4]:  # a counter's
                context = point[3]
                if context is not checked:
                    checked, sampled = context, _has_sampled_span(context)
                if not sampled:
                    # attributes are shared per model: one object is one series (the
                    # entry keeps it alive, so its id is not reused within the batch)
                    series = (point[0], id(point[2]))
                    try:
                        total = sums.get(series)
                    except TypeError:  # a third-party instrument that cannot be a key
                        keep(point)
                        continue
                    if total is None:
                        sums[series] = [*point]
                    else:
                        total[1] += point[1]
                    continue
            keep(point)
        points.extend(sums.values())
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
_queue = PENDING.queue
if hasattr(os, "register_at_fork"):
    os.register_at_fork(before=PENDING.record_all)


class _Answers(dict[str, bool]):
    """``switch.allows`` answered once per provider (the switch never changes): a
    dict look-up, not a call, on every event."""

    def __init__(self, switch: ProviderSwitch) -> None:
        super().__init__()
        self._switch = switch

    def __missing__(self, provider_key: str) -> bool:
        return remember(self, provider_key, self._switch.allows(provider_key))


def _amount_recorder(
    additive: bool,
) -> Callable[[Recorder, _Instrument, object, Attributes, Context], None]:
    """``Recorder.add`` (a counter's, ``additive``) or ``Recorder.record_amount`` (a
    histogram's): one body, and no call per point to share it."""

    def record(
        self: Recorder,
        instrument: _Instrument,
        value: object,
        attributes: Attributes,
        context: Context,
    ) -> None:
        if not ((type(value) is int or type(value) is float) and 0 <= value <= MAX_AMOUNT):
            value = _odd(value, MAX_AMOUNT, "amount", attributes)
        if value:  # nothing used (or dropped), nothing to add: as the framework's own counters
            _queue.append((instrument, value, attributes, context, additive))
            if len(_queue) >= MAX_PENDING:
                PENDING.record_all()

    record.__name__ = "add" if additive else "record_amount"
    record.__qualname__ = f"Recorder.{record.__name__}"
    record.__doc__ = (
        "Add a non-zero amount to a counter, or drop it (debug log) when odd."
        if additive
        else "Record a non-zero amount (tokens) into a histogram, or drop it when odd."
    )
    return record


class Recorder:
    """Records data points for the providers that the switch leaves on."""

    def __init__(
        self,
        instruments: Instruments,
        switch: ProviderSwitch,
        meter_provider: MeterProvider | None = None,
    ) -> None:
        self.instruments = instruments
        self.switch = switch
        self.meter_provider = meter_provider
        """The provider given to ``instrument()``; None means the global one."""
        self.allows: Mapping[str, bool] = _Answers(switch)
        """``allows[provider_key]``: whether the switch records that provider."""

    @classmethod
    def create(
        cls,
        meter_provider: MeterProvider | None = None,
        providers: Iterable[str] | None = None,
        exclude_providers: Iterable[str] | None = None,
    ) -> Recorder:
        """A recorder on this package's meter, with the switch from settings and env."""
        meter = get_meter(
            "opentelemetry.instrumentation.livekit_agents",
            __version__,
            meter_provider,
            schema_url=SCHEMA_URL,
        )
        switch = ProviderSwitch.from_settings(providers, exclude_providers)
        _follow_runtime_context()
        # created again on every instrument(): the SDK hands back the one it has
        meter.create_observable_gauge(
            PENDING_POINTS_INSTRUMENT,
            callbacks=[PENDING.observe],
            description="Observes nothing; records the instrumentation's pending points.",
        )
        return cls(Instruments(meter), switch, meter_provider)

    def record_acquire_time(
        self,
        identity: ModelIdentity,
        seconds: float,
        reused: bool,
        error: BaseException | None,
        context: Context,
    ) -> None:
        """One connection acquisition, reused or new, failed or not."""
        if not self.allows[identity.provider_key]:
            return
        attributes = (
            identity.derived("acquire.reused", _acquire_attributes, "true")
            if reused
            else identity.derived("acquire.new", _acquire_attributes, "false")
        )
        if error is not None:
            attributes = {**attributes, "error.type": type(error).__qualname__}
        self.record_seconds(self.instruments.connection_acquire_time, seconds, attributes, context)

    # Each data point is recorded with the context of the event it belongs to: one
    # context read per event (``current_context()``), not one per point.  These run
    # for every point, so the common case (a plain number in range) is decided and
    # queued inline, without a call.

    def record_seconds(
        self, histogram: Histogram, value: object, attributes: Attributes, context: Context
    ) -> None:
        """Record a duration, or drop it (debug log) when it is not plausible."""
        if not (type(value) is float and 0.0 <= value <= MAX_SECONDS):
            value = _odd(value, MAX_SECONDS, "duration", attributes)
            if value is None:
                return
        _queue.append((histogram, value, attributes, context, False))
        if len(_queue) >= MAX_PENDING:
            PENDING.record_all()

    add = _amount_recorder(additive=True)
    record_amount = _amount_recorder(additive=False)


def _odd(value: object, limit: float, kind: str, attributes: Attributes) -> float | None:
    """The value of an uncommon point (an int duration, a numeric subclass), or None
    for one that is not plausible (logged at debug level)."""
    number = valid_number(value, limit)
    if number is None:
        _logger.debug("dropped %r for %s: not a valid %s", value, attributes, kind)
    return number


def _acquire_attributes(identity: ModelIdentity, reused: str) -> Mapping[str, str]:
    return {**identity.shared_attributes, "connection_reused": reused}
