"""Fuzzing the attribute and metric extraction with random metrics objects.

Every metrics class of the installed release is built with random field values
(``model_construct`` skips validation, as a buggy plugin might), and emitted
by a component whose ``model`` / ``provider`` are random too.  Nothing may
raise, and whatever is recorded must be a finite, non-negative value with
bounded, allowed attributes.
"""

from __future__ import annotations

import math
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from livekit.agents import metrics as lk_metrics
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from opentelemetry.instrumentation.livekit_agents import AgentsInstrumentor
from opentelemetry.instrumentation.livekit_agents.model_identity import (
    MAX_VALUE_LENGTH,
    identify,
)

from .metric_points import ALLOWED_KEYS, attrs, collect, points
from .metrics_events import stt_metrics
from .pool_components import WebsocketTTS

METRICS_CLASSES = [
    getattr(lk_metrics, name)
    for name in (
        "LLMMetrics",
        "STTMetrics",
        "TTSMetrics",
        "RealtimeModelMetrics",
        "InterruptionMetrics",
        "VADMetrics",
        "EOUMetrics",
    )
    if hasattr(lk_metrics, name)
]

values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**15), max_value=10**15),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=300),
    st.lists(st.integers(), max_size=3),
)


def nested(metrics_class: Any) -> Any:
    """Random token details for realtime metrics, random values elsewhere."""
    details = [getattr(metrics_class, n, None) for n in ("InputTokenDetails", "OutputTokenDetails")]
    detail_objects = [
        st.builds(lambda d=d, **v: d.model_construct(**v), **{f: values for f in d.model_fields})
        for d in details
        if d is not None
    ]
    return st.one_of(values, *detail_objects) if detail_objects else values


def metrics_objects() -> Any:
    return st.one_of(
        *(
            st.fixed_dictionaries({f: nested(cls) for f in cls.model_fields}).map(
                lambda fields, cls=cls: cls.model_construct(**fields)
            )
            for cls in METRICS_CLASSES
        )
    )


def check_exported(reader: InMemoryMetricReader) -> None:
    for name, metric in collect(reader).items():
        for point in metric.data.data_points:  # type: ignore[union-attr]
            attributes = dict(point.attributes or {})
            assert set(attributes) <= ALLOWED_KEYS, (name, attributes)
            for value in attributes.values():
                assert isinstance(value, str) and 0 < len(value) <= MAX_VALUE_LENGTH
            total = getattr(point, "sum", None)
            if total is None:
                total = point.value
            assert math.isfinite(total) and total >= 0, (name, total)


def test_random_metrics_never_raise_and_record_only_sane_points() -> None:
    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader])
    AgentsInstrumentor().instrument(meter_provider=provider)

    @settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
    @given(metrics=metrics_objects(), model=values, provider_name=values)
    def emit(metrics: Any, model: Any, provider_name: Any) -> None:
        component = WebsocketTTS("ws://127.0.0.1:9", model=model, provider=provider_name)
        received: list[Any] = []
        component.on("metrics_collected", received.append)
        component.emit("metrics_collected", metrics)
        assert received == [metrics]

    try:
        emit()
        # the guard: a well-formed event after the random ones still makes its point
        guard = WebsocketTTS("ws://127.0.0.1:9", model="fuzz-guard", provider="guardco")
        guard.emit("metrics_collected", stt_metrics(1.5))
        check_exported(reader)
        (point,) = [
            p
            for p in points(reader, "lk.agents.usage.stt_audio_duration")
            if attrs(p)["model_name"] == "fuzz-guard"
        ]
        assert point.value == 1.5
    finally:
        AgentsInstrumentor().uninstrument()
        provider.shutdown()


@settings(max_examples=300, deadline=None)
@given(model=values, provider_name=values, option_model=values)
def test_identify_is_total_and_bounded(model: Any, provider_name: Any, option_model: Any) -> None:
    component = WebsocketTTS("ws://127.0.0.1:9", model=model, provider=provider_name)
    component._opts = type("Options", (), {"model": option_model})()  # type: ignore[attr-defined]
    identity = identify(component)
    for value in (identity.model_name, identity.model_provider, identity.provider_key):
        assert isinstance(value, str) and 0 < len(value) <= MAX_VALUE_LENGTH
    assert "@" not in identity.model_provider
