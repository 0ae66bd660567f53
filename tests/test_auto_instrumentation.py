"""Zero-code use: ``opentelemetry-instrument`` loads the ``livekit_agents`` entry point,
and through it each provider instrumentor, once."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path

from opentelemetry.instrumentation.livekit_agents import AgentsInstrumentor, installed_providers
from opentelemetry.instrumentation.livekit_agents.instruments import CONNECTION_ACQUIRE_TIME

SCRIPT = Path(__file__).parent / "scripts" / "acquire_once.py"
METRIC = CONNECTION_ACQUIRE_TIME.name


def run_instrumented(**env: str) -> subprocess.CompletedProcess[str]:
    executable = shutil.which("opentelemetry-instrument", path=str(Path(sys.executable).parent))
    assert executable, "opentelemetry-instrument is installed beside the interpreter"
    environment = {
        **os.environ,
        "OTEL_METRICS_EXPORTER": "console",
        "OTEL_TRACES_EXPORTER": "none",
        "OTEL_LOGS_EXPORTER": "none",
        "OTEL_PYTHON_DISABLED_INSTRUMENTATIONS": "",
        **env,
    }
    done = subprocess.run(
        [executable, sys.executable, str(SCRIPT)],
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert "acquired" in done.stdout, done.stderr
    return done


def test_entry_point_is_registered() -> None:
    (entry_point,) = [
        ep for ep in entry_points(group="opentelemetry_instrumentor") if ep.name == "livekit_agents"
    ]
    assert entry_point.load() is AgentsInstrumentor


def test_only_agents_instrumentor_is_an_opentelemetry_instrumentor() -> None:
    ours = [ep.name for ep in entry_points(group="opentelemetry_instrumentor")]
    assert [name for name in ours if name.startswith("livekit_agents")] == ["livekit_agents"]


def test_each_provider_is_instrumented_once() -> None:
    """The provider instrumentors have one way in, ``AgentsInstrumentor``: no
    "already instrumented" warning from a second one through the entry points."""
    providers = [provider.provider for provider in installed_providers()]
    assert providers, "plugins with a provider instrumentor are installed here"
    done = run_instrumented()
    assert "already instrumented" not in done.stderr, done.stderr
    assert METRIC in done.stdout, "the run was instrumented and recorded"


def test_opentelemetry_instrument_records_the_acquisition() -> None:
    output = run_instrumented().stdout
    assert METRIC in output
    assert '"model_provider": "scripted"' in output
    assert '"connection_reused": "false"' in output


def test_disabled_instrumentation_records_nothing() -> None:
    output = run_instrumented(OTEL_PYTHON_DISABLED_INSTRUMENTATIONS="livekit_agents").stdout
    assert METRIC not in output
    assert METRIC in run_instrumented().stdout, "the same script records when enabled"
