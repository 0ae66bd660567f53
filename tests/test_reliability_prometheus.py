"""The first scrape after a session ends is valid exposition, each family once.

A real ``PrometheusMetricReader`` served by ``prometheus_client``'s HTTP server
(``scripts/prometheus_scrape.py``, in a process of its own), checked with
``promtool check metrics`` (Debian's ``prometheus`` package). Without the binary
the test skips, unless ``CI=true`` asks for it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("opentelemetry.exporter.prometheus", reason="needs the Prometheus exporter")

SCRIPT = Path(__file__).parent / "scripts" / "prometheus_scrape.py"


def promtool() -> str:
    found = shutil.which("promtool")
    if found is None:
        if os.environ.get("CI") == "true":
            pytest.fail("CI=true but promtool is missing (Debian's prometheus package)")
        pytest.skip("promtool is not installed (Debian's prometheus package)")
    return found


def test_scrape_after_a_session_end_passes_promtool() -> None:
    checker = promtool()
    scrape = subprocess.run(
        [sys.executable, str(SCRIPT)], capture_output=True, text=True, timeout=120
    )
    assert scrape.returncode == 0, scrape.stderr
    assert "lk_agents_usage_llm_input_tokens" in scrape.stdout, "the session's points are there"
    assert scrape.stdout.count("# HELP target_info ") == 1, "each family once"
    checked = subprocess.run(
        [checker, "check", "metrics"], input=scrape.stdout, capture_output=True, text=True
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
