"""The one place that reads OpenTelemetry's private names: the current context and
whether instrumentation is suppressed in it.

``opentelemetry-api`` offers ``context.get_current()`` and
``is_instrumentation_enabled()``; this module reads the same through the names
they use, so one context read per event answers both, and the read gives the
context that the event's data points keep for exemplars.  Every private name
is read here and nowhere else, with a public fallback where one exists.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Callable

from opentelemetry.context import _SUPPRESS_INSTRUMENTATION_KEY, Context
from opentelemetry.context.contextvars_context import ContextVarsRuntimeContext
from opentelemetry.instrumentation.utils import _SUPPRESS_INSTRUMENTATION_KEY_PLAIN

from opentelemetry import context as context_api


class _ContextReader:
    """How the current context is read: through the default runtime context's
    ``ContextVar`` directly, else through ``context.get_current()``."""

    read: Callable[[], Context] = context_api.get_current

    def follow_runtime_context(self) -> None:
        """Read the context as the runtime context of the moment allows (called at
        every ``instrument()``, so a runtime replaced after import is followed)."""
        self.read = reader_for_runtime_context()


def reader_for_runtime_context() -> Callable[[], Context]:
    """``context.get_current``, or the ``ContextVar.get`` it ends in when the runtime
    context is the API's default one."""
    runtime = getattr(context_api, "_RUNTIME_CONTEXT", None)
    variable = getattr(runtime, "_current_context", None)
    if type(runtime) is ContextVarsRuntimeContext and callable(getattr(variable, "get", None)):
        return variable.get  # type: ignore[union-attr,no-any-return]
    return context_api.get_current


CONTEXT_READER = _ContextReader()
"""The process's context reader: the runtime context is process-wide too."""


def current_context() -> Context | None:
    """The current context, or None where instrumentation is suppressed."""
    context = CONTEXT_READER.read()
    if context.get(_SUPPRESS_INSTRUMENTATION_KEY) or context.get(
        _SUPPRESS_INSTRUMENTATION_KEY_PLAIN
    ):
        return None
    return context


def metric_readers(meter_provider: object) -> Sequence[object] | None:
    """The readers an SDK ``MeterProvider`` was given, or None where it does not say.

    The SDK keeps them in ``_metric_readers`` (older releases only in
    ``_sdk_config.metric_readers``) and has no public way to list them.
    """
    readers = getattr(meter_provider, "_metric_readers", None)
    if readers is None:
        readers = getattr(getattr(meter_provider, "_sdk_config", None), "metric_readers", None)
    if isinstance(readers, (list, tuple)):
        return tuple(readers)
    return None
