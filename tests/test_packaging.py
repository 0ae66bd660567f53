"""A wheel install and an editable install both import every module and expose
every entry point (the instrumentors/ directory maps into the package), and a
base install (no extras, no SDK) instruments against the API's no-op provider."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from opentelemetry.instrumentation.livekit_agents.provider_instrumentor import (
    PROVIDER_ENTRY_POINT_GROUP,
)

pytestmark = pytest.mark.packaging

REPO = Path(__file__).resolve().parents[1]
PACKAGE = "opentelemetry.instrumentation.livekit_agents"
PROJECT = "opentelemetry-instrumentation-livekit-agents"
EXTRAS = "demo"
PROBE = f"""
import importlib, json, pkgutil
from importlib.metadata import entry_points
from pathlib import Path
import sys
import {PACKAGE} as package
for name in sys.argv[2:]:
    if not name.endswith(".__main__"):  # importing it runs the demo
        importlib.import_module(name)
# what a regular install ships; an editable finder maps instrumentors/ without a directory entry
modules = sorted(m.name for m in pkgutil.walk_packages(package.__path__, package.__name__ + "."))
points = sorted(ep.name for group in ("opentelemetry_instrumentor", sys.argv[1])
                for ep in entry_points(group=group)
                if ep.name.startswith("livekit_agents") and ep.load())
print(json.dumps({{"modules": modules, "entry_points": points,
                  "py_typed": (Path(package.__file__).parent / "py.typed").exists()}}))
"""


def uv(*args: str, cwd: Path | None = None) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "uv", *args], cwd=cwd, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def source_modules() -> list[str]:
    """Every module the source tree holds, as an installed name."""
    runtime = REPO / "src" / Path(*PACKAGE.split("."))
    names = [f"{PACKAGE}.{p.stem}" for p in runtime.glob("*.py") if p.stem != "__init__"]
    names += [f"{PACKAGE}.demo.{p.stem}" for p in (runtime / "demo").glob("*.py")]
    aspects = REPO / "instrumentors"
    names += [
        f"{PACKAGE}.instrumentors.{'.'.join(p.relative_to(aspects).with_suffix('').parts)}"
        for p in aspects.rglob("*.py")
    ]
    return sorted(name.removesuffix(".__init__") for name in names)


def entry_point_names() -> list[str]:
    text = (REPO / "pyproject.toml").read_text()
    names = []
    for group in ("opentelemetry_instrumentor", PROVIDER_ENTRY_POINT_GROUP):
        section = text.split(f"[project.entry-points.{group}]", 1)[1]
        section = section.split("\n[", 1)[0]
        names += [line.split("=")[0].strip() for line in section.splitlines() if "=" in line]
    return sorted(names)


@pytest.fixture(scope="module")
def source_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # Build from a copy: parallel tox envs must not share build/ or egg-info.
    copy = tmp_path_factory.mktemp("source") / "project"
    copy.mkdir()
    for name in ("src", "instrumentors"):
        shutil.copytree(REPO / name, copy / name, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, copy / name)
    return copy


@pytest.fixture(scope="module")
def constraints(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """This environment's versions, so the new venvs install the same framework."""
    frozen = uv("pip", "freeze", "--python", sys.executable).splitlines()
    path = tmp_path_factory.mktemp("constraints") / "constraints.txt"
    pinned = [line for line in frozen if "==" in line and not line.startswith(PROJECT)]
    path.write_text("\n".join(pinned))
    return path


def install_and_probe(venv: Path, constraints: Path, *requirement: str) -> dict[str, object]:
    uv("venv", "--quiet", "--python", sys.executable, str(venv))
    python = venv / "bin" / "python"
    uv(
        "pip",
        "install",
        "--quiet",
        "--python",
        str(python),
        "-c",
        str(constraints),
        *requirement,
        "livekit-agents",
        "httpx",  # as in tox.ini: several releases import it without requiring it
    )
    done = subprocess.run(
        [str(python), "-c", PROBE, PROVIDER_ENTRY_POINT_GROUP, *source_modules()],
        cwd=venv,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def test_wheel_install(source_copy: Path, constraints: Path, tmp_path: Path) -> None:
    uv("build", "--quiet", "--wheel", "--out-dir", str(tmp_path / "dist"), str(source_copy))
    (wheel,) = (tmp_path / "dist").glob("*.whl")
    # the demo subpackage needs the SDK and exporters that its extra brings
    probe = install_and_probe(
        tmp_path / "venv", constraints, f"{PROJECT}[{EXTRAS}] @ {wheel.as_uri()}"
    )
    assert probe == {
        "modules": source_modules(),
        "entry_points": entry_point_names(),
        "py_typed": True,
    }


def test_editable_install(source_copy: Path, constraints: Path, tmp_path: Path) -> None:
    probe = install_and_probe(tmp_path / "venv", constraints, "-e", f"{source_copy}[{EXTRAS}]")
    assert probe["entry_points"] == entry_point_names()
    assert probe["py_typed"] is True


BASE_PROBE = f"""
import importlib.util, json, sys
from opentelemetry import metrics
from {PACKAGE} import AgentsInstrumentor
framework = importlib.util.find_spec("livekit") is not None
if framework:
    from livekit.agents import utils
    original = utils.ConnectionPool.get
instrumentor = AgentsInstrumentor()
instrumentor.instrument()
patched = framework and utils.ConnectionPool.get is not original
instrumentor.uninstrument()
print(json.dumps({{
    "sdk_installed": importlib.util.find_spec("opentelemetry.sdk") is not None,
    "sdk_imported": any(name.startswith("opentelemetry.sdk") for name in sys.modules),
    # the API's own: a proxy that hands out no-op meters while no provider is set
    "provider": type(metrics.get_meter_provider()).__module__,
    "patched": patched,
    "restored": not framework or utils.ConnectionPool.get is original,
}}))
"""


def base_probe(python: Path) -> dict[str, object]:
    done = subprocess.run(
        [str(python), "-c", BASE_PROBE], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def test_base_install_instruments_with_the_api_alone(source_copy: Path, tmp_path: Path) -> None:
    """The package's own dependencies only: import and instrument()/uninstrument() run
    on the API's no-op provider, first without the framework, then with livekit-agents
    1.0.23 (the oldest supported release, which brings no OpenTelemetry; 1.8.9
    requires the SDK)."""
    uv("build", "--quiet", "--wheel", "--out-dir", str(tmp_path / "dist"), str(source_copy))
    (wheel,) = (tmp_path / "dist").glob("*.whl")
    venv = tmp_path / "venv"
    uv("venv", "--quiet", "--python", sys.executable, str(venv))
    python = venv / "bin" / "python"
    uv("pip", "install", "--quiet", "--python", str(python), str(wheel))
    no_sdk = {
        "sdk_installed": False,
        "sdk_imported": False,
        "provider": "opentelemetry.metrics._internal",
    }
    assert base_probe(python) == {**no_sdk, "patched": False, "restored": True}
    uv("pip", "install", "--quiet", "--python", str(python), "livekit-agents==1.0.23", "httpx")
    assert base_probe(python) == {**no_sdk, "patched": True, "restored": True}
