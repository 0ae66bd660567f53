"""The demo's conversation: the script played into a real session, turn by turn.

The STT, LLMs and TTS are the simulation's, labelled as the real plugins label
theirs (:mod:`.script`); the TTS holds a connection from a real livekit-agents
``ConnectionPool`` for every reply, as the cartesia and deepgram plugins do.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import AsyncIterable, AsyncIterator
from typing import Any, cast

from livekit import rtc
from livekit.agents import Agent, ModelSettings, utils
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from opentelemetry.instrumentation.livekit_agents.demo import simulation as sim
from opentelemetry.instrumentation.livekit_agents.demo._release import accepts
from opentelemetry.instrumentation.livekit_agents.demo.script import (
    FRONT_DESK,
    STT,
    TTS,
    TTS_HANDSHAKE,
    Pace,
    Persona,
    SimulatedProvider,
    script,
    user_turn,
)
from opentelemetry.instrumentation.livekit_agents.demo.summary import (
    E2E,
    TurnResult,
    TurnTotals,
    new_values,
    turn_totals,
)

# 1.0.x calls connect_cb() and get() without arguments; 1.1+ passes a timeout
_POOL_KWARGS: dict[str, Any] = (
    {"timeout": 10.0} if accepts(utils.ConnectionPool.get, "timeout") else {}
)


class WebsocketTTS(sim.SimulatedTTS):
    """A simulated websocket TTS: every reply holds a pooled connection.

    Opening one waits a simulated handshake; later replies reuse it, until the
    pool retires it after ``pace.reconnect_after`` seconds.
    """

    def __init__(self, pace: Pace, rng: random.Random) -> None:
        super().__init__(
            TTS.provider,
            TTS.model,
            ttfb=TTS.median * pace.delay_scale,
            seconds_per_char=pace.tts_seconds_per_char,
        )
        self._pace = pace
        self._rng = rng
        self.pool: Any = utils.ConnectionPool(
            connect_cb=self._connect,
            close_cb=self._disconnect,
            max_session_duration=pace.reconnect_after,
        )

    async def _connect(self, timeout: float = 10.0) -> object:
        # bound to this TTS, so the instrumentation attributes the pool to it
        await asyncio.sleep(TTS_HANDSHAKE.draw(self._rng, self._pace.delay_scale))
        return object()

    async def _disconnect(self, connection: object) -> None:
        return None

    @contextlib.asynccontextmanager
    async def connection(self) -> AsyncIterator[object]:
        """A pooled connection for one reply."""
        async with self.pool.connection(**_POOL_KWARGS) as conn:
            yield conn


class DemoAgent(Agent):
    """An agent whose replies go through a pooled TTS connection."""

    async def tts_node(
        self, text: AsyncIterable[str], model_settings: ModelSettings
    ) -> AsyncIterator[rtc.AudioFrame]:
        frames = cast(
            AsyncIterable[rtc.AudioFrame], Agent.default.tts_node(self, text, model_settings)
        )
        tts = self.session.tts
        async with tts.connection() if isinstance(tts, WebsocketTTS) else _nothing():
            async for frame in frames:
                yield frame


@contextlib.asynccontextmanager
async def _nothing() -> AsyncIterator[None]:
    yield None


def simulated_stt() -> sim.SimulatedSTT:
    """The demo's STT, labelled as the Deepgram plugin's."""
    return sim.SimulatedSTT(STT.provider, STT.model)


def simulated_llm(provider: SimulatedProvider) -> sim.SimulatedLLM:
    """A persona's LLM, labelled as its provider's plugin labels it."""
    return sim.SimulatedLLM(provider.provider, provider.model)


def _new_session(pace: Pace, rng: random.Random) -> tuple[Any, WebsocketTTS]:
    tts = WebsocketTTS(pace, rng)
    session = sim.simulated_session(
        stt=simulated_stt(),
        llm=simulated_llm(FRONT_DESK.llm),
        tts=tts,
        vad_silence=pace.vad_silence,
        min_endpointing_delay=pace.endpointing_delay,
    )
    return session, tts


async def _turn_values(reader: InMemoryMetricReader, before: TurnTotals) -> dict[str, float]:
    """This turn's metrics; the reply's e2e point may land just after its playout."""
    deadline = time.monotonic() + 2.0
    while True:
        values = new_values(before, turn_totals(reader))
        if E2E in values or time.monotonic() > deadline:
            return values
        await asyncio.sleep(0.02)


async def converse(
    reader: InMemoryMetricReader, turns: int, pace: Pace, seed: int, out: Any
) -> list[TurnResult]:
    """Play the script into a real session; print each turn as it ends."""
    rng = random.Random(seed)
    session, tts = _new_session(pace, rng)
    persona = FRONT_DESK
    results: list[TurnResult] = []
    prompt_tokens = 180  # the system prompt; the context grows with each exchange
    cached_tokens = 0  # the provider caches the prompt prefix it has already seen
    await session.start(DemoAgent(instructions=persona.instructions))
    try:
        for number, (who, user, reply) in enumerate(script(turns), start=1):
            if who is not persona:
                persona, cached_tokens = who, 0  # a new LLM has nothing cached
                await _handoff(session, persona, out)
            turn = user_turn(user, reply, persona.llm, pace, rng, prompt_tokens, cached_tokens)
            before = turn_totals(reader)
            await sim.run_conversation(session, [turn])
            values = await _turn_values(reader, before)
            result = TurnResult(number, persona.name, persona.llm.model, user, reply, values)
            results.append(result)
            _print_progress(result, turns, persona, out)
            cached_tokens = prompt_tokens // 64 * 64
            prompt_tokens += 12 + round(len(f"{user} {reply}".split()) * 1.3)
    finally:
        await session.aclose()
        await tts.pool.aclose()
    return results


async def _handoff(session: Any, persona: Persona, out: Any) -> None:
    session.update_agent(
        DemoAgent(instructions=persona.instructions, llm=simulated_llm(persona.llm))
    )
    await asyncio.sleep(0.3)  # let the new agent's activity start
    print(
        f"  -> handoff to {persona.name} (LLM {persona.llm.provider}/{persona.llm.model})",
        file=out,
        flush=True,
    )


def _print_progress(result: TurnResult, turns: int, persona: Persona, out: Any) -> None:
    e2e = result.values.get(E2E)
    latency = f"e2e {e2e:.2f} s" if e2e is not None else "e2e -"
    width = len(str(turns))
    print(
        f"  [{result.number:>{width}}/{turns}] caller: {result.user}\n"
        f"  {'':>{2 * width + 2}} {persona.name} ({persona.llm.provider}/{persona.llm.model}): "
        f"{result.reply}  [{latency}]",
        file=out,
        flush=True,
    )
