"""Each measurement reaches each MeterProvider once, beside the framework's own metrics."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from opentelemetry.instrumentation.livekit_agents.instruments import (
    LLM_INPUT_TOKENS,
    TTS_CHARACTERS,
    TURN_E2E_LATENCY,
)

otel_metrics = pytest.importorskip(
    "livekit.agents.telemetry.otel_metrics",
    reason="the framework records its own metrics from livekit-agents 1.5.2 only",
)

SCRIPT = Path(__file__).parent / "scripts" / "coexistence.py"
OURS = "opentelemetry.instrumentation.livekit_agents"
FRAMEWORK = "livekit-agents"
SHARED_NAMES = (LLM_INPUT_TOKENS.name, TTS_CHARACTERS.name)


def run(mode: str) -> dict[str, Any]:
    # a subprocess: the global MeterProvider can be set only once per process
    done = subprocess.run(
        [sys.executable, str(SCRIPT), mode], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def test_shared_provider_gets_each_measurement_once() -> None:
    check_once(run("shared"))


def test_a_provider_made_global_after_instrument_gets_each_measurement_once() -> None:
    check_once(run("late"))


def check_once(result: dict[str, Any]) -> None:
    truth, recorded = result["truth"], result["during"]["global"]
    for name in SHARED_NAMES:
        assert recorded[OURS][name] == truth[name]
        assert name not in recorded.get(FRAMEWORK, {}), "the framework's copy is suspended"
    (e2e_scopes,) = [s for s, found in recorded.items() if TURN_E2E_LATENCY.name in found]
    assert e2e_scopes == OURS
    assert result["restored"], "uninstrument() gives the framework its recording back"


def test_separate_provider_leaves_the_framework_alone() -> None:
    result = run("separate")
    truth, during = result["truth"], result["during"]
    for name in SHARED_NAMES:
        assert during["own"][OURS][name] == truth[name]
        assert during["global"][FRAMEWORK][name] == truth[name]
        assert OURS not in during["global"]
