"""End to end with a real Prometheus: the demo's /metrics, scraped and queried with PromQL.

Starts the ``prometheus`` binary (Debian's ``prometheus`` package, which ``.ci/run``
installs; no test installs system packages) on loopback with a temporary config and
storage (1 s scrape interval), runs the demo with ``--prometheus-port`` and checks
that PromQL over the scraped series gives back what the demo printed, and that
every query of ``docs/dashboard.json`` returns data.

It skips when the Prometheus exporter or the binary is unavailable, unless CI asked
for these tests (``CI=true`` or ``LIVEKIT_AGENTS_OTEL_E2E=1``): then that is a failure.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .loopback_servers import free_port
from .test_demo import Printed, demo_command, parse

REQUIRED = os.environ.get("LIVEKIT_AGENTS_OTEL_E2E") == "1" or os.environ.get("CI") == "true"
DASHBOARD = Path(__file__).parent.parent / "docs" / "dashboard.json"
# what Grafana's $__rate_interval would be here: it covers the whole demo run
RATE_INTERVAL = "2m"
# the scrape job of the demo, as the dashboard's Service ($job) variable would select it
JOB = "livekit-agents-demo"
TURNS = 8
TIMEOUT = 240.0
# The names the OpenTelemetry Prometheus exporter gives the catalogue: dots become
# underscores, unit "s" adds "_seconds", "{token}"-style units add nothing, and
# counters end in "_total".
E2E = "lk_agents_turn_e2e_latency_seconds"
ACQUIRE = "lk_agents_connection_acquire_time_seconds"


def unavailable(reason: str) -> None:
    if REQUIRED:
        pytest.fail(reason)
    pytest.skip(reason)


def usage_series(metric: str, unit: str) -> str:
    """The exposed name of ``lk.agents.usage.<metric>`` with the demo's printed unit."""
    return f"lk_agents_usage_{metric}{'_seconds' if unit == 's' else ''}_total"


# ------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def prometheus_binary() -> str:
    try:
        import opentelemetry.exporter.prometheus  # noqa: F401
    except ImportError:
        unavailable("opentelemetry-exporter-prometheus is not installed")
    found = shutil.which("prometheus")
    if found is None:
        unavailable("no prometheus binary on PATH (Debian: apt-get install prometheus)")
    assert found is not None
    return found


def http_get(url: str, timeout: float = 5.0) -> Any:
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return json.loads(response.read()) if "/api/" in url else response.read()


@pytest.fixture(scope="module")
def demo_port() -> int:
    return free_port()


@pytest.fixture(scope="module")
def prometheus(
    prometheus_binary: str, demo_port: int, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A Prometheus on loopback that scrapes the demo's port every second."""
    workdir = tmp_path_factory.mktemp("prometheus")
    config = workdir / "prometheus.yml"
    config.write_text(
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n"
        f"scrape_configs:\n  - job_name: {JOB}\n"
        f"    static_configs:\n      - targets: ['127.0.0.1:{demo_port}']\n"
    )
    port = free_port()
    with (workdir / "prometheus.log").open("wb") as log:
        process = subprocess.Popen(
            [
                prometheus_binary,
                f"--config.file={config}",
                f"--storage.tsdb.path={workdir / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: ready(base), 60, "Prometheus to be ready")
        yield base
    finally:
        process.terminate()
        process.wait(30)


def ready(base: str) -> bool:
    try:
        http_get(f"{base}/-/ready")
        return True
    except OSError:
        return False


def wait_for(predicate: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.5)


@pytest.fixture(scope="module")
def demo(
    prometheus: str, demo_port: int, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Printed]:
    """The demo, run to its summary and still serving /metrics."""
    stdout = tmp_path_factory.mktemp("demo") / "stdout.txt"
    with stdout.open("w") as out:
        process = subprocess.Popen(
            demo_command(
                "--fast",
                "--turns",
                str(TURNS),
                "--prometheus-port",
                str(demo_port),
                "--serve-seconds",
                str(TIMEOUT),
            ),
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
    try:
        wait_for(
            lambda: "Serving" in stdout.read_text() or process.poll() is not None,
            TIMEOUT,
            "the demo's summary",
        )
        assert process.poll() is None, stdout.read_text()
        yield parse(stdout.read_text())
    finally:
        # SIGTERM: a demo started from a background job ignores Ctrl-C's SIGINT
        process.terminate()
        try:
            returncode = process.wait(30)
        finally:
            if process.poll() is None:  # never leave a demo running
                process.kill()
    assert returncode == 0, stdout.read_text()
    assert "stopped" in stdout.read_text()


# -------------------------------------------------------------------------- PromQL


def query(base: str, promql: str) -> list[dict[str, Any]]:
    """An instant query; fails on any PromQL error."""
    url = f"{base}/api/v1/query?" + urllib.parse.urlencode({"query": promql})
    answer = http_get(url)
    assert answer["status"] == "success", (promql, answer)
    result: list[dict[str, Any]] = answer["data"]["result"]
    return result


def by(base: str, promql: str, label: str) -> dict[str, float]:
    return {series["metric"][label]: float(series["value"][1]) for series in query(base, promql)}


@pytest.fixture(scope="module")
def scraped(prometheus: str, demo: Printed) -> Printed:
    """The demo's output, once Prometheus has scraped its final values."""
    replies = {model: row.replies for model, row in demo.latency.items()}
    assert replies, "the demo printed its replies' latency"
    final = f"sum by (model_name) ({E2E}_count)"
    wait_for(lambda: by(prometheus, final, "model_name") == replies, 30, "the final scrape")
    # one more whole scrape of the target ingested: every series has its final sample
    first = last_scrape(prometheus)
    wait_for(lambda: last_scrape(prometheus) > first, 30, "one more scrape")
    return demo


def last_scrape(base: str) -> float:
    """When Prometheus last scraped the demo (a target is scraped whole)."""
    (series,) = query(base, f'timestamp(up{{job="{JOB}"}})')
    return float(series["value"][1])


# ---------------------------------------------------------------------------- tests


def test_exposed_names(prometheus: str, scraped: Printed) -> None:
    names = set(http_get(f"{prometheus}/api/v1/label/__name__/values")["data"])
    expected = {f"{E2E}_bucket", f"{E2E}_count", f"{E2E}_sum", f"{ACQUIRE}_bucket"}
    expected |= {usage_series(metric, unit) for (metric, _), (_, unit) in scraped.usage.items()}
    assert expected <= names, sorted(expected - names)


def test_e2e_quantiles_match_the_demo(prometheus: str, scraped: Printed) -> None:
    for q, column in ((0.5, "p50"), (0.95, "p95")):
        # over the final cumulative buckets: deterministic, every reply counted
        total = by(
            prometheus,
            f"histogram_quantile({q}, sum by (le, model_name) ({E2E}_bucket))",
            "model_name",
        )
        assert set(total) == set(scraped.latency)
        for model, row in scraped.latency.items():
            assert total[model] == pytest.approx(getattr(row, column), abs=0.0006), (q, model)


def test_e2e_quantile_over_rate_is_within_the_printed_turns(
    prometheus: str, scraped: Printed
) -> None:
    """What the dashboard plots: rate() leaves out what the first scrape of a series
    already held, so it is a subset of the turns, within their buckets' bounds."""
    from opentelemetry.instrumentation.livekit_agents.instruments import TURN_LATENCY_BUCKETS

    p95 = by(
        prometheus,
        f"histogram_quantile(0.95, sum by (le, model_name) (rate({E2E}_bucket[{RATE_INTERVAL}])))",
        "model_name",
    )
    assert set(p95) == set(scraped.latency)
    for model in scraped.latency:
        values = [float(t["e2e"]) for t in scraped.turns if t["llm"] == model]  # type: ignore[arg-type]
        low = max((b for b in TURN_LATENCY_BUCKETS if b < min(values)), default=0.0)
        high = min(b for b in TURN_LATENCY_BUCKETS if b >= max(values))
        assert low <= p95[model] <= high, (model, values, p95[model])


def test_usage_counters_match_the_demo(prometheus: str, scraped: Printed) -> None:
    assert scraped.usage, "the demo printed no usage"
    for (metric, model), (total, unit) in scraped.usage.items():
        got = by(prometheus, f"sum by (model_name) ({usage_series(metric, unit)})", "model_name")
        # the demo prints seconds to 2 decimals and counts as integers
        assert got[model] == pytest.approx(total, abs=0.006), (metric, model)


def test_connection_counts_match_the_demo(prometheus: str, scraped: Printed) -> None:
    got = by(prometheus, f"sum by (connection_reused) ({ACQUIRE}_count)", "connection_reused")
    expected = {reused: n for (_, reused), n in scraped.connections.items()}
    assert expected, "the demo printed its connections"
    assert got == expected


def dashboard_queries() -> list[tuple[str, str]]:
    panels = json.loads(DASHBOARD.read_text())["panels"]
    panels += [inner for panel in panels for inner in panel.get("panels", [])]
    return [
        (panel["title"], target["expr"]) for panel in panels for target in panel.get("targets", [])
    ]


def test_dashboard_has_queries() -> None:
    assert len(dashboard_queries()) >= 10


def test_every_dashboard_query_filters_on_the_service() -> None:
    """Each series selector of each panel carries the Service variable's matcher."""
    for title, expr in dashboard_queries():
        selectors = re.findall(r"\b(?:lk_agents|gen_ai_client)_\w+(\{[^}]*\})?\[", expr)
        assert selectors, (title, expr)
        assert all('job=~"$job"' in s for s in selectors), (title, expr)


def test_dashboard_service_variable_lists_the_demo(prometheus: str, scraped: Printed) -> None:
    variables = json.loads(DASHBOARD.read_text())["templating"]["list"]
    (job,) = (v for v in variables if v["name"] == "job")
    selector = re.fullmatch(r"label_values\((.*), job\)", job["query"]["query"])
    assert selector, job["query"]
    assert JOB in by(prometheus, f"group by (job) ({selector.group(1)})", "job")


@pytest.mark.parametrize(("title", "expr"), dashboard_queries())
def test_dashboard_query_returns_data(
    prometheus: str, scraped: Printed, title: str, expr: str
) -> None:
    promql = expr.replace("$__rate_interval", RATE_INTERVAL).replace("$job", JOB)
    result = query(prometheus, promql)
    assert result, f"{title}: no data for {promql}"
    values = [float(series["value"][1]) for series in result]
    assert any(math.isfinite(v) for v in values), f"{title}: only {values} for {promql}"
