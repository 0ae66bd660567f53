"""Connection timing: every connection acquisition, into ``lk.agents.connection.acquire_time``.

The framework's ``ConnectionPool`` (:mod:`.pool`) hands out most provider
connections; :mod:`.acquisition` holds the one wrapper shape that times any
acquisition, which the provider instrumentors use for the plugins' own
connect methods; :mod:`.transports` times the websocket handshakes that no
acquisition encloses, for the component whose code opened them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from opentelemetry.instrumentation.livekit_agents.instrumentors.connections.pool import PoolTiming
from opentelemetry.instrumentation.livekit_agents.instrumentors.connections.transports import (
    TransportTiming,
)

if TYPE_CHECKING:
    from opentelemetry.instrumentation.livekit_agents.instrumentors.aspect import Aspect
    from opentelemetry.instrumentation.livekit_agents.recorder import Recorder


class ConnectionTiming:
    """The connection-timing aspect: each of its parts patches one kind of connection."""

    def __init__(self) -> None:
        self.parts: tuple[Aspect, ...] = (PoolTiming(), TransportTiming())

    def instrument(self, recorder: Recorder) -> None:
        """Patch every part."""
        for part in self.parts:
            part.instrument(recorder)

    def uninstrument(self) -> None:
        """Restore every part, in reverse order."""
        for part in reversed(self.parts):
            part.uninstrument()
