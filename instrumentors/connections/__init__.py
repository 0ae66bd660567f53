"""Connection timing: every connection acquisition, into ``lk.agents.connection.acquire_time``.

The framework's ``ConnectionPool`` (:mod:`.pool`) hands out most provider
connections; :mod:`.acquisition` holds the one wrapper shape that times any
acquisition, which the provider instrumentors use for the plugins' own
connect methods; :mod:`.transports` times the websocket handshakes that no
acquisition encloses, for the component whose code opened them
(:mod:`.handshake_owner` finds it); :mod:`.native`
records the acquisitions the framework times itself and we do not;
:mod:`.owners` attributes connections made by helpers and closures to their
component; :mod:`.retries` makes a retry loop over a pool one acquisition;
:mod:`.realtime_engine` times the session websockets of every provider on the
OpenAI-protocol realtime engine; :mod:`.first_response` times the synchronous
streaming calls that a provider module's SDK client makes from a worker thread.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from opentelemetry.instrumentation.livekit_agents.instrumentors.connections.native import (
    forget_credits,
)
from opentelemetry.instrumentation.livekit_agents.instrumentors.connections.owners import (
    owner_links,
)
from opentelemetry.instrumentation.livekit_agents.instrumentors.connections.pool import PoolTiming
from opentelemetry.instrumentation.livekit_agents.instrumentors.connections.realtime_engine import (
    realtime_engine_timing,
)
from opentelemetry.instrumentation.livekit_agents.instrumentors.connections.retries import (
    retry_loop_timing,
)
from opentelemetry.instrumentation.livekit_agents.instrumentors.connections.transports import (
    TransportTiming,
)

if TYPE_CHECKING:
    from opentelemetry.instrumentation.livekit_agents.instrumentors.aspect import Aspect
    from opentelemetry.instrumentation.livekit_agents.recorder import Recorder


class ConnectionTiming:
    """The connection-timing aspect: each of its parts patches one kind of connection."""

    def __init__(self) -> None:
        self.parts: tuple[Aspect, ...] = (
            PoolTiming(),
            owner_links(),
            retry_loop_timing(),
            realtime_engine_timing(),
            TransportTiming(),
        )

    def instrument(self, recorder: Recorder) -> None:
        """Patch every part."""
        for part in self.parts:
            part.instrument(recorder)

    def uninstrument(self) -> None:
        """Restore every part, in reverse order."""
        for part in reversed(self.parts):
            part.uninstrument()
        forget_credits()
