"""Run an instrumented, scripted voice session, export over OTLP, and exit right after it.

``python export_at_exit.py <host> <exit>``, configured by the environment:

* ``LK_TEST_PROTOCOL``: ``grpc`` or ``http``; ``LK_TEST_ENDPOINT``: the receiver.
* ``LK_TEST_DIR``: a directory for the job process's files.
* ``LK_TEST_PRELOAD=1`` (job only): the forkserver preloads ``livekit.agents``,
  as a production worker's does (1.8's ``AgentServer`` always, a 1.0-1.7
  ``Worker`` its plugins). Then the framework's ``SIG_IGN`` runs in the
  forkserver, not in the job, which keeps SIGTERM's default action: the worker
  waits for the job process to end by itself.

``host`` is where the session runs:

* ``plain``: in this process, without a job; this package gets a MeterProvider
  of its own (``instrument(meter_provider=...)``).
* ``job``: in a real job child process (``ipc.job_proc_executor.ProcJobExecutor``
  with the framework's default ``forkserver``, ``RunningJobInfo(fake_job=True)``,
  livekit-agents 1.4+), which sets the global MeterProvider in its setup function.
  This process plays the worker.

``exit`` is how it ends once the conversation is over:

* ``normal``: the session is closed (plain) or the job shuts itself down (job)
  and the process exits by itself;
* ``sigterm``: prints ``READY`` and waits for SIGTERM. The plain script keeps
  Python's default, so it dies at once; the worker (``job``) handles SIGTERM as
  the livekit-agents CLI does, by closing its job process through IPC, after
  the job process itself got a SIGTERM too (the framework ignores it there: without
  ``LK_TEST_PRELOAD`` the job process imports ``livekit.agents`` itself);
* ``uninstrumented``: like ``sigterm``, but ``uninstrument()`` is called before
  the session or job ends (the control: then nothing must arrive);
* ``replay`` (job, 1.5.2+): ``uninstrument()``, then the framework's own job-end
  replay (``otel_metrics.flush_turn_metrics(session.history)``, as
  ``JobContext._on_session_end`` calls it), a force-flush of the global
  MeterProvider, and the job shuts itself down.

The periodic reader exports every 60 s, so within the test only a flush can
deliver. Prints ``TRUTH <json>``: what the session itself reported.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import multiprocessing
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

from livekit import rtc
from livekit.agents import Agent, AgentSession, JobContext, JobProcess
from opentelemetry.metrics import get_meter_provider, set_meter_provider
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import MetricExporter, PeriodicExportingMetricReader

from opentelemetry.instrumentation.livekit_agents import AgentsInstrumentor
from opentelemetry.instrumentation.livekit_agents.demo import simulation as sim
from opentelemetry.instrumentation.livekit_agents.instruments import (
    LLM_INPUT_TOKENS,
    LLM_OUTPUT_TOKENS,
    STT_AUDIO_DURATION,
    TTS_AUDIO_DURATION,
    TTS_CHARACTERS,
)

TURNS = [
    sim.UserTurn("Hello there.", speech_duration=0.4, transcription_delay=0.05,
                 reply=sim.AgentReply("Hi, how can I help?", prompt_tokens=31,
                                      completion_tokens=7, llm_ttft=0.1, tts_ttfb=0.05)),
    sim.UserTurn("What is the weather?", speech_duration=0.5, transcription_delay=0.1,
                 reply=sim.AgentReply("It is sunny today.", prompt_tokens=58,
                                      completion_tokens=5, llm_ttft=0.15, tts_ttfb=0.05)),
]  # fmt: skip


def exporter() -> MetricExporter:
    endpoint = os.environ["LK_TEST_ENDPOINT"]
    if os.environ["LK_TEST_PROTOCOL"] == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter

        return OTLPMetricExporter(endpoint=endpoint, insecure=True)
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import (
        OTLPMetricExporter as HTTPExporter,
    )

    return HTTPExporter(endpoint=endpoint)


def meter_provider() -> MeterProvider:
    reader = PeriodicExportingMetricReader(exporter(), export_interval_millis=60_000)
    return MeterProvider(metric_readers=[reader])


def new_session() -> tuple[AgentSession[Any], list[Any]]:
    session = sim.simulated_session(
        stt=sim.SimulatedSTT("sttco", "stt-a"),
        llm=sim.SimulatedLLM("llmco", "llm-a"),
        tts=sim.SimulatedTTS("ttsco", "tts-a"),
        vad_silence=0.15,
    )
    seen: list[Any] = []
    # the base EventEmitter.on: AgentSession.on warns about metrics_collected from 1.5
    emitter: Any = session
    rtc.EventEmitter.on(emitter, "metrics_collected", lambda ev: seen.append(ev.metrics))
    return session, seen


def truth(seen: list[Any]) -> dict[str, float]:
    """The session's own report: usage totals and the number of replies."""

    def summed(kind: str, field: str) -> float:
        return float(sum(getattr(m, field) for m in seen if type(m).__name__ == kind))

    return {
        "turns": len(TURNS),
        LLM_INPUT_TOKENS.name: summed("LLMMetrics", "prompt_tokens"),
        LLM_OUTPUT_TOKENS.name: summed("LLMMetrics", "completion_tokens"),
        TTS_CHARACTERS.name: summed("TTSMetrics", "characters_count"),
        TTS_AUDIO_DURATION.name: summed("TTSMetrics", "audio_duration"),
        STT_AUDIO_DURATION.name: summed("STTMetrics", "audio_duration"),
    }


def say(*words: str) -> None:
    print(*words, flush=True)


# --- plain: the session in this process -------------------------------------------


async def plain_session(exit_mode: str) -> dict[str, float]:
    session, seen = new_session()
    await session.start(Agent(instructions="A scripted agent."))
    await sim.run_conversation(session, TURNS)
    await asyncio.sleep(0.3)  # the last usage events
    if exit_mode == "uninstrumented":
        AgentsInstrumentor().uninstrument()
    await session.aclose()
    return truth(seen)


def run_plain(exit_mode: str) -> None:
    AgentsInstrumentor().instrument(meter_provider=meter_provider())
    say("TRUTH", json.dumps(asyncio.run(plain_session(exit_mode))))
    if exit_mode != "normal":
        say("READY")
        time.sleep(120)  # Python's default SIGTERM action ends the process here


# --- job: the session in a job child process ---------------------------------------


def setup_job_process(proc: JobProcess) -> None:
    """The job process's setup: the global MeterProvider, then the instrumentation."""
    set_meter_provider(meter_provider())
    AgentsInstrumentor().instrument()


async def job_entrypoint(ctx: JobContext) -> None:
    exit_mode = os.environ["LK_TEST_EXIT"]
    files = Path(os.environ["LK_TEST_DIR"])
    session, seen = new_session()
    # written when the session has closed: its report is then complete
    emitter: Any = session
    rtc.EventEmitter.on(
        emitter, "close", lambda _: (files / "truth.json").write_text(json.dumps(truth(seen)))
    )
    await session.start(Agent(instructions="A scripted agent."))
    await sim.run_conversation(session, TURNS)
    await asyncio.sleep(0.3)
    if exit_mode in ("uninstrumented", "replay"):
        AgentsInstrumentor().uninstrument()
    if exit_mode == "replay":
        from livekit.agents.telemetry import otel_metrics

        otel_metrics.flush_turn_metrics(session.history)
        get_meter_provider().force_flush()  # type: ignore[attr-defined]
    # the report is complete now; a job killed by SIGTERM never gets to "close"
    (files / "truth.json").write_text(json.dumps(truth(seen)))
    (files / "ready").write_text(str(os.getpid()))
    if exit_mode in ("normal", "replay"):
        ctx.shutdown("conversation over")
    # else the session stays up, as an agent's does, until the worker ends the job


def job_executor(loop: asyncio.AbstractEventLoop) -> Any:
    from livekit.agents.ipc.job_proc_executor import ProcJobExecutor

    options: dict[str, Any] = {
        "initialize_process_fnc": setup_job_process,
        "job_entrypoint_fnc": job_entrypoint,
        "session_end_fnc": None,
        "simulation_end_fnc": None,
        "inference_executor": None,
        "initialize_timeout": 30.0,
        "close_timeout": 30.0,
        "session_end_timeout": 10.0,
        "memory_warn_mb": 0,
        "memory_limit_mb": 0,
        "ping_interval": 2.5,
        "ping_timeout": 90.0,
        "high_ping_threshold": 2.5,
        "http_proxy": None,
        # the framework's default on Linux: a job process leaves through os._exit
        "mp_ctx": multiprocessing.get_context("forkserver"),
        "loop": loop,
    }
    if os.environ.get("LK_TEST_PRELOAD") == "1":
        options["mp_ctx"].set_forkserver_preload(["livekit.agents"])
    accepted = inspect.signature(ProcJobExecutor.__init__).parameters
    return ProcJobExecutor(**{k: v for k, v in options.items() if k in accepted})


def fake_job() -> Any:
    from livekit.agents.job import JobAcceptArguments, RunningJobInfo
    from livekit.protocol import agent, models

    return RunningJobInfo(
        accept_arguments=JobAcceptArguments(name="agent", identity="agent", metadata=""),
        job=agent.Job(id="job-1", room=models.Room(name="room-1")),
        url="ws://127.0.0.1:1",
        token="",
        worker_id="worker-1",
        fake_job=True,
    )


async def run_job(exit_mode: str) -> None:
    files = Path(os.environ["LK_TEST_DIR"])
    loop = asyncio.get_running_loop()
    terminated = asyncio.Event()
    # what the livekit-agents CLI does on SIGTERM: shut the jobs down, gracefully
    loop.add_signal_handler(signal.SIGTERM, terminated.set)
    executor = job_executor(loop)
    await executor.start()
    await executor.initialize()
    await executor.launch_job(fake_job())
    if exit_mode in ("normal", "replay"):
        await executor.join()
    else:
        while not (files / "ready").exists():
            await asyncio.sleep(0.05)
        job_pid = int((files / "ready").read_text())
        say("READY", str(job_pid))
        if os.environ.get("LK_TEST_PRELOAD") == "1":
            await executor.join()  # SIGTERM's default action ends the job process
        else:
            await terminated.wait()
            await executor.aclose()
    say("TRUTH", (files / "truth.json").read_text())
    say("EXITCODE", str(executor.exitcode))


def main(host: str, exit_mode: str) -> None:
    os.environ["LK_TEST_EXIT"] = exit_mode  # inherited by the job process
    if host == "plain":
        run_plain(exit_mode)
    else:
        asyncio.run(run_job(exit_mode))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
