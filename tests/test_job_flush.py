"""No lost data at job end: every turn and usage point reaches a real OTLP receiver.

A subprocess (``scripts/export_at_exit.py``) runs an instrumented, scripted
session with the real OTLP exporter, over gRPC and over HTTP, and exits right
after the session: once by itself, once on SIGTERM. Its periodic reader would
export only after 60 s, so whatever arrives was delivered by the flush; the
control runs (``uninstrument()`` first) show that nothing arrives without it.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import os
import signal
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Union

import pytest
from livekit.agents.job import RunningJobInfo

from opentelemetry.instrumentation.livekit_agents.instruments import BY_NAME

from .otlp_receivers import GrpcReceiver, HttpReceiver, latest

SCRIPT = Path(__file__).parent / "scripts" / "export_at_exit.py"
RUN_TIMEOUT = 150.0  # the job process imports livekit-agents afresh: slow on a busy machine
TURN_METRICS = (
    "e2e_latency",
    "llm_ttft",
    "tts_ttfb",
    "transcription_delay",
    "end_of_turn_delay",
    "on_user_turn_completed_delay",
)
HAS_FAKE_JOB = "fake_job" in getattr(RunningJobInfo, "__dataclass_fields__", {})  # 1.4+
needs_fake_job = pytest.mark.skipif(
    not HAS_FAKE_JOB,
    reason="a job process without a LiveKit server needs RunningJobInfo(fake_job=True), "
    "which livekit-agents ships from 1.4; the plain-script variant covers this release",
)


def _framework_flushes_the_global_provider() -> bool:
    """From 1.5 the job's cleanup shuts down the global SDK MeterProvider itself."""
    try:
        from livekit.agents.telemetry import traces

        return "get_meter_provider" in inspect.getsource(traces._shutdown_telemetry)
    except (ImportError, AttributeError, OSError, TypeError):
        return False


isolates_our_flush = pytest.mark.skipif(
    _framework_flushes_the_global_provider(),
    reason="this release's job cleanup (telemetry.traces._shutdown_telemetry) flushes the "
    "global MeterProvider itself, so a job control cannot isolate our flush; the plain-script "
    "control still runs",
)

Receiver = Union[GrpcReceiver, HttpReceiver]


@pytest.fixture(params=["grpc", "http"])
async def receiver(request: pytest.FixtureRequest) -> AsyncIterator[Receiver]:
    if request.param == "grpc":
        grpc_receiver = GrpcReceiver()
        grpc_receiver.start()
        yield grpc_receiver
        grpc_receiver.stop()
    else:
        http_receiver = HttpReceiver()
        await http_receiver.start()
        yield http_receiver
        await http_receiver.stop()


@dataclass
class Run:
    returncode: int
    truth: dict[str, float]
    lines: list[str]


async def run_script(receiver: Receiver, host: str, exit_mode: str, tmp_path: Path) -> Run:
    """Run the script to its end; on ``READY`` send SIGTERM to the job process, then to it."""
    env = dict(
        os.environ,
        LK_TEST_PROTOCOL=receiver.protocol,
        LK_TEST_ENDPOINT=receiver.endpoint,
        LK_TEST_DIR=str(tmp_path),
    )
    process = await asyncio.create_subprocess_exec(
        sys.executable, str(SCRIPT), host, exit_mode, env=env, stdout=asyncio.subprocess.PIPE
    )
    try:
        lines = await asyncio.wait_for(_follow(process), RUN_TIMEOUT)
        returncode = await asyncio.wait_for(process.wait(), RUN_TIMEOUT)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    (truth,) = [json.loads(line.split(" ", 1)[1]) for line in lines if line.startswith("TRUTH ")]
    return Run(returncode, truth, lines)


async def _follow(process: asyncio.subprocess.Process) -> list[str]:
    assert process.stdout is not None
    lines = []
    async for raw in process.stdout:
        line = raw.decode().rstrip()
        lines.append(line)
        if line.startswith("READY"):
            for job_pid in line.split()[1:]:
                # the job process first, as systemd's control-group kill would do
                os.kill(int(job_pid), signal.SIGTERM)
                await asyncio.sleep(0.5)
            process.send_signal(signal.SIGTERM)
    return lines


def assert_everything_arrived(receiver: Receiver, truth: dict[str, float]) -> None:
    totals = latest(receiver.requests)
    for name in TURN_METRICS:
        metric = BY_NAME[f"lk.agents.turn.{name}"].name
        assert metric in totals, f"{metric} never arrived: {sorted(totals)}"
        assert totals[metric].count == truth["turns"], metric
    usage = {name: value for name, value in truth.items() if name.startswith("lk.agents.usage.")}
    assert all(usage.values()), f"the session reported no usage: {usage}"
    for metric, value in usage.items():
        assert metric in totals, f"{metric} never arrived: {sorted(totals)}"
        assert totals[metric].value == pytest.approx(value), metric


@pytest.mark.parametrize("exit_mode", ["normal", "sigterm"])
async def test_plain_script_exports_every_point(
    receiver: Receiver, exit_mode: str, tmp_path: Path
) -> None:
    run = await run_script(receiver, "plain", exit_mode, tmp_path)
    expected = 0 if exit_mode == "normal" else -signal.SIGTERM  # Python's default: no atexit
    assert run.returncode == expected, run.lines
    assert_everything_arrived(receiver, run.truth)


@needs_fake_job
async def test_job_process_exports_every_point(receiver: Receiver, tmp_path: Path) -> None:
    # a job process costs ~20 s: each transport once, with one exit each (the plain
    # script covers all four combinations)
    exit_mode = "sigterm" if receiver.protocol == "grpc" else "normal"
    run = await run_script(receiver, "job", exit_mode, tmp_path)
    assert run.returncode == 0, run.lines
    assert "EXITCODE 0" in run.lines, "the job process ended normally"
    assert_everything_arrived(receiver, run.truth)


@pytest.mark.parametrize(
    "host",
    ["plain", pytest.param("job", marks=[needs_fake_job, isolates_our_flush])],
    ids=["plain", "job"],
)
async def test_nothing_arrives_after_uninstrument(host: str, tmp_path: Path) -> None:
    """The control: without our flush nothing is exported, and uninstrument() stops it."""
    receiver = GrpcReceiver()
    receiver.start()
    try:
        run = await run_script(receiver, host, "uninstrumented", tmp_path)
    finally:
        receiver.stop()
    assert run.truth["turns"] > 0
    assert receiver.requests == [], "only the flush could have exported within 60 s"
