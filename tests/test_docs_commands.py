"""Every command the README and docs/ give, run as written (``tox -e docs``).

Each command of README.md's "Try it" and "Quickstart" sections, every command of
docs/verify.md and every demo command (``python -m ...demo``) in docs/ runs in a fresh
virtual environment (``uv venv --seed``: pip, nothing else) whose working directory is a
fresh copy of this checkout, as a newcomer's clone would be. A command fails its test
when it exits non-zero or does not deliver what the page says it does. The agent
commands run against agent files written here: the Quickstart's ``agent.py start``
drives a real ``AgentSession`` through the simulation (no LiveKit server), and exports
over OTLP to a receiver on loopback. A demo command that serves until stopped is
started, scraped and stopped with SIGTERM.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path

import pytest

from .otlp_receivers import GrpcReceiver, latest

pytestmark = pytest.mark.docs

ROOT = Path(__file__).parent.parent
README = ROOT / "README.md"
DOCS = ROOT / "docs"
DEMO = "python -m opentelemetry.instrumentation.livekit_agents.demo"
INSTALL_TIMEOUT = 900.0
RUN_TIMEOUT = 600.0

# The Quickstart's agent.py: a user's agent whose `start` drives a real AgentSession
# through the simulation instead of joining a room (there is no LiveKit server here).
QUICKSTART_AGENT = """\
import asyncio
import sys

from livekit.agents import Agent
from opentelemetry.instrumentation.livekit_agents.demo import simulation as sim


class Assistant(Agent):
    def __init__(self) -> None:
        super().__init__(instructions="You are a helpful voice assistant.")


async def start() -> None:
    session = sim.simulated_session()
    await session.start(Assistant())
    await sim.run_conversation(session, [sim.UserTurn("Hello."), sim.UserTurn("Thanks.")])
    await session.aclose()


if __name__ == "__main__":
    assert sys.argv[1:] == ["start"], sys.argv
    asyncio.run(start())
"""

# docs/verify.md checks "your agent": this one is written as the LiveKit examples are.
USER_AGENT = """\
from livekit.agents import Agent, AgentSession, JobContext, WorkerOptions, cli


class Assistant(Agent):
    def __init__(self) -> None:
        super().__init__(instructions="You are a helpful voice assistant.")


async def entrypoint(ctx: JobContext) -> None:
    await ctx.connect()
    session = AgentSession()
    await session.start(agent=Assistant(), room=ctx.room)


if __name__ == "__main__":
    cli.run_app(WorkerOptions(entrypoint_fnc=entrypoint))
"""


# ---------------------------------------------------------------- reading the pages


def section(markdown: str, heading: str) -> str:
    """The text under ``## heading``, up to the next heading of that level."""
    match = re.search(rf"^## {re.escape(heading)}\n(.*?)(?=^## |\Z)", markdown, re.M | re.S)
    assert match, f"no '## {heading}' section"
    return match.group(1)


def blocks(markdown: str, language: str) -> list[str]:
    return re.findall(rf"^```{language}\n(.*?)^```", markdown, re.M | re.S)


def commands(markdown: str) -> list[str]:
    """The commands of the page's bash blocks: comments and blank lines dropped,
    continued lines joined."""
    found = []
    for block in blocks(markdown, "bash"):
        joined = block.replace("\\\n", " ")
        found += [
            line.strip()
            for line in joined.splitlines()
            if line.strip() and not line.lstrip().startswith("#")
        ]
    return found


def demo_commands() -> list[tuple[str, str]]:
    return [
        (page.name, command)
        for page in sorted(DOCS.glob("*.md"))
        for command in commands(page.read_text())
        if command.startswith(DEMO)
    ]


def pip_installs() -> set[str]:
    pages = [README, *sorted(DOCS.glob("*.md"))]
    return {c for page in pages for c in commands(page.read_text()) if "pip install" in c}


TRY_IT = commands(section(README.read_text(), "Try it"))
QUICKSTART = commands(section(README.read_text(), "Quickstart"))
VERIFY = commands((DOCS / "verify.md").read_text())


# ------------------------------------------------------------------- a fresh machine


class FreshClone:
    """A copy of this checkout and a new virtual environment, activated for its commands."""

    def __init__(self, where: Path) -> None:
        self.clone = where / "clone"
        self.venv = where / "venv"
        tracked = subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=ROOT,
            check=True,
            capture_output=True,
            text=True,
        ).stdout.split("\0")
        for name in filter(None, tracked):
            if (ROOT / name).is_file():
                (self.clone / name).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(ROOT / name, self.clone / name)
        subprocess.run(
            ["uv", "venv", "-q", "--seed", "--python", sys.executable, str(self.venv)],
            check=True,
        )

    def environment(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("VIRTUAL_ENV", "PYTHON"))}
        env.update(
            PATH=f"{self.venv / 'bin'}{os.pathsep}{os.environ['PATH']}",
            VIRTUAL_ENV=str(self.venv),
            PYTHONUNBUFFERED="1",
        )
        env.update(extra)
        return env

    def install_framework(self) -> None:
        """What a user's agent environment already holds: this env's livekit-agents."""
        python = str(self.venv / "bin" / "python")
        release = f"livekit-agents=={metadata.version('livekit-agents')}"
        subprocess.run(
            ["uv", "pip", "install", "-q", "--python", python, release, "httpx"],
            check=True,
            timeout=INSTALL_TIMEOUT,
        )

    def run(
        self, command: str, timeout: float = RUN_TIMEOUT, **env: str
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["bash", "-c", command],
            cwd=self.clone,
            env=self.environment(**env),
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def start(self, command: str, output: Path) -> subprocess.Popen[bytes]:
        with output.open("wb") as out:
            return subprocess.Popen(
                ["bash", "-c", f"exec {command}"],
                cwd=self.clone,
                env=self.environment(),
                stdout=out,
                stderr=subprocess.STDOUT,
            )


def succeeded(command: str, result: subprocess.CompletedProcess[str]) -> str:
    """The command's output; fails the test with it when the command failed."""
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"`{command}` exited {result.returncode}:\n{output[-6000:]}"
    return output


def exported_names(receiver: GrpcReceiver) -> set[str]:
    return set(latest(receiver.requests))


@pytest.fixture(scope="module")
def demo_machine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[FreshClone, str]]:
    """A fresh machine after the README's demo command: its clone and what it printed."""
    machine = FreshClone(tmp_path_factory.mktemp("try-it"))
    command = TRY_IT[0]
    yield machine, succeeded(command, machine.run(command, INSTALL_TIMEOUT + RUN_TIMEOUT))


# ------------------------------------------------------------------------ README


def test_try_it_is_the_demo_and_the_tests() -> None:
    assert len(TRY_IT) == 2, TRY_IT
    assert TRY_IT[0].endswith(DEMO), TRY_IT[0]
    # .ci/run runs the line after the one that starts with "# the tests"
    readme = README.read_text().splitlines()
    comment = next(i for i, line in enumerate(readme) if line.startswith("# the tests"))
    assert readme[comment + 1] == TRY_IT[1]


def test_try_it_demo(demo_machine: tuple[FreshClone, str]) -> None:
    _machine, output = demo_machine
    for family in ("lk.agents.turn.", "lk.agents.usage.", "lk.agents.connection."):
        assert family in output, output[-3000:]


def test_try_it_tests() -> None:
    pytest.skip(
        "the README's test command is what .ci/run runs, and it runs this test: "
        "running it here would recurse"
    )


def test_quickstart(tmp_path: Path) -> None:
    """The Quickstart, in an agent's environment, against a real session, to OTLP."""
    assert len(QUICKSTART) == 2, QUICKSTART
    machine = FreshClone(tmp_path)
    machine.install_framework()
    (machine.clone / "agent.py").write_text(QUICKSTART_AGENT)
    install, run = QUICKSTART
    succeeded(install, machine.run(install, INSTALL_TIMEOUT))
    receiver = GrpcReceiver()
    receiver.start()
    try:
        succeeded(run, machine.run(run, OTEL_EXPORTER_OTLP_ENDPOINT=f"http://{receiver.endpoint}"))
    finally:
        receiver.stop()
    names = exported_names(receiver)
    assert {"lk.agents.turn.e2e_latency", "lk.agents.usage.llm_input_tokens"} <= names, names
    # the other pages' installs: each one the same way, from the clone
    for other in sorted(pip_installs() - {install, TRY_IT[0], TRY_IT[1], *VERIFY}):
        succeeded(other, machine.run(other, INSTALL_TIMEOUT))


# -------------------------------------------------------------------------- docs/


def test_verify_page(tmp_path: Path) -> None:
    """docs/verify.md: one's own agent, checked without a LiveKit server."""
    page = (DOCS / "verify.md").read_text()
    machine = FreshClone(tmp_path)
    machine.install_framework()
    (machine.clone / "agent.py").write_text(USER_AGENT)
    for script in blocks(page, "python"):
        name = re.match(r"# (\S+\.py)\b", script)
        assert name, f"a python block of verify.md does not start with '# <file>.py': {script}"
        (machine.clone / name.group(1)).write_text(script)
    assert VERIFY, "verify.md gives no command"
    output = ""
    for command in VERIFY:
        output = succeeded(command, machine.run(command))
    # the last command lists what was exported
    for name in ("lk.agents.turn.e2e_latency", "lk.agents.usage.llm_input_tokens"):
        assert name in output, output[-3000:]


@pytest.mark.parametrize(("page", "command"), demo_commands())
def test_demo_command(
    demo_machine: tuple[FreshClone, str], tmp_path: Path, page: str, command: str
) -> None:
    machine, _ = demo_machine
    if otlp := re.search(r"--otlp-endpoint http://(?:localhost|127\.0\.0\.1):(\d+)\b", command):
        receiver = GrpcReceiver(int(otlp.group(1)))
        receiver.start()
        try:
            succeeded(command, machine.run(command))
        finally:
            receiver.stop()
        assert "lk.agents.turn.e2e_latency" in exported_names(receiver)
    elif (prometheus := re.search(r"--prometheus-port (\d+)\b", command)) and (
        "--serve-seconds" not in command
    ):
        serves_until_stopped(machine, command, int(prometheus.group(1)), tmp_path / "out")
    else:
        assert "--otlp-endpoint" not in command, f"{page}: an endpoint that is not loopback"
        succeeded(command, machine.run(command))


def serves_until_stopped(machine: FreshClone, command: str, port: int, output: Path) -> None:
    """The demo serves /metrics after its summary until SIGTERM, then exits 0."""
    process = machine.start(command, output)
    try:
        deadline = time.monotonic() + RUN_TIMEOUT
        while "Serving" not in output.read_text():
            assert process.poll() is None, f"`{command}` ended:\n{output.read_text()[-6000:]}"
            assert time.monotonic() < deadline, f"no summary from `{command}`"
            time.sleep(0.5)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
            scraped = response.read().decode()
        assert "lk_agents_turn_e2e_latency_seconds_count" in scraped, scraped[:3000]
        time.sleep(1)
        assert process.poll() is None, f"`{command}` stopped serving:\n{output.read_text()}"
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            returncode = process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            raise
    assert returncode == 0, f"`{command}` exited {returncode} on SIGTERM:\n{output.read_text()}"
