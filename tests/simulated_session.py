"""A real AgentSession on the package's simulation components, and its own events.

The events the session itself emits (``metrics_collected`` and, from 1.3.1,
``conversation_item_added`` with ``ChatMessage.metrics``) are the ground truth
the instrumentation's data points are checked against.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

from livekit import rtc
from livekit.agents import Agent, AgentSession, llm

from opentelemetry.instrumentation.livekit_agents.demo import simulation as sim

HAS_METRICS_REPORT = "metrics" in getattr(llm.ChatMessage, "model_fields", {})  # 1.3.1+
MIN_ENDPOINTING_DELAY = 0.2
MIN_INTERRUPTION_DURATION = 0.3


@dataclass
class Observed:
    """What the session itself reported."""

    metrics: list[Any] = field(default_factory=list)
    messages: list[Any] = field(default_factory=list)

    def for_speech(self, kind: str | type, speech_id: str | None) -> Any:
        found = [m for m in self.of(kind) if getattr(m, "speech_id", None) == speech_id]
        assert len(found) == 1, f"{kind} for {speech_id}: {found}"
        return found[0]

    def of(self, kind: str | type) -> list[Any]:
        """The metrics of a class, given itself or its name (a release may lack it)."""
        name = kind if isinstance(kind, str) else kind.__name__
        return [m for m in self.metrics if type(m).__name__ == name]

    def message(self, role: str, text: str) -> Any:
        found = [m for m in self.messages if m.role == role and m.text_content == text]
        assert len(found) == 1, f"{role} message {text!r}: {self.messages}"
        return found[0]

    async def wait_message(self, role: str, text: str, timeout: float = 5.0) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(m.role == role and m.text_content == text for m in self.messages):
                return self.message(role, text)
            await asyncio.sleep(0.01)
        return self.message(role, text)


@dataclass
class SimulatedSession:
    session: AgentSession[Any]
    stt: sim.SimulatedSTT
    llm: sim.SimulatedLLM
    tts: sim.SimulatedTTS
    observed: Observed


def new_session(prefix: str = "") -> SimulatedSession:
    """A session whose STT, LLM and TTS are models ``<prefix>stt-a`` etc. of three providers."""
    parts = (
        sim.SimulatedSTT("sttco", f"{prefix}stt-a"),
        sim.SimulatedLLM("llmco", f"{prefix}llm-a"),
        sim.SimulatedTTS("ttsco", f"{prefix}tts-a"),
    )
    session = sim.simulated_session(
        stt=parts[0],
        llm=parts[1],
        tts=parts[2],
        vad_silence=0.15,
        min_endpointing_delay=MIN_ENDPOINTING_DELAY,
        min_interruption_duration=MIN_INTERRUPTION_DURATION,
    )
    observed = Observed()

    def on_item(event: Any) -> None:
        if getattr(event.item, "type", "message") == "message":
            observed.messages.append(event.item)

    def on_metrics(event: Any) -> None:
        observed.metrics.append(event.metrics)

    # the base EventEmitter.on: AgentSession.on warns about metrics_collected from 1.5
    emitter: Any = session
    rtc.EventEmitter.on(emitter, "metrics_collected", on_metrics)
    rtc.EventEmitter.on(emitter, "conversation_item_added", on_item)
    return SimulatedSession(session, *parts, observed=observed)


async def started(prefix: str = "") -> SimulatedSession:
    simulated = new_session(prefix)
    await simulated.session.start(Agent(instructions="You are a scripted test agent."))
    return simulated
