"""Zero-code use: ``opentelemetry-instrument`` loads the ``livekit_agents`` entry point."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path

from opentelemetry.instrumentation.livekit_agents import AgentsInstrumentor

SCRIPT = Path(__file__).parent / "scripts" / "acquire_once.py"
METRIC = "lk.agents.connection.acquire_time"


def run_instrumented(**env: str) -> str:
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
    return done.stdout


def test_entry_point_is_registered() -> None:
    (entry_point,) = [
        ep for ep in entry_points(group="opentelemetry_instrumentor") if ep.name == "livekit_agents"
    ]
    assert entry_point.load() is AgentsInstrumentor


def test_opentelemetry_instrument_records_the_acquisition() -> None:
    output = run_instrumented()
    assert METRIC in output
    assert '"model_provider": "scripted"' in output
    assert '"connection_reused": "false"' in output


def test_disabled_instrumentation_records_nothing() -> None:
    output = run_instrumented(OTEL_PYTHON_DISABLED_INSTRUMENTATIONS="livekit_agents")
    assert METRIC not in output
