"""Usage counters against the usage the framework itself reported, in and out of a session."""

from __future__ import annotations

import asyncio
import inspect
from typing import Any

import pytest
from livekit.agents import APIConnectionError, APIConnectOptions, llm
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from opentelemetry.instrumentation.livekit_agents.demo import simulation as sim
from opentelemetry.instrumentation.livekit_agents.instruments import (
    BY_NAME,
    GEN_AI_OPERATION_DURATION,
    GEN_AI_TIME_TO_FIRST_CHUNK,
    GEN_AI_TOKEN_USAGE,
)

from .metric_points import attrs, points
from .simulated_session import started
from .waiting import wait_until

pytestmark = pytest.mark.usefixtures("quiet_gc")


def totals(reader: InMemoryMetricReader, name: str) -> dict[tuple[str, str], float]:
    return {
        (str(attrs(p)["model_provider"]), str(attrs(p)["model_name"])): p.value
        for p in points(reader, BY_NAME[f"lk.agents.usage.{name}"].name)
    }


def summed(events: list[Any], kind: str, field: str) -> float:
    return sum(getattr(e, field) for e in events if type(e).__name__ == kind)


def count(events: list[Any], kind: str) -> int:
    return len([e for e in events if type(e).__name__ == kind])


async def wait_reported(events: list[Any], llm_calls: int, tts_texts: list[str]) -> None:
    """Until the framework has reported every LLM call and every character spoken."""
    characters = sum(map(len, tts_texts))
    await wait_until(
        lambda: (
            count(events, "LLMMetrics") == llm_calls
            and summed(events, "TTSMetrics", "characters_count") == characters
        ),
        f"{llm_calls} LLMMetrics and {characters} TTS characters reported",
    )


TURNS = [
    sim.UserTurn("Hello there.", speech_duration=0.4,
                 reply=sim.AgentReply("Hi, how can I help?", prompt_tokens=31,
                                      completion_tokens=7, prompt_cached_tokens=12)),
    sim.UserTurn("What is the weather like?", speech_duration=0.7,
                 reply=sim.AgentReply("It is sunny.", prompt_tokens=58, completion_tokens=4)),
    sim.UserTurn("Thanks.", speech_duration=0.3,
                 reply=sim.AgentReply("You are welcome.", prompt_tokens=75, completion_tokens=3,
                                      prompt_cached_tokens=40)),
]  # fmt: skip


@pytest.mark.usefixtures("instrumented")
async def test_session_usage_equals_what_the_framework_reported(
    reader: InMemoryMetricReader,
) -> None:
    s = await started()
    try:
        await sim.run_conversation(s.session, TURNS)
        texts = [turn.reply.text for turn in TURNS if turn.reply is not None]
        await wait_reported(s.observed.metrics, len(TURNS), texts)
    finally:
        await s.session.aclose()
    seen = s.observed.metrics  # the session's own metrics_collected events

    assert totals(reader, "llm_input_tokens") == {
        ("llmco", "llm-a"): summed(seen, "LLMMetrics", "prompt_tokens")
    }
    assert totals(reader, "llm_input_tokens")[("llmco", "llm-a")] == 31 + 58 + 75
    assert totals(reader, "llm_output_tokens") == {
        ("llmco", "llm-a"): summed(seen, "LLMMetrics", "completion_tokens")
    }
    assert totals(reader, "llm_input_cached_tokens") == {
        ("llmco", "llm-a"): summed(seen, "LLMMetrics", "prompt_cached_tokens")
    }
    assert totals(reader, "tts_characters") == {
        ("ttsco", "tts-a"): summed(seen, "TTSMetrics", "characters_count")
    }
    tts_audio = totals(reader, "tts_audio_duration")[("ttsco", "tts-a")]
    assert tts_audio == pytest.approx(summed(seen, "TTSMetrics", "audio_duration"))
    stt_audio = totals(reader, "stt_audio_duration")[("sttco", "stt-a")]
    assert stt_audio == pytest.approx(summed(seen, "STTMetrics", "audio_duration"))
    assert stt_audio > 0

    calls = len([e for e in seen if type(e).__name__ == "LLMMetrics"])
    (duration,) = points(reader, GEN_AI_OPERATION_DURATION.name)
    assert duration.count == calls
    assert attrs(duration) == {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "llmco",
        "gen_ai.request.model": "llm-a",
    }
    tokens = {attrs(p)["gen_ai.token.type"]: p for p in points(reader, GEN_AI_TOKEN_USAGE.name)}
    assert tokens["input"].sum == summed(seen, "LLMMetrics", "prompt_tokens")
    assert tokens["output"].sum == summed(seen, "LLMMetrics", "completion_tokens")
    (ttfc,) = points(reader, GEN_AI_TIME_TO_FIRST_CHUNK.name)
    assert ttfc.sum == pytest.approx(summed(seen, "LLMMetrics", "ttft"))


async def collect_stream(stream: Any) -> None:
    async with stream:
        async for _ in stream:
            pass


@pytest.mark.usefixtures("instrumented")
async def test_components_used_without_a_session(reader: InMemoryMetricReader) -> None:
    tts = sim.SimulatedTTS("ttsco", "tts-direct")
    chat = sim.SimulatedLLM("llmco", "llm-direct", prompt_tokens=17)
    seen: list[Any] = []
    tts.on("metrics_collected", seen.append)
    chat.on("metrics_collected", seen.append)

    for text in ("One sentence.", "Another, longer sentence to speak."):
        await collect_stream(tts.synthesize(text))
    chat_ctx = llm.ChatContext()
    chat_ctx.add_message(role="user", content="Hi")
    await collect_stream(chat.chat(chat_ctx=chat_ctx))
    await wait_reported(seen, 1, ["One sentence.", "Another, longer sentence to speak."])

    assert totals(reader, "tts_characters") == {
        ("ttsco", "tts-direct"): summed(seen, "TTSMetrics", "characters_count")
    }
    assert totals(reader, "tts_characters")[("ttsco", "tts-direct")] == len(
        "One sentence." + "Another, longer sentence to speak."
    )
    assert totals(reader, "llm_input_tokens") == {("llmco", "llm-direct"): 17}
    assert totals(reader, "llm_output_tokens") == {
        ("llmco", "llm-direct"): summed(seen, "LLMMetrics", "completion_tokens")
    }


class _OutageStream(llm.LLMStream):
    async def _run(self) -> None:
        raise APIConnectionError("scripted outage")


class UnavailableLLM(sim.SimulatedLLM):
    """A provider that is down: every request fails to connect."""

    def chat(self, *args: Any, **kwargs: Any) -> llm.LLMStream:
        return _OutageStream(
            self,
            chat_ctx=kwargs["chat_ctx"],
            tools=kwargs.get("tools") or [],
            conn_options=kwargs.get("conn_options") or APIConnectOptions(max_retry=0),
        )


def fallback_adapter(primary: llm.LLM[Any], backup: llm.LLM[Any]) -> llm.FallbackAdapter:
    options = inspect.signature(llm.FallbackAdapter).parameters
    extra: dict[str, Any] = {"max_retry_per_llm": 0} if "max_retry_per_llm" in options else {}
    if "retry_on_chunk_sent" in options:
        extra["retry_on_chunk_sent"] = False
    return llm.FallbackAdapter([primary, backup], **extra)


@pytest.mark.usefixtures("instrumented")
async def test_fallback_adapter_counts_once_for_the_serving_provider(
    reader: InMemoryMetricReader,
) -> None:
    backup = sim.SimulatedLLM("backupco", "llm-backup", prompt_tokens=23)
    adapter = fallback_adapter(UnavailableLLM("downco", "llm-down"), backup)
    seen: list[Any] = []
    adapter.on("metrics_collected", seen.append)  # the adapter re-emits what it served

    chat_ctx = llm.ChatContext()
    chat_ctx.add_message(role="user", content="Hi")
    await collect_stream(adapter.chat(chat_ctx=chat_ctx))
    await collect_stream(adapter.chat(chat_ctx=chat_ctx))
    await wait_reported(seen, 2, [])
    await adapter.aclose()

    assert summed(seen, "LLMMetrics", "prompt_tokens") == 2 * 23
    assert totals(reader, "llm_input_tokens") == {("backupco", "llm-backup"): 2 * 23}
    assert totals(reader, "llm_output_tokens") == {
        ("backupco", "llm-backup"): summed(seen, "LLMMetrics", "completion_tokens")
    }


class ForwardingLLM(sim.SimulatedLLM):
    """A wrapper that is none of the framework's adapters and re-emits its child's
    usage events, as ``MultiSpeakerAdapter`` and ``DuplexAdapter`` do."""

    def __init__(self, child: sim.SimulatedLLM) -> None:
        super().__init__("wrapperco", "llm-wrapper")
        self.child = child
        child.on("metrics_collected", lambda event: self.emit("metrics_collected", event))

    def chat(self, *args: Any, **kwargs: Any) -> llm.LLMStream:
        return self.child.chat(*args, **kwargs)


@pytest.mark.usefixtures("instrumented")
async def test_a_forwarding_wrapper_counts_once_for_the_component_it_wraps(
    reader: InMemoryMetricReader,
) -> None:
    wrapper = ForwardingLLM(sim.SimulatedLLM("innerco", "llm-inner", prompt_tokens=29))
    seen: list[Any] = []
    wrapper.on("metrics_collected", seen.append)

    chat_ctx = llm.ChatContext()
    chat_ctx.add_message(role="user", content="Hi")
    for _ in range(3):
        await collect_stream(wrapper.chat(chat_ctx=chat_ctx))
    await wait_reported(seen, 3, [])

    assert summed(seen, "LLMMetrics", "prompt_tokens") == 3 * 29  # the wrapper got them all
    assert totals(reader, "llm_input_tokens") == {("innerco", "llm-inner"): 3 * 29}


@pytest.mark.usefixtures("instrumented")
async def test_concurrent_sessions_each_count_their_own(reader: InMemoryMetricReader) -> None:
    async def converse(prefix: str, prompt_tokens: int) -> Any:
        s = await started(prefix)
        reply = sim.AgentReply("Fine.", prompt_tokens=prompt_tokens)
        await sim.run_conversation(s.session, [sim.UserTurn("Hi.", reply=reply)] * 2)
        await wait_reported(s.observed.metrics, 2, ["Fine.", "Fine."])
        await s.session.aclose()
        return s

    sessions = await asyncio.gather(converse("one-", 11), converse("two-", 29))
    inputs = totals(reader, "llm_input_tokens")
    characters = totals(reader, "tts_characters")
    for s, prefix in zip(sessions, ("one-", "two-")):
        seen = s.observed.metrics
        assert inputs[("llmco", f"{prefix}llm-a")] == summed(seen, "LLMMetrics", "prompt_tokens")
        assert characters[("ttsco", f"{prefix}tts-a")] == summed(
            seen, "TTSMetrics", "characters_count"
        )
    assert inputs == {("llmco", "one-llm-a"): 22, ("llmco", "two-llm-a"): 58}


async def test_switched_off_provider_counts_nothing(
    meter_provider: Any, reader: InMemoryMetricReader
) -> None:
    from opentelemetry.instrumentation.livekit_agents import AgentsInstrumentor

    AgentsInstrumentor().instrument(meter_provider=meter_provider, exclude_providers=["llmco"])
    try:
        tts = sim.SimulatedTTS("ttsco", "tts-on")
        chat = sim.SimulatedLLM("llmco", "llm-off")
        await collect_stream(tts.synthesize("Still counted."))
        chat_ctx = llm.ChatContext()
        chat_ctx.add_message(role="user", content="Hi")
        await collect_stream(chat.chat(chat_ctx=chat_ctx))
        await wait_until(lambda: points(reader, "lk.agents.usage.tts_characters"), "the TTS point")
    finally:
        AgentsInstrumentor().uninstrument()

    assert totals(reader, "tts_characters") == {("ttsco", "tts-on"): len("Still counted.")}
    assert totals(reader, "llm_input_tokens") == {}
    assert points(reader, GEN_AI_OPERATION_DURATION.name) == []
