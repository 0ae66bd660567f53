"""Keeps the framework's end-of-job turn replay from counting our turns twice.

livekit-agents 1.5.2+ records its turn latencies once per job, at its end:
``JobContext._on_session_end`` calls ``otel_metrics.flush_turn_metrics`` with
the session's whole history.  While instrumented that call is suspended
(:mod:`.coexistence`), as this package records each turn as it ends.  When
``uninstrument()`` runs during a job the restored function would replay every
turn already recorded, so each of those turns would count twice in the
provider both record into.

So :class:`RecordedTurns` remembers (weakly) every message whose turn points
were recorded, and when ``uninstrument()`` runs in a job with such messages
:func:`guard_replay` leaves ``flush_turn_metrics`` wrapped by a filter that
passes on only the messages this package did not record.  The next
``instrument()`` removes the filter before suspending the function again.
"""

from __future__ import annotations

import importlib
import logging
import weakref
from typing import Any, Callable

from opentelemetry.instrumentation.utils import unwrap
from opentelemetry.metrics import MeterProvider
from wrapt import wrap_function_wrapper

from opentelemetry.instrumentation.livekit_agents.error_boundary import never_raises
from opentelemetry.instrumentation.livekit_agents.instrumentors.coexistence import (
    shares_framework_provider,
)
from opentelemetry.instrumentation.livekit_agents.instrumentors.job_flush import in_job

_logger = logging.getLogger(__name__)

_MODULE = "livekit.agents.telemetry.otel_metrics"
_REPLAY = "flush_turn_metrics"


class RecordedTurns:
    """The chat messages whose turn points this package recorded, while they live."""

    def __init__(self) -> None:
        # by id(): messages are pydantic models, which are not hashable
        self._messages: weakref.WeakValueDictionary[int, Any] = weakref.WeakValueDictionary()

    @never_raises
    def add(self, message: Any) -> None:
        """Remember a message whose report was recorded."""
        self._messages[id(message)] = message

    def __contains__(self, message: object) -> bool:
        return self._messages.get(id(message)) is message

    def __len__(self) -> int:
        return len(self._messages)


RECORDED = RecordedTurns()
"""The process's recorded turns: a job's history outlives an instrument() cycle."""


class _ReplayGuard:
    """The filter left on ``flush_turn_metrics``: replays only the turns we did not record."""

    def __init__(self, meter_provider: MeterProvider | None) -> None:
        self._meter_provider = meter_provider

    def __call__(self, wrapped: Callable[..., Any], instance: Any, args: Any, kwargs: Any) -> Any:
        chat_ctx = args[0] if args else kwargs.get("chat_ctx")
        unrecorded = self._unrecorded(chat_ctx)
        if unrecorded is None:  # separate providers, or a history we cannot read: no change
            return wrapped(*args, **kwargs)
        return wrapped(unrecorded)

    @never_raises
    def _unrecorded(self, chat_ctx: Any) -> Any:
        # a separate provider of ours: the framework's replay goes elsewhere, so it is no copy
        if not shares_framework_provider(self._meter_provider):
            return None
        items = [item for item in chat_ctx.items if item not in RECORDED]
        return type(chat_ctx)(items)


_guarded = False


def guard_replay(meter_provider: MeterProvider | None) -> None:
    """Filter the framework's replay if turns recorded by us may still be replayed:
    in a job (only a job's end replays), with recorded messages alive."""
    global _guarded
    if _guarded or not len(RECORDED) or not in_job():
        return
    try:
        module = importlib.import_module(_MODULE)
    except ImportError:  # before 1.5.2 the framework replays nothing
        return
    if hasattr(module, _REPLAY):
        wrap_function_wrapper(module, _REPLAY, _ReplayGuard(meter_provider))
        _guarded = True


def unguard_replay() -> None:
    """Remove the filter, leaving ``flush_turn_metrics`` as the framework defines it."""
    global _guarded
    if _guarded:
        unwrap(importlib.import_module(_MODULE), _REPLAY)
        _guarded = False
