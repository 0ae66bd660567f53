"""Odd metrics values, missing metadata and unknown events: never raised, never recorded."""

from __future__ import annotations

import math
from typing import Any

import pytest
from livekit import rtc
from livekit.agents.metrics import LLMMetrics, STTMetrics, TTSMetrics
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from opentelemetry.instrumentation.livekit_agents.instruments import (
    GEN_AI_OPERATION_DURATION,
    GEN_AI_TOKEN_USAGE,
    LLM_INPUT_CACHED_TOKENS,
    LLM_INPUT_TOKENS,
    LLM_OUTPUT_TOKENS,
    STT_AUDIO_DURATION,
)

from .metric_points import attrs, collect, points
from .metrics_events import llm_metrics, stt_metrics
from .pool_components import WebsocketTTS


def odd(cls: Any, **values: Any) -> Any:
    """A real metrics object holding values its validation would refuse."""
    return cls.model_construct(**values)


class LLMMetricsLookalike:
    """Named like a metrics class, but every field read raises."""

    def __getattr__(self, name: str) -> Any:
        raise RuntimeError(f"no {name}")


LLMMetricsLookalike.__name__ = "LLMMetrics"


@pytest.mark.usefixtures("instrumented")
async def test_odd_values_are_dropped_and_listeners_still_get_them(
    reader: InMemoryMetricReader,
) -> None:
    component = WebsocketTTS("ws://127.0.0.1:9", model="m", provider="p")
    received: list[tuple[Any, ...]] = []
    component.on("metrics_collected", lambda *args: received.append(args))
    events = [
        odd(LLMMetrics, prompt_tokens=-5, completion_tokens=math.nan, prompt_cached_tokens=10**12,
            duration=math.inf, ttft=math.nan, cancelled=False),
        odd(TTSMetrics, characters_count=-1, audio_duration=math.nan),
        odd(TTSMetrics, characters_count="12", audio_duration=True),
        odd(STTMetrics, audio_duration=-0.5),
        odd(STTMetrics),  # no fields at all
        LLMMetricsLookalike(),
        object(),
        "metrics",
    ]  # fmt: skip
    for event in events:
        component.emit("metrics_collected", event)
    component.emit("metrics_collected")  # no payload at all
    well_formed = stt_metrics(2.5)  # the guard: a sane event after them is still recorded
    component.emit("metrics_collected", well_formed)

    assert received == [(event,) for event in events] + [(), (well_formed,)]
    recorded = {name for name in collect(reader) if "usage" in name or "gen_ai" in name}
    assert recorded == {"lk.agents.usage.stt_audio_duration"}
    (point,) = points(reader, "lk.agents.usage.stt_audio_duration")
    assert point.value == pytest.approx(2.5)


@pytest.mark.usefixtures("instrumented")
async def test_missing_metadata_falls_back_to_the_component(reader: InMemoryMetricReader) -> None:
    component = WebsocketTTS("ws://127.0.0.1:9", model="whisper-x", provider="acme")
    component.emit("metrics_collected", stt_metrics(2.5, metadata=None))
    (point,) = points(reader, STT_AUDIO_DURATION.name)
    assert point.value == pytest.approx(2.5)
    assert attrs(point) == {"model_name": "whisper-x", "model_provider": "acme"}


@pytest.mark.usefixtures("instrumented")
async def test_other_events_pass_untouched(reader: InMemoryMetricReader) -> None:
    emitter: rtc.EventEmitter[str] = rtc.EventEmitter()
    received: list[tuple[Any, ...]] = []
    emitter.on("user_state_changed", lambda *args: received.append(args))
    emitter.emit("user_state_changed", stt_metrics(1.0))
    assert len(received) == 1
    assert points(reader, STT_AUDIO_DURATION.name) == []


@pytest.mark.usefixtures("instrumented")
async def test_zero_amounts_are_not_recorded(reader: InMemoryMetricReader) -> None:
    """Nothing used, nothing to add (as the framework's own counters); an event with
    no tokens and no duration is a connection report, not an operation."""
    component = WebsocketTTS("ws://127.0.0.1:9", model="m", provider="p")
    component.emit("metrics_collected", llm_metrics(prompt=10, completion=0, ttft=0.0))
    component.emit("metrics_collected", llm_metrics(prompt=0, completion=0, duration=0.0))
    names = set(collect(reader))
    assert LLM_INPUT_TOKENS.name in names
    assert not names & {
        LLM_OUTPUT_TOKENS.name,
        LLM_INPUT_CACHED_TOKENS.name,
    }
    (tokens,) = points(reader, GEN_AI_TOKEN_USAGE.name)
    assert attrs(tokens)["gen_ai.token.type"] == "input" and tokens.sum == 10
    (duration,) = points(reader, GEN_AI_OPERATION_DURATION.name)
    assert duration.count == 1 and duration.sum == 0.8
