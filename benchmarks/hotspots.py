"""Where our own cost per unit goes: one micro scenario under the py-spy profiler.

    python benchmarks/hotspots.py stt       # or tts, llm, pool, turn
    python benchmarks/hotspots.py turn --seconds 20 --top 25

The scenario of ``micro.py`` runs instrumented, with the SDK's ``add``/``record``
made no-ops, in a child process that py-spy samples from outside (no profiling
hook in the process, so the proportions are those of the real run).  The table
gives, per function, its share of the timed loop's samples, inclusive and its
own lines only, and that share of the unit's measured time in nanoseconds.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
SCENARIOS = ("pool", "tts", "stt", "llm", "turn")
SAMPLES_PER_SECOND = 250
"""Low enough that py-spy keeps up on a 2-core machine shared with the sampled process."""
_LOOP_FRAME = re.compile(r"^\w+\.measure \(.*micro\.py:\d+\)$")
"""The frame of a scenario's timed loop (``measure``), around every sample that counts."""
_FRAME = re.compile(r"^(?P<function>.*) \((?P<path>.*):\d+\)$")


def scenario(name: str, loop: asyncio.AbstractEventLoop) -> Any:
    import micro
    from _common import usage_events

    if name == "pool":
        return micro.PoolCycle(loop)
    if name == "turn":
        return micro.Turn(loop)
    component, event = usage_events()[name.upper()]
    return micro.UsageEvent(name.upper(), component, event)


def run_child(name: str, seconds: float) -> None:
    """The sampled process: the scenario in timed loops for ``seconds``; prints ns/unit."""
    from _common import in_memory_provider, instrument, sdk_disabled

    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    unit = scenario(name, loop)
    instrument(in_memory_provider()[0])
    unit.prepare(loop, instrumented=True)
    best = float("inf")
    with sdk_disabled():
        unit.measure(loop, 2000)  # warm up
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            best = min(best, unit.measure(loop, 20000))
    unit.close(loop)
    print(f"NS-PER-UNIT {best}")


def short(frame: str) -> str:
    """``function (package-relative path)`` of a py-spy frame, without the line."""
    match = _FRAME.match(frame)
    if match is None:
        return frame
    path = match["path"]
    for marker in ("/livekit_agents/", "/instrumentors/", "/site-packages/", "/benchmarks/"):
        if marker in path:
            path = path.split(marker, 1)[1]
            break
    return f"{match['function']} ({path})"


def tally(raw: Path) -> tuple[int, Counter[str], Counter[str]]:
    """Samples inside the timed loop, and per function its inclusive and own samples."""
    total = 0
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        frames = stack.split(";")
        if not any(_LOOP_FRAME.match(frame) for frame in frames):
            continue
        # gc_paused() collects before each loop starts: not the loop's time
        if any("gc_paused" in frame for frame in frames):
            continue
        n = int(count)
        total += n
        own[short(frames[-1])] += n
        for function in {short(frame) for frame in frames}:
            inclusive[function] += n
    return total, inclusive, own


def _harness(function: str) -> bool:
    """The benchmark's own frames around the unit: in every sample, so no news."""
    return "(hotspots.py)" in function or function.startswith(
        (
            "<module>",
            "Scenario.measure",
            "PoolCycle.measure",
            "time_loop",
            "BaseEventLoop.",
            "Handle._run",
        )
    )


def profile(name: str, seconds: float, top: int) -> dict[str, Any]:
    """Sample the scenario's child process; the functions inside the unit, by inclusive time."""
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "samples.txt"
        done = subprocess.run(
            [
                py_spy, "record", "--rate", str(SAMPLES_PER_SECOND), "--format", "raw",
                "--output", str(raw), "--",
                sys.executable, __file__, name, "--child", "--seconds", str(seconds),
            ],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        total, inclusive, own = tally(raw)
    ns = float(done.stdout.split("NS-PER-UNIT ")[1].split()[0])
    rows = [(f, n) for f, n in inclusive.most_common() if not _harness(f)][:top]
    return {
        "scenario": name,
        "ns_per_unit": ns,
        "samples": total,
        "rows": [{"function": f, "inclusive": n / total, "own": own[f] / total} for f, n in rows],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("scenario", choices=SCENARIOS)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--top", type=int, default=20)
    parser.add_argument("--json", action="store_true", help="one BENCH-JSON line (run.py)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        run_child(args.scenario, args.seconds)
        return
    result = profile(args.scenario, args.seconds, args.top)
    if args.json:
        from _common import emit_json

        emit_json(result)
        return
    ns = result["ns_per_unit"]
    samples = result["samples"]
    print(f"{args.scenario}: {ns:.0f} ns per unit, SDK calls made no-ops; {samples} samples")
    print(f"{'inclusive':>15} {'own lines':>15}  function")
    for row in result["rows"]:
        print(
            f"{100 * row['inclusive']:5.1f}% {ns * row['inclusive']:6.0f} ns"
            f" {100 * row['own']:5.1f}% {ns * row['own']:6.0f} ns  {row['function']}"
        )


if __name__ == "__main__":
    main()
