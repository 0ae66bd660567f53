"""Realtime usage: token details and session duration from RealtimeModelMetrics."""

from __future__ import annotations

from typing import Any

import pytest
from livekit.agents.metrics import RealtimeModelMetrics
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from opentelemetry.instrumentation.livekit_agents.instruments import (
    BY_NAME,
    GEN_AI_OPERATION_DURATION,
    GEN_AI_TIME_TO_FIRST_CHUNK,
    GEN_AI_TOKEN_USAGE,
)

from .metric_points import attrs, points
from .realtime_components import ScriptedRealtimeModel, realtime_metrics

HAS_SESSION_DURATION = "session_duration" in RealtimeModelMetrics.model_fields  # 1.5+

RESPONSES = [
    {"input_audio": 120, "input_text": 30, "cached": 64, "output_audio": 200, "output_text": 40,
     "session_duration": 12.5},
    {"input_audio": 80, "input_text": 0, "cached": 0, "output_audio": 150, "output_text": 25,
     "session_duration": 3.0},
    {"input_audio": 0, "input_text": 55, "cached": 32, "output_audio": 0, "output_text": 90,
     "session_duration": 0.0},
]  # fmt: skip


def total(events: list[Any], read: Any) -> float:
    return sum(read(event) for event in events)


def counter(reader: InMemoryMetricReader, name: str) -> dict[tuple[str, str], float]:
    return {
        (attrs(p)["model_name"], attrs(p)["model_provider"]): p.value
        for p in points(reader, BY_NAME[f"lk.agents.usage.{name}"].name)
    }


@pytest.mark.usefixtures("instrumented")
async def test_realtime_counters_match_the_emitted_events(reader: InMemoryMetricReader) -> None:
    model = ScriptedRealtimeModel("gpt-realtime-test", "openai")
    session = model.session()
    seen: list[Any] = []
    session.on("metrics_collected", seen.append)  # the framework's own event: ground truth
    for response in RESPONSES:
        session.emit("metrics_collected", realtime_metrics(**response))

    assert len(seen) == len(RESPONSES)
    key = ("gpt-realtime-test", "openai")
    expected = {
        "llm_input_tokens": total(seen, lambda e: e.input_tokens),
        "llm_output_tokens": total(seen, lambda e: e.output_tokens),
        "llm_input_cached_tokens": total(seen, lambda e: e.input_token_details.cached_tokens),
        "llm_input_audio_tokens": total(seen, lambda e: e.input_token_details.audio_tokens),
        "llm_input_text_tokens": total(seen, lambda e: e.input_token_details.text_tokens),
        "llm_output_audio_tokens": total(seen, lambda e: e.output_token_details.audio_tokens),
        "llm_output_text_tokens": total(seen, lambda e: e.output_token_details.text_tokens),
    }
    for name, value in expected.items():
        assert counter(reader, name) == {key: value}, name

    if HAS_SESSION_DURATION:
        assert counter(reader, "llm_session_duration") == {
            key: pytest.approx(total(seen, lambda e: e.session_duration))
        }
    else:
        assert counter(reader, "llm_session_duration") == {}, "no such field before 1.5"


@pytest.mark.usefixtures("instrumented")
async def test_realtime_gen_ai_metrics(reader: InMemoryMetricReader) -> None:
    session = ScriptedRealtimeModel("gpt-realtime-test", "api.openai.com").session()
    session.emit("metrics_collected", realtime_metrics(**RESPONSES[0], duration=2.0, ttft=0.25))
    session.emit("metrics_collected", realtime_metrics(**RESPONSES[1], duration=1.0, ttft=-1))

    gen_ai = {
        "gen_ai.operation.name": "generate_content",
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": "gpt-realtime-test",
    }
    tokens = {attrs(p)["gen_ai.token.type"]: p for p in points(reader, GEN_AI_TOKEN_USAGE.name)}
    assert tokens["input"].sum == 150 + 80 and tokens["input"].count == 2
    assert tokens["output"].sum == 240 + 175 and tokens["output"].count == 2
    assert attrs(tokens["input"]) == {**gen_ai, "gen_ai.token.type": "input"}

    (duration,) = points(reader, GEN_AI_OPERATION_DURATION.name)
    assert attrs(duration) == gen_ai
    assert (duration.count, duration.sum) == (2, pytest.approx(3.0))
    (ttfc,) = points(reader, GEN_AI_TIME_TO_FIRST_CHUNK.name)
    assert (ttfc.count, ttfc.sum) == (1, pytest.approx(0.25)), "ttft -1 means no first chunk"
