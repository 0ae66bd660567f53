"""Points reach the SDK in batches: before every collection, when a batch is full, at
uninstrument and before a fork; exactly once, in the context they were observed in,
and never while instrumentation is suppressed."""

from __future__ import annotations

import os
import threading

import pytest
from opentelemetry.context import _SUPPRESS_INSTRUMENTATION_KEY, attach, detach, set_value
from opentelemetry.context.contextvars_context import ContextVarsRuntimeContext
from opentelemetry.sdk.metrics import AlwaysOnExemplarFilter, MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider

from opentelemetry import context as context_api
from opentelemetry.instrumentation.livekit_agents import AgentsInstrumentor
from opentelemetry.instrumentation.livekit_agents.demo import simulation as sim
from opentelemetry.instrumentation.livekit_agents.instruments import (
    GEN_AI_TOKEN_USAGE,
    LLM_INPUT_TOKENS,
    STT_AUDIO_DURATION,
)
from opentelemetry.instrumentation.livekit_agents.otel_context import (
    current_context,
    reader_for_runtime_context,
)
from opentelemetry.instrumentation.livekit_agents.pending_points import (
    MAX_PENDING,
    PENDING,
    PENDING_POINTS_INSTRUMENT,
)

from .metric_points import collect, points
from .metrics_events import llm_metrics, stt_metrics

STT_SECONDS = STT_AUDIO_DURATION.name


def emit_stt(component: sim.SimulatedSTT, count: int, seconds: float = 1.0) -> None:
    for _ in range(count):
        component.emit("metrics_collected", stt_metrics(seconds))


def stt_total(reader: InMemoryMetricReader) -> float:
    return sum(point.value for point in points(reader, STT_SECONDS))


@pytest.fixture
def stt() -> sim.SimulatedSTT:
    return sim.SimulatedSTT("sttco", "stt-a")


@pytest.mark.usefixtures("instrumented")
def test_every_collection_records_the_pending_points_first(
    reader: InMemoryMetricReader, stt: sim.SimulatedSTT
) -> None:
    emit_stt(stt, 3)
    assert len(PENDING) == 3  # below a batch: still waiting
    assert stt_total(reader) == 3.0
    assert len(PENDING) == 0
    emit_stt(stt, 2)
    assert stt_total(reader) == 5.0


@pytest.mark.usefixtures("instrumented")
def test_the_pending_points_instrument_is_never_exported(
    reader: InMemoryMetricReader, stt: sim.SimulatedSTT
) -> None:
    emit_stt(stt, 1)
    names = set(collect(reader))
    assert STT_SECONDS in names
    assert PENDING_POINTS_INSTRUMENT not in names


def test_pending_points_stay_bounded_where_nothing_collects(stt: sim.SimulatedSTT) -> None:
    provider = MeterProvider()  # no reader: no collection ever runs our callback
    instrumentor = AgentsInstrumentor()
    instrumentor.instrument(meter_provider=provider)
    try:
        emit_stt(stt, 10 * MAX_PENDING + 5)
        assert len(PENDING) == 5
    finally:
        instrumentor.uninstrument()
        provider.shutdown()


def test_uninstrument_records_the_pending_points(
    meter_provider: MeterProvider, reader: InMemoryMetricReader, stt: sim.SimulatedSTT
) -> None:
    instrumentor = AgentsInstrumentor()
    instrumentor.instrument(meter_provider=meter_provider)
    emit_stt(stt, 3)
    instrumentor.uninstrument()
    assert len(PENDING) == 0
    emit_stt(stt, 4)  # not instrumented any more
    assert stt_total(reader) == 3.0


@pytest.mark.usefixtures("instrumented")
def test_a_reader_thread_collecting_meanwhile_records_each_point_exactly_once(
    reader: InMemoryMetricReader, stt: sim.SimulatedSTT
) -> None:
    stop = threading.Event()
    collections = 0

    def collect_until_stopped() -> None:
        nonlocal collections
        while not stop.is_set():
            reader.get_metrics_data()
            collections += 1

    collector = threading.Thread(target=collect_until_stopped)
    collector.start()
    try:
        emit_stt(stt, 5000, seconds=0.5)
    finally:
        stop.set()
        collector.join()
    assert collections > 1
    assert stt_total(reader) == 2500.0  # cumulative: a lost or doubled point shows


@pytest.mark.usefixtures("instrumented")
def test_a_fork_records_the_pending_points_first(
    reader: InMemoryMetricReader, stt: sim.SimulatedSTT
) -> None:
    emit_stt(stt, 3)
    child = os.fork()
    if child == 0:  # the child must not record the parent's points a second time
        os._exit(len(PENDING))
    _, status = os.waitpid(child, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert len(PENDING) == 0
    assert stt_total(reader) == 3.0


@pytest.mark.usefixtures("instrumented")
def test_a_point_keeps_the_span_it_was_observed_in(
    reader: InMemoryMetricReader, stt: sim.SimulatedSTT
) -> None:
    with TracerProvider().get_tracer("test").start_as_current_span("turn") as span:
        emit_stt(stt, 1)
    # collected (and so recorded) after the span ended and left the context
    (point,) = points(reader, STT_SECONDS)
    if not hasattr(point, "exemplars"):
        pytest.skip("this opentelemetry-sdk records no exemplars (before 1.28)")
    assert [e.span_id for e in point.exemplars] == [span.get_span_context().span_id]


@pytest.mark.usefixtures("instrumented")
@pytest.mark.parametrize(
    "key", [_SUPPRESS_INSTRUMENTATION_KEY, "suppress_instrumentation"], ids=["key", "plain key"]
)
def test_nothing_is_recorded_while_instrumentation_is_suppressed(
    reader: InMemoryMetricReader, stt: sim.SimulatedSTT, key: str
) -> None:
    token = attach(set_value(key, True))  # what suppress_instrumentation() sets, each alone
    try:
        emit_stt(stt, 2)
    finally:
        detach(token)
    emit_stt(stt, 1)
    assert stt_total(reader) == 1.0


def test_a_counters_points_without_a_sampled_span_reach_the_sdk_as_one_sum(
    stt: sim.SimulatedSTT,
) -> None:
    # always_on: every measurement the SDK sees is offered as an exemplar, and a
    # counter keeps one, so its value shows what reached the SDK
    reader = InMemoryMetricReader()
    provider = MeterProvider([reader], exemplar_filter=AlwaysOnExemplarFilter())
    instrumentor = AgentsInstrumentor()
    instrumentor.instrument(meter_provider=provider)
    try:
        emit_stt(stt, 5, seconds=2.0)
        (point,) = points(reader, STT_SECONDS)
    finally:
        instrumentor.uninstrument()
    assert point.value == 10.0
    assert [exemplar.value for exemplar in point.exemplars] == [10.0], "one add of the sum"


@pytest.mark.usefixtures("instrumented")
def test_a_point_in_a_sampled_span_is_recorded_alone_beside_the_sum(
    reader: InMemoryMetricReader, stt: sim.SimulatedSTT
) -> None:
    emit_stt(stt, 3, seconds=2.0)
    with TracerProvider().get_tracer("test").start_as_current_span("turn") as span:
        emit_stt(stt, 1, seconds=0.5)
    emit_stt(stt, 2, seconds=2.0)
    (point,) = points(reader, STT_SECONDS)
    assert point.value == 10.5
    (exemplar,) = point.exemplars
    assert (exemplar.value, exemplar.span_id) == (0.5, span.get_span_context().span_id)


@pytest.mark.usefixtures("instrumented")
def test_histogram_points_are_never_summed(reader: InMemoryMetricReader) -> None:
    chat = sim.SimulatedLLM("llmco", "llm-a")
    for prompt in (10, 20, 30):
        chat.emit("metrics_collected", llm_metrics(prompt, 5))
    (tokens,) = points(reader, LLM_INPUT_TOKENS.name)
    usage = [
        p
        for p in points(reader, GEN_AI_TOKEN_USAGE.name)
        if p.attributes["gen_ai.token.type"] == "input"
    ]
    assert tokens.value == 60
    assert [(p.count, p.sum, p.min, p.max) for p in usage] == [(3, 60, 10, 30)]


def test_points_keep_the_context_of_a_runtime_context_that_is_not_the_default(
    monkeypatch: pytest.MonkeyPatch, reader: InMemoryMetricReader
) -> None:
    """The default runtime context is read through its ContextVar directly; any other
    (``OTEL_PYTHON_CONTEXT``, or one set after import) through ``get_current()``."""

    class OtherRuntimeContext(ContextVarsRuntimeContext):
        pass

    assert reader_for_runtime_context() is not context_api.get_current  # the direct read
    token = attach(set_value("checked", "default"))
    try:
        assert reader_for_runtime_context()() is context_api.get_current()
    finally:
        detach(token)
    monkeypatch.setattr(context_api, "_RUNTIME_CONTEXT", OtherRuntimeContext())
    assert reader_for_runtime_context() is context_api.get_current
    instrumentor = AgentsInstrumentor()
    instrumentor.instrument(meter_provider=MeterProvider(metric_readers=[reader]))
    token = attach(set_value("checked", "other"))
    try:
        context = current_context()
        assert context is not None and context.get("checked") == "other"
    finally:
        detach(token)
        instrumentor.uninstrument()
