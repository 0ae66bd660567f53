"""The base of the per-provider instrumentors in ``instrumentors/``.

A provider instrumentor patches one ``livekit-plugins-<provider>`` package at
the places where it opens connections without a ``ConnectionPool``.  Each is
its own ``BaseInstrumentor``, an entry point ``livekit_agents_<provider>`` of the
group :data:`PROVIDER_ENTRY_POINT_GROUP`; ``AgentsInstrumentor`` instruments every
installed provider that the switch leaves on (``OTEL_PYTHON_DISABLED_INSTRUMENTATIONS
=livekit_agents_<provider>`` switches one off).

Patches are applied by post-import hooks: a plugin imported after
``instrument()`` is patched when it is imported, and a plugin that is never
imported costs nothing.  A patch target that the installed plugin release
lacks is skipped with one debug log.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Collection
from dataclasses import dataclass
from types import ModuleType
from typing import Any, Callable, ClassVar

from opentelemetry.instrumentation.instrumentor import (  # type: ignore[attr-defined]
    BaseInstrumentor,
)
from opentelemetry.instrumentation.utils import unwrap
from wrapt import register_post_import_hook, resolve_path, wrap_function_wrapper

from opentelemetry.instrumentation.livekit_agents.instrumentors.connections.acquisition import (
    Wrapper,
    acquire_wrapper,
    connect_wrapper,
)
from opentelemetry.instrumentation.livekit_agents.model_identity import ModelIdentity, identify
from opentelemetry.instrumentation.livekit_agents.pending_points import PENDING
from opentelemetry.instrumentation.livekit_agents.recorder import Recorder

_logger = logging.getLogger(__name__)

PROVIDER_ENTRY_POINT_GROUP = "opentelemetry_instrumentation_livekit_agents_providers"
"""The entry-point group of the provider instrumentors, which ``AgentsInstrumentor`` reads."""


@dataclass(frozen=True)
class PatchTarget:
    """One method of a plugin module, and the wrapper it gets."""

    module: str
    """``livekit.plugins.deepgram.stt``"""
    name: str
    """``SpeechStream._connect_ws``"""
    wrapper: Callable[[Recorder], Wrapper]


def timed_connect(*owners: str, may_reuse: bool = False) -> Callable[[Recorder], Wrapper]:
    """A ``PatchTarget`` wrapper factory timing a connect method of a stream or session.

    The model is that of the first component found in the ``owners``
    attributes (``_stt``, ``_realtime_model``...), else of the instance itself.
    """

    def identity_of(instance: Any) -> ModelIdentity:
        for name in owners:
            component = getattr(instance, name, None)
            if component is not None:
                return identify(component)
        return identify(instance)

    def factory(recorder: Recorder) -> Wrapper:
        return acquire_wrapper(recorder, identity_of, may_reuse=may_reuse)

    return factory


def marks_new_connection(recorder: Recorder) -> Wrapper:
    """A ``PatchTarget`` wrapper factory for the method that really connects, inside a
    ``timed_connect(may_reuse=True)`` acquisition: it marks that acquisition as new."""
    return connect_wrapper


class ProviderInstrumentor(BaseInstrumentor):  # type: ignore[misc]
    """Patches one provider's plugin; subclasses set ``provider`` and ``targets``."""

    provider: ClassVar[str]
    """The plugin name: ``deepgram`` for ``livekit-plugins-deepgram``."""
    targets: ClassVar[tuple[PatchTarget, ...]]

    _hooks_generation = 0
    _patched: list[tuple[Any, str]]

    def instrumentation_dependencies(self) -> Collection[str]:
        """The plugin distribution this instrumentor patches."""
        return (f"livekit-plugins-{self.provider} >= 1.0, < 2",)

    def _instrument(self, **kwargs: Any) -> None:
        recorder: Recorder = kwargs.get("recorder") or Recorder.create(
            kwargs.get("meter_provider"), kwargs.get("providers"), kwargs.get("exclude_providers")
        )
        # Post-import hooks cannot be removed; a generation tells stale ones to do nothing.
        type(self)._hooks_generation += 1
        self._patched = []
        for target in self.targets:
            hook = functools.partial(self._patch, target, recorder, self._hooks_generation)
            register_post_import_hook(hook, target.module)

    def _uninstrument(self, **kwargs: Any) -> None:
        type(self)._hooks_generation += 1
        for owner, attribute in self._patched:
            unwrap(owner, attribute)
        self._patched = []
        PENDING.record_all()  # what was observed while instrumented still counts

    def _patch(
        self, target: PatchTarget, recorder: Recorder, generation: int, module: ModuleType
    ) -> None:
        if generation != self._hooks_generation:
            return
        try:
            owner, attribute, _ = resolve_path(module, target.name)
            if self._is_patched(owner, attribute):
                # two module paths re-export one class (a plugin shim over core code)
                return
            wrap_function_wrapper(module, target.name, target.wrapper(recorder))
        except (AttributeError, ImportError):
            _logger.debug(
                "%s has no %s in this release: not instrumented", target.module, target.name
            )
            return
        self._patched.append((owner, attribute))

    def _is_patched(self, owner: Any, attribute: str) -> bool:
        return any(o is owner and a == attribute for o, a in self._patched)
