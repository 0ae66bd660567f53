"""Patches of plugin or framework modules, applied when each module is imported.

The connection parts that are not a provider's own (they serve several
providers, or only fix the attribution of points) patch through this: a post-
import hook per target, so a module imported after ``instrument()`` is patched
then, and one never imported costs nothing.  They are not switched per
provider: each point is switched by the provider it is attributed to.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import TYPE_CHECKING, Any, Callable

from opentelemetry.instrumentation.utils import unwrap
from wrapt import register_post_import_hook, resolve_path, wrap_function_wrapper

from opentelemetry.instrumentation.livekit_agents.instrumentors.connections.acquisition import (
    Wrapper,
)

if TYPE_CHECKING:
    from opentelemetry.instrumentation.livekit_agents.recorder import Recorder

_logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class HookedTarget:
    """One method of a module, and the factory of the wrapper it gets."""

    module: str
    name: str
    wrapper: Callable[[Recorder], Wrapper]


class HookedPatches:
    """An aspect patching its targets as their modules are imported."""

    def __init__(self, targets: Sequence[HookedTarget]) -> None:
        self.targets = tuple(targets)
        self._generation = 0
        self._patched: list[tuple[Any, str]] = []

    def instrument(self, recorder: Recorder) -> None:
        """Register one post-import hook per target."""
        # post-import hooks cannot be removed; a generation tells stale ones to do nothing
        self._generation += 1
        for target in self.targets:
            hook = functools.partial(self._patch, target, recorder, self._generation)
            register_post_import_hook(hook, target.module)

    def uninstrument(self) -> None:
        """Restore every patched method."""
        self._generation += 1
        for owner, attribute in reversed(self._patched):
            unwrap(owner, attribute)
        self._patched = []

    def _patch(
        self, target: HookedTarget, recorder: Recorder, generation: int, module: ModuleType
    ) -> None:
        if generation != self._generation:
            return
        try:
            owner, attribute, _ = resolve_path(module, target.name)
            if any(o is owner and a == attribute for o, a in self._patched):
                return  # two module paths re-export one class
            if attribute not in vars(owner):  # inherited: its own class is patched, or not ours
                raise AttributeError(target.name)
            wrap_function_wrapper(module, target.name, target.wrapper(recorder))
        except (AttributeError, ImportError):
            _logger.debug("%s has no %s in this release", target.module, target.name)
            return
        self._patched.append((owner, attribute))
