"""Turn latency histograms, recorded as each turn ends, against the framework's own values."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from livekit.agents import Agent
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from opentelemetry.instrumentation.livekit_agents.demo import simulation as sim

from .metric_points import attrs, collect
from .simulated_session import HAS_METRICS_REPORT, SimulatedSession, started
from .waiting import wait_until

pytestmark = pytest.mark.usefixtures("quiet_gc")

E2E_BEFORE_REPORTS = 0.15
"""Seconds. Before 1.3.1 the framework reports no e2e figure: ours is compared with the
playback the simulation observed, two clocks on one interval that a busy machine moves
apart by the event loop's lag; a formula off by a whole stage (0.2 s or more) still fails."""
USER_METRICS = ("transcription_delay", "end_of_turn_delay", "on_user_turn_completed_delay")
REPLY_METRICS = ("e2e_latency", "llm_ttft", "tts_ttfb")

Series = dict[tuple[str, str], tuple[int, float]]


def snapshot(reader: InMemoryMetricReader) -> Series:
    """(turn metric, model_name) -> (count, sum), cumulative."""
    series: Series = {}
    for name, metric in collect(reader).items():
        if name.startswith("lk.agents.turn."):
            for point in metric.data.data_points:  # type: ignore[union-attr]
                key = (name.removeprefix("lk.agents.turn."), str(attrs(point)["model_name"]))
                series[key] = (point.count, point.sum)  # type: ignore[union-attr]
    return series


def delta(before: Series, after: Series) -> dict[tuple[str, str], tuple[int, float]]:
    changed = {}
    for key, (count, total) in after.items():
        old_count, old_total = before.get(key, (0, 0.0))
        if count != old_count:
            changed[key] = (count - old_count, total - old_total)
    return changed


def truth(s: SimulatedSession, turn: sim.UserTurn, record: sim.TurnRecord) -> dict[str, float]:
    """The framework's own value of every turn metric for this turn."""
    assert turn.reply is not None
    observed = s.observed
    if HAS_METRICS_REPORT:
        user = observed.message("user", turn.transcript).metrics
        reply = observed.message("assistant", turn.reply.text).metrics
        return {
            "transcription_delay": user["transcription_delay"],
            "end_of_turn_delay": user["end_of_turn_delay"],
            "on_user_turn_completed_delay": user["on_user_turn_completed_delay"],
            "e2e_latency": reply["e2e_latency"],
            "llm_ttft": reply["llm_node_ttft"],
            "tts_ttfb": reply["tts_node_ttfb"],
        }
    eou = observed.for_speech("EOUMetrics", record.speech_id)
    assert record.playback is not None
    return {
        "transcription_delay": eou.transcription_delay,
        "end_of_turn_delay": eou.end_of_utterance_delay,
        "on_user_turn_completed_delay": eou.on_user_turn_completed_delay,
        # no framework value before 1.3.1: the playback the simulation observed
        "e2e_latency": record.playback.started_at - record.speech_ended_at,
        "llm_ttft": observed.for_speech("LLMMetrics", record.speech_id).ttft,
        "tts_ttfb": observed.for_speech("TTSMetrics", record.speech_id).ttfb,
    }


async def play(
    s: SimulatedSession, reader: InMemoryMetricReader, turn: sim.UserTurn
) -> tuple[sim.TurnRecord, dict[tuple[str, str], tuple[int, float]]]:
    """One turn; the data points it added, read while the session still runs."""
    before = snapshot(reader)
    (record,) = await sim.run_conversation(s.session, [turn])
    if HAS_METRICS_REPORT and turn.reply is not None:
        await s.observed.wait_message("assistant", turn.reply.text)
    return record, delta(before, snapshot(reader))


def check_turn(
    s: SimulatedSession,
    turn: sim.UserTurn,
    record: sim.TurnRecord,
    added: dict[tuple[str, str], tuple[int, float]],
    models: dict[str, str],
) -> None:
    expected = truth(s, turn, record)
    assert set(added) == {(name, models[name]) for name in USER_METRICS + REPLY_METRICS}
    for (name, _model), (count, value) in added.items():
        assert count == 1, f"{name}: one point per turn"
        exact = HAS_METRICS_REPORT or name != "e2e_latency"
        tolerance = 1e-9 if exact else E2E_BEFORE_REPORTS
        assert value == pytest.approx(expected[name], abs=tolerance), name


def models(stt: str = "stt-a", llm: str = "llm-a", tts: str = "tts-a") -> dict[str, str]:
    return {
        "transcription_delay": stt,
        "end_of_turn_delay": stt,
        "on_user_turn_completed_delay": stt,
        "e2e_latency": llm,
        "llm_ttft": llm,
        "tts_ttfb": tts,
    }


TURNS = [
    sim.UserTurn("Hello there.", speech_duration=0.4, transcription_delay=0.05,
                 reply=sim.AgentReply("Hi, how can I help?", llm_ttft=0.12, tts_ttfb=0.08)),
    sim.UserTurn("What is the weather?", speech_duration=0.6, transcription_delay=0.3,
                 reply=sim.AgentReply("It is sunny today.", llm_ttft=0.35, tts_ttfb=0.15)),
    sim.UserTurn("Thanks a lot.", speech_duration=0.3, transcription_delay=0.1,
                 reply=sim.AgentReply("You are welcome.", llm_ttft=0.05, tts_ttfb=0.3)),
]  # fmt: skip


class EnteringAgent(Agent):
    """An agent that says when the session has handed over to it."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.entered = asyncio.Event()

    async def on_enter(self) -> None:
        self.entered.set()


@pytest.mark.usefixtures("instrumented")
async def test_each_turn_is_recorded_when_it_ends(reader: InMemoryMetricReader) -> None:
    s = await started()
    try:
        for turn in TURNS:
            record, added = await play(s, reader, turn)
            check_turn(s, turn, record, added, models())

        # a handoff to an agent with its own LLM: later replies carry the new model
        llm_b = sim.SimulatedLLM("llmco", "llm-b")
        second = EnteringAgent(instructions="The second agent.", llm=llm_b)
        s.session.update_agent(second)
        await asyncio.wait_for(second.entered.wait(), timeout=20)
        reply = sim.AgentReply("I am the second agent.", llm_ttft=0.2)
        turn = sim.UserTurn("Who are you now?", transcription_delay=0.1, reply=reply)
        record, added = await play(s, reader, turn)
        check_turn(s, turn, record, added, models(llm="llm-b"))
    finally:
        await s.session.aclose()


@pytest.mark.usefixtures("instrumented")
async def test_greeting_and_interrupted_reply_have_no_e2e(reader: InMemoryMetricReader) -> None:
    s = await started()
    try:
        s.tts.push_response(ttfb=0.05)
        await s.session.say("Welcome to the test.")
        # the greeting's own TTS point proves it was recorded; it alone has no e2e
        await wait_until(lambda: ("tts_ttfb", "tts-a") in snapshot(reader), "the greeting's TTFB")
        assert not [k for k in snapshot(reader) if k[0] == "e2e_latency"], "a greeting"

        first = sim.UserTurn("Tell me a long story.", transcription_delay=0.05,
                             reply=sim.AgentReply("Once upon a time there was a tester.",
                                                  audio_duration=2.0))  # fmt: skip
        barge_in = sim.UserTurn("Stop, please.", transcription_delay=0.05, barge_in_after=0.5,
                                reply=sim.AgentReply("Sure, stopping."))  # fmt: skip
        before = snapshot(reader)
        records = await sim.run_conversation(s.session, [first, barge_in])
        if HAS_METRICS_REPORT:
            await s.observed.wait_message("assistant", "Sure, stopping.")
        added = delta(before, snapshot(reader))
    finally:
        await s.session.aclose()

    assert records[0].interrupted and not records[1].interrupted
    # both replies started playing, so each has an e2e point; the greeting none
    assert added[("e2e_latency", "llm-a")][0] == 2
    assert added[("transcription_delay", "stt-a")][0] == 2


@pytest.mark.usefixtures("instrumented")
async def test_reply_interrupted_before_audio_has_no_e2e(reader: InMemoryMetricReader) -> None:
    s = await started()
    audio_in: Any = s.session.input.audio
    audio_out: Any = s.session.output.audio
    try:
        before = snapshot(reader)
        # the first reply's TTS stays silent for 1.5 s: the user speaks again before any audio
        s.stt.push_transcript("First question.", delay=0.05)
        s.llm.push_response("A slow answer.", ttft=0.05)
        s.tts.push_response(ttfb=1.5)
        await audio_in.speak(0.4)
        await s.observed.wait_message("user", "First question.")  # its reply has begun
        follow = sim.UserTurn("Second question.", transcription_delay=0.05, pause_before=0.0,
                              reply=sim.AgentReply("The second answer."))  # fmt: skip
        (record,) = await sim.run_conversation(s.session, [follow])
        if HAS_METRICS_REPORT:
            await s.observed.wait_message("assistant", "The second answer.")
        added = delta(before, snapshot(reader))
    finally:
        await s.session.aclose()

    assert record.playback is not None and not record.interrupted
    assert len(audio_out.segments) == 1, "the slow reply never played"
    assert added[("transcription_delay", "stt-a")][0] == 2, "two user turns"
    assert added[("e2e_latency", "llm-a")][0] == 1, "only the reply that played"


@pytest.mark.usefixtures("instrumented")
async def test_concurrent_sessions_never_mix(reader: InMemoryMetricReader) -> None:
    async def converse(prefix: str, turn: sim.UserTurn) -> SimulatedSession:
        s = await started(prefix)
        await sim.run_conversation(s.session, [turn, turn])
        if HAS_METRICS_REPORT:  # the replies' reports come with their messages
            messages = s.observed.messages
            await wait_until(
                lambda: len([m for m in messages if m.role == "assistant"]) == 2,
                "two assistant messages",
            )
        return s

    one = sim.UserTurn("Session one.", transcription_delay=0.05,
                       reply=sim.AgentReply("Reply one.", llm_ttft=0.1, tts_ttfb=0.1))  # fmt: skip
    two = sim.UserTurn("Session two.", transcription_delay=0.25,
                       reply=sim.AgentReply("Reply two.", llm_ttft=0.3, tts_ttfb=0.2))  # fmt: skip
    results = await asyncio.gather(converse("one-", one), converse("two-", two))
    series = snapshot(reader)
    for s in results:
        await s.session.aclose()

    for s, prefix in zip(results, ("one-", "two-")):
        ttfts = [m.ttft for m in s.observed.of("LLMMetrics")]
        count, total = series[("llm_ttft", f"{prefix}llm-a")]
        assert count == 2
        if HAS_METRICS_REPORT:
            reports = [
                m.metrics["llm_node_ttft"] for m in s.observed.messages if m.role == "assistant"
            ]
            assert total == pytest.approx(sum(reports), abs=1e-9)
        else:
            assert total == pytest.approx(sum(ttfts), abs=1e-9)
        assert series[("e2e_latency", f"{prefix}llm-a")][0] == 2
        assert series[("transcription_delay", f"{prefix}stt-a")][0] == 2
