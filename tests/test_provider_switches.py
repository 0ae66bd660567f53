"""Each provider switch turns exactly one provider off, in code and under
``opentelemetry-instrument``; plugins imported after ``instrument()`` are patched.

Runs in a fresh interpreter, because this test process has already imported
the plugins.  The probe instruments first, then imports the real deepgram,
openai and cartesia plugins and opens one connection each against a loopback
websocket server.  It uses each provider's instrumentor where the installed
release has a target (deepgram STT; openai Realtime from 1.2; cartesia STT
from 1.1) and the plugin's pool otherwise (openai STT; cartesia TTS on 1.0).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("livekit.plugins.deepgram", reason="livekit-plugins-deepgram")
pytest.importorskip(
    "livekit.plugins.openai",
    reason="livekit-plugins-openai is not installed (tox -e lk20 leaves out its 1.8.9, "
    "which cannot import on livekit-agents 2.0)",
)
pytest.importorskip("livekit.plugins.cartesia", reason="livekit-plugins-cartesia")

PROVIDERS = ("deepgram", "openai", "cartesia")

PROBE = r"""
import asyncio, json, os, sys
from aiohttp import WSMsgType, web
from opentelemetry.instrumentation.livekit_agents.instruments import CONNECTION_ACQUIRE_TIME

MODE, SCENARIOS = sys.argv[1], json.loads(sys.argv[2])
PLUGINS = ("livekit.plugins.deepgram", "livekit.plugins.openai", "livekit.plugins.cartesia")
assert not any(name in sys.modules for name in PLUGINS), "plugins must be imported after"
handshakes = 0


async def accept(request):
    global handshakes
    await asyncio.sleep(0.02)
    ws = web.WebSocketResponse()
    await ws.prepare(request)
    handshakes += 1
    async for message in ws:
        if message.type == WSMsgType.CLOSE:
            break
    return ws


async def connect_each_provider(base):
    import aiohttp
    from livekit.agents.utils import http_context
    from livekit.plugins import cartesia, deepgram, openai
    from livekit.plugins.openai.realtime import realtime_model

    global handshakes
    handshakes = 0
    http_context._new_session_ctx()
    http = aiohttp.ClientSession()
    opened = []
    stt = deepgram.STT(api_key="k", model="nova-3", http_session=http, base_url=base)
    opened.append(stt.stream())
    stt = openai.STT(api_key="k", model="gpt-4o-transcribe", base_url=base, use_realtime=True)
    opened.append(stt.stream())
    if hasattr(realtime_model.RealtimeSession, "_create_ws_conn"):
        model = openai.realtime.RealtimeModel(model="gpt-realtime", api_key="k", base_url=base)
        opened.append(model.session())
    if hasattr(cartesia, "STT"):
        stt = cartesia.STT(model="ink-whisper", api_key="k", http_session=http, base_url=base)
        opened.append(stt.stream())
    else:
        tts = cartesia.TTS(model="sonic-2", api_key="k", http_session=http, base_url=base)
        stream = tts.stream()
        stream.push_text("hello")
        stream.flush()
        opened.append(stream)
    for _ in range(500):
        if handshakes >= len(opened):
            break
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.1)
    for each in opened:
        await each.aclose()
    await http.close()
    await http_context._close_http_ctx()
    return {"handshakes": handshakes, "opened": len(opened)}


def recorded_models(reader):
    data = reader.get_metrics_data()
    return sorted(
        dict(point.attributes)["model_name"]
        for resource in (data.resource_metrics if data else ())
        for scope in resource.scope_metrics
        for metric in scope.metrics
        if metric.name == CONNECTION_ACQUIRE_TIME.name
        for point in metric.data.data_points
    )


async def run_scenario(base, scenario):
    if MODE != "code":  # opentelemetry-instrument did it, with the process environment
        return await connect_each_provider(base)
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    from opentelemetry.instrumentation.livekit_agents import AgentsInstrumentor

    os.environ.update(scenario["env"])
    reader = InMemoryMetricReader()
    AgentsInstrumentor().instrument(meter_provider=MeterProvider([reader]), **scenario["switch"])
    try:
        result = await connect_each_provider(base)
    finally:
        AgentsInstrumentor().uninstrument()
        for name in scenario["env"]:
            os.environ.pop(name)
    return {**result, "models": recorded_models(reader)}


async def main():
    app = web.Application()
    app.router.add_get("/{tail:.*}", accept)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    base = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}/lk"
    results = [await run_scenario(base, scenario) for scenario in SCENARIOS]
    await runner.cleanup()
    print("RESULT " + json.dumps(results), flush=True)


asyncio.run(main())
"""

ALL_MODELS = ("nova-3", "gpt-4o-transcribe", "gpt-realtime", "ink-whisper", "sonic-2")
MODELS = {"deepgram": {"nova-3"}, "openai": {"gpt-4o-transcribe", "gpt-realtime"}}


def cartesia_models() -> set[str]:
    import livekit.plugins.cartesia as cartesia

    return {"ink-whisper"} if hasattr(cartesia, "STT") else {"sonic-2"}


def expected_models(excluded: str | None) -> set[str]:
    from livekit.plugins.openai.realtime import realtime_model

    models = {**MODELS, "cartesia": cartesia_models()}
    if not hasattr(realtime_model.RealtimeSession, "_create_ws_conn"):
        models["openai"] = {"gpt-4o-transcribe"}
    return set().union(*(names for provider, names in models.items() if provider != excluded))


Scenario = dict[str, dict[str, Any]]
"""``{"switch": <instrument() keywords>, "env": <environment variables>}``"""


def switch_cases() -> list[tuple[str, str, Scenario]]:
    """(switch kind, provider it turns off, scenario) for every kind and provider."""
    cases = []
    for provider in PROVIDERS:
        disabled = {"OTEL_PYTHON_DISABLED_INSTRUMENTATIONS": f"livekit_agents_{provider}"}
        cases += [
            ("keyword", provider, {"switch": {"exclude_providers": [provider]}, "env": {}}),
            ("env", provider, {"switch": {}, "env": {EXCLUDED_ENV: provider}}),
            ("disabled", provider, {"switch": {}, "env": disabled}),
        ]
    return cases


EXCLUDED_ENV = "OTEL_PYTHON_LIVEKIT_AGENTS_EXCLUDED_PROVIDERS"
NO_SWITCH: Scenario = {"switch": {}, "env": {}}


def run_probe(
    tmp_path: Path, mode: str, scenarios: list[Scenario], env: dict[str, str]
) -> tuple[list[dict[str, Any]], str]:
    script = tmp_path / "probe.py"
    script.write_text(PROBE)
    command = [sys.executable, str(script), mode, json.dumps(scenarios)]
    environment = {**os.environ, "OTEL_PYTHON_DISABLED_INSTRUMENTATIONS": "", **env}
    if mode == "auto":
        executable = shutil.which("opentelemetry-instrument", path=str(Path(sys.executable).parent))
        assert executable, "opentelemetry-instrument is installed beside the interpreter"
        command.insert(0, executable)
        environment.update(
            OTEL_METRICS_EXPORTER="console", OTEL_TRACES_EXPORTER="none", OTEL_LOGS_EXPORTER="none"
        )
    done = subprocess.run(
        command, env=environment, capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stderr[-4000:]
    line = next(ln for ln in done.stdout.splitlines() if ln.startswith("RESULT "))
    results: list[dict[str, Any]] = json.loads(line[len("RESULT ") :])
    for result in results:
        assert result["handshakes"] == result["opened"], "every connection reached the server"
    return results, done.stdout


@pytest.fixture(scope="module")
def in_code_results(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    """One interpreter: no switch first (the plugins are imported after instrument()),
    then every switch case, each with its own instrument() / uninstrument()."""
    scenarios = [NO_SWITCH] + [scenario for _, _, scenario in switch_cases()]
    results, _ = run_probe(tmp_path_factory.mktemp("probe"), "code", scenarios, {})
    return results


def test_plugins_imported_after_instrument_are_recorded(
    in_code_results: list[dict[str, Any]],
) -> None:
    first = in_code_results[0]
    assert set(first["models"]) == expected_models(None)
    assert len(first["models"]) == first["opened"], "one point per connection, none twice"


@pytest.mark.parametrize(
    ("index", "excluded"),
    [(i + 1, provider) for i, (_, provider, _) in enumerate(switch_cases())],
    ids=[f"{kind}-{provider}" for kind, provider, _ in switch_cases()],
)
def test_switch_turns_off_one_provider_in_code(
    in_code_results: list[dict[str, Any]], index: int, excluded: str
) -> None:
    assert set(in_code_results[index]["models"]) == expected_models(excluded)


@pytest.mark.parametrize(
    ("env", "excluded"),
    [(s["env"], provider) for kind, provider, s in switch_cases() if kind != "keyword"]
    + [({}, None)],
    ids=[f"{kind}-{provider}" for kind, provider, _ in switch_cases() if kind != "keyword"]
    + ["none"],
)
def test_switch_turns_off_one_provider_under_opentelemetry_instrument(
    tmp_path: Path, env: dict[str, str], excluded: str | None
) -> None:
    _, output = run_probe(tmp_path, "auto", [NO_SWITCH], env)
    recorded = {name for name in ALL_MODELS if f'"model_name": "{name}"' in output}
    assert recorded == expected_models(excluded)
