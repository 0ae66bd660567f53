"""No lost data at job end: every turn and usage point reaches a real OTLP receiver.

A subprocess (``scripts/export_at_exit.py``) runs an instrumented, scripted
session with the real OTLP exporter, over gRPC and over HTTP, and exits right
after the session: once by itself, once on SIGTERM. Its periodic reader would
export only after 60 s, so whatever arrives was delivered by the flush; the
control runs (``uninstrument()`` first) show that nothing arrives without it.
"""

from __future__ import annotations

import asyncio
import importlib.util
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


def _has_module(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:  # a parent package is missing too (livekit.agents.telemetry)
        return False


HAS_FRAMEWORK_TURNS = _has_module("livekit.agents.telemetry.otel_metrics")
needs_framework_turns = pytest.mark.skipif(
    not HAS_FRAMEWORK_TURNS,
    reason="the framework replays turns at job end (otel_metrics.flush_turn_metrics) "
    "from livekit-agents 1.5.2 only",
)

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


async def run_script(
    receiver: Receiver, host: str, exit_mode: str, tmp_path: Path, preload: bool = False
) -> Run:
    """Run the script to its end; on ``READY`` send SIGTERM to the job process, then to it.

    ``preload``: the forkserver preloads ``livekit.agents``, as in production.
    """
    env = dict(
        os.environ,
        LK_TEST_PROTOCOL=receiver.protocol,
        LK_TEST_ENDPOINT=receiver.endpoint,
        LK_TEST_DIR=str(tmp_path),
        LK_TEST_PRELOAD="1" if preload else "0",
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
                # scripted, not a wait: the job keeps running after SIGTERM until its
                # parent stops, so the gap between the two signals is part of the scenario
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


def _grpc_receiver() -> GrpcReceiver:
    receiver = GrpcReceiver()
    receiver.start()
    return receiver


@needs_fake_job
@pytest.mark.parametrize("instrumented", [True, False], ids=["instrumented", "control"])
async def test_sigterm_to_a_preloaded_job_process(instrumented: bool, tmp_path: Path) -> None:
    """A production worker's job process (forkserver preloading livekit.agents) gets
    SIGTERM: the turns that had ended arrive, and it still dies of SIGTERM (-15).

    The control uninstruments inside the job: same exit status, nothing arrives (the
    periodic reader would export after 60 s only)."""
    receiver = _grpc_receiver()
    try:
        exit_mode = "sigterm" if instrumented else "uninstrumented"
        run = await run_script(receiver, "job", exit_mode, tmp_path, preload=True)
    finally:
        receiver.stop()
    assert f"EXITCODE {-signal.SIGTERM}" in run.lines, run.lines
    if instrumented:
        assert_everything_arrived(receiver, run.truth)
    else:
        assert receiver.requests == [], "only our SIGTERM flush could have exported"


@needs_fake_job
@needs_framework_turns
async def test_uninstrument_during_a_job_counts_each_turn_once(tmp_path: Path) -> None:
    """uninstrument() in the job, after its turns were recorded: the framework's
    replay of the history at job end (then restored) must not count them again."""
    receiver = _grpc_receiver()
    try:
        run = await run_script(receiver, "job", "replay", tmp_path)
    finally:
        receiver.stop()
    totals = latest(receiver.requests)
    for name in TURN_METRICS:
        metric = f"lk.agents.turn.{name}"
        assert metric in totals, f"{metric} never arrived: {sorted(totals)}"
        assert totals[metric].count == run.truth["turns"], f"{metric}: each turn once"
