"""The interface of every framework aspect that ``AgentsInstrumentor`` applies."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from opentelemetry.instrumentation.livekit_agents.recorder import Recorder


class Aspect(Protocol):
    """One feature: its patch points and the state they share, on one object.

    ``AgentsInstrumentor`` creates each aspect at ``instrument()``, calls
    ``instrument(recorder)`` in the order it lists them and ``uninstrument()`` in
    the reverse order; an uninstrumented aspect holds nothing.
    """

    def instrument(self, recorder: Recorder) -> None:
        """Patch the framework and start recording through ``recorder``."""

    def uninstrument(self) -> None:
        """Restore what ``instrument`` patched and forget every state."""
