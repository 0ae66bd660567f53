"""The memoised identity and the shared attribute dicts follow every change.

``identify()`` is memoised on the component's class and its raw model/provider
values (see ``model_identity``), so a plugin whose model changes at run time
(``update_options(model=...)``) must be seen with its new model at once.
"""

from __future__ import annotations

from typing import Any

import pytest
from livekit.plugins import deepgram
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from opentelemetry.instrumentation.livekit_agents import AgentsInstrumentor
from opentelemetry.instrumentation.livekit_agents import model_identity as mi
from opentelemetry.instrumentation.livekit_agents.instruments import TTS_CHARACTERS
from opentelemetry.instrumentation.livekit_agents.model_identity import (
    ModelIdentity,
    identify,
    with_metadata,
)

from .metric_points import attrs, points
from .metrics_events import tts_metrics
from .test_model_identity import AcmeTTS, _Declared, _Options


def test_a_changed_declared_model_is_seen() -> None:
    component = _Declared("model-a", "Acme")
    assert identify(component).model_name == "model-a"
    component._declared = ("model-b", "Acme")
    assert identify(component) == ModelIdentity("model-b", "Acme", "acme")
    component._declared = ("model-b", "Other Co")
    assert identify(component) == ModelIdentity("model-b", "Other Co", "other_co")


def test_a_changed_option_model_is_seen_without_a_model_property() -> None:
    component = AcmeTTS()
    assert identify(component).model_name == "opt-model"
    component._opts.model = "opt-model-2"
    assert identify(component).model_name == "opt-model-2"
    component._opts = _Options("opt-model-3")
    assert identify(component).model_name == "opt-model-3"


def test_a_real_plugins_update_options_is_seen() -> None:
    component = deepgram.TTS(api_key="test-key", model="aura-asteria-en")
    assert identify(component).model_name == "aura-asteria-en"
    component.update_options(model="aura-luna-en")
    assert identify(component).model_name == "aura-luna-en"
    assert identify(component).provider_key == "deepgram"


def test_usage_after_update_options_carries_the_new_model(
    instrumented: AgentsInstrumentor, reader: InMemoryMetricReader
) -> None:
    component = deepgram.TTS(api_key="test-key", model="aura-asteria-en")
    component.emit("metrics_collected", tts_metrics(10, 1.0))
    component.update_options(model="aura-luna-en")
    component.emit("metrics_collected", tts_metrics(20, 1.0))
    by_model = {attrs(p)["model_name"]: p.value for p in points(reader, TTS_CHARACTERS.name)}
    assert by_model == {"aura-asteria-en": 10, "aura-luna-en": 20}


class _Odd(AcmeTTS):  # type: ignore[valid-type,misc]
    __module__ = "livekit.plugins.acme.tts"  # as a plugin ships it

    def __init__(self, model: Any, provider: Any) -> None:
        super().__init__()
        self._values = (model, provider)

    @property
    def model(self) -> Any:
        return self._values[0]

    @property
    def provider(self) -> Any:
        return self._values[1]


def test_unhashable_or_non_string_values_are_identified_but_not_remembered() -> None:
    before = dict(mi._identities)
    assert identify(_Odd(["not", "hashable"], {"a": 1})) == ModelIdentity(
        "opt-model", "acme", "acme"
    )
    marker = object()
    assert identify(_Odd(marker, None)).model_name == "opt-model"
    remembered = [key for key in mi._identities if key not in before]
    assert all(v is None or type(v) is str for key in remembered for v in key[1:])


def test_a_property_that_starts_raising_is_unknown_then_recovers() -> None:
    component = _Odd("model-a", "Acme")
    assert identify(component).model_name == "model-a"

    def broken(self: Any) -> str:
        raise RuntimeError("plugin bug")

    cls = type("Flaky", (_Odd,), {"model": property(broken)})
    flaky = cls("model-a", "Acme")
    assert identify(flaky) == mi.UNKNOWN_IDENTITY
    assert identify(component).model_name == "model-a"


def test_the_caches_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(mi, "MAX_CACHED", 8)
    for i in range(50):
        identify(_Declared(f"model-{i}", "Acme"))
    assert len(mi._identities) <= 8
    assert len(mi._interned) <= 8
    assert identify(_Declared("model-49", "Acme")).model_name == "model-49"


def test_identities_are_interned_and_attributes_shared_but_fresh_on_request() -> None:
    first = identify(_Declared("model-a", "Acme"))
    second = identify(_Declared("model-a", "Acme"))
    assert first is second
    assert first.shared_attributes is second.shared_attributes
    fresh = first.attributes()
    fresh["extra"] = "x"  # a caller may add to attributes(); nothing shared changes
    assert dict(first.shared_attributes) == {"model_name": "model-a", "model_provider": "Acme"}


def test_with_metadata_fills_unknowns_and_keeps_a_complete_identity() -> None:
    known = identify(_Declared("model-a", "Acme"))
    assert with_metadata(known, {"model_name": "other"}) is known
    unknown = identify(AcmeTTS(model=None))
    filled = with_metadata(unknown, {"model_name": "from-metadata"})
    assert filled == ModelIdentity("from-metadata", "acme", "acme")
    assert with_metadata(unknown, {"model_name": "from-metadata"}) is filled


def test_derived_values_are_built_once_per_identity_and_kind() -> None:
    built: list[ModelIdentity] = []

    def build(identity: ModelIdentity, extra: str) -> dict[str, str]:
        built.append(identity)
        return {**identity.shared_attributes, "extra": extra}

    first = identify(_Declared("model-a", "Acme"))
    other = identify(_Declared("model-b", "Acme"))
    assert first.derived("kind", build, "x") is first.derived("kind", build, "x")
    assert other.derived("kind", build, "y")["extra"] == "y"
    assert first.derived("another", build, "z") is not first.derived("kind", build, "x")
    assert built == [first, other, first]
