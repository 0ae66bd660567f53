"""Run every overhead benchmark and print one table of results (markdown).

    python benchmarks/run.py            # the full suite (~20 min on 2 cores)
    python benchmarks/run.py --quick    # a smoke run (~2 min)
    python benchmarks/hotspots.py stt   # where one scenario's own cost goes (py-spy)

Each section runs in its own process (a global MeterProvider can be set only
once, and memory must be measured from a fresh heap).  Targets are reported,
never enforced: the exit status is 0 whatever the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
OWN_TARGET_US = 2.0
CPU_TARGET = 1.02


def section(*args: str) -> Any:
    """Run ``benchmarks/<script> args`` and return the JSON it hands back."""
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    done = subprocess.run(
        [sys.executable, str(HERE / args[0]), *args[1:]],
        capture_output=True, text=True, env=env, check=False,
    )  # fmt: skip
    for line in done.stdout.splitlines():
        if line.startswith("BENCH-JSON "):
            return json.loads(line[len("BENCH-JSON ") :])
    raise RuntimeError(f"{args} failed:\n{done.stderr[-4000:]}")


def us(ns: float) -> str:
    return f"{ns / 1000:.2f}"


def verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


def print_micro(micro: dict[str, Any]) -> None:
    print("### Per wrapped call (best of the repetitions, µs per unit of work)\n")
    print("own = instrumented - uninstrumented - SDK calls alone; own (direct) = instrumented "
          "with the SDK's add/record made no-ops - uninstrumented - the same no-op calls "
          "alone. bare = the floor: the same patch point only reading the numbers ours "
          "records and appending each to a deque (no checks, identity, attributes, "
          "suppression, de-duplication or SDK hand-off), less uninstrumented.\n")  # fmt: skip
    print("| call | uninstr. | instr. | ratio | SDK alone (calls per unit) | own | own (direct) "
          "| bare | own < 2 µs |")  # fmt: skip
    print("|---|---:|---:|---:|---:|---:|---:|---:|---|")
    for name, f in micro["scenarios"].items():
        direct_us = f["own_direct_ns"] / 1000
        print(
            f"| {name} | {us(f['base_ns'])} | {us(f['instr_ns'])} "
            f"| {f['instr_ns'] / f['base_ns']:.1f}x "
            f"| {us(f['sdk_ns'])} ({f['sdk_calls']:.2f}) | {us(f['own_ns'])} | {direct_us:.2f} "
            f"| {us(f['bare_ns']) if 'bare_ns' in f else '—'} "
            f"| {verdict(direct_us < OWN_TARGET_US)} |"
        )
    native = {k: f for k, f in micro["scenarios"].items() if "native_ns" in f}
    if native:
        print("\n### Per usage event: ours against the framework's own `collect_usage`\n")
        print("Each records into an SDK MeterProvider with an in-memory reader. Ours is "
              "instrumented - uninstrumented `emit`, in a job or not; the framework's is "
              "its `collect_usage` call alone, outside a job and in one (where 1.8 adds the "
              "room and job ids to every point).\n")  # fmt: skip
        print("| event | ours µs | framework µs | in a job µs | ours / framework in a job "
              "| ours <= framework in a job |")  # fmt: skip
        print("|---|---:|---:|---:|---:|---|")
        for name, f in native.items():
            ratio = f["ours_ns"] / f["native_job_ns"]
            print(
                f"| {name} | {us(f['ours_ns'])} | {us(f['native_ns'])} "
                f"| {us(f['native_job_ns'])} | {ratio:.2f} | {verdict(ratio <= 1.0)} |"
            )
    print()


def print_cpu(cpu: dict[str, Any]) -> None:
    print(f"### Simulated session, {cpu['turns']} turns, component delays zero\n")
    print("Best of the runs. The handlers' share is the time inside the instrumentation's")
    print("handlers (SDK calls included) over the run's CPU, measured within each run;")
    print("1 + share estimates the same ratio without the A/B's run-to-run noise.\n")
    print("| CPU uninstrumented s | CPU instrumented s | ratio (A/B) | handlers' share "
          "| ratio < 1.02 (A/B) | 1 + share < 1.02 |")  # fmt: skip
    print("|---:|---:|---:|---:|---|---|")
    share = cpu["handler_share"]
    print(
        f"| {cpu['plain_s']:.3f} | {cpu['instr_s']:.3f} | {cpu['ratio']:.3f} | {share:.1%} "
        f"| {verdict(cpu['ratio'] < CPU_TARGET)} | {verdict(1 + share < CPU_TARGET)} |\n"
    )


def print_routes(routes: dict[str, Any]) -> None:
    print(f"### Inside the session: our own code per routed event ({routes['turns']} turns)\n")
    print("The SDK's add/record made no-ops; the time of each callback the emit patch "
          "routes an event to (median): compare with the warm loops above.\n")  # fmt: skip
    print("| event: emitter, metrics | count | median µs |")
    print("|---|---:|---:|")
    for key, f in routes["routes"].items():
        print(f"| {key} | {f['count']} | {f['median_us']:.1f} |")
    print()


def print_hotspots(profiles: list[dict[str, Any]]) -> None:
    print("### Where our own cost goes (py-spy, SDK calls made no-ops)\n")
    print("`benchmarks/hotspots.py`: the warm loop of one scenario, sampled from outside "
          "the process; per function, its share of the unit's time (inclusive, and its own "
          "lines only, which include the calls they make), in ns of the unit measured in "
          "the sampled run.\n")  # fmt: skip
    for f in profiles:
        ns = f["ns_per_unit"]
        print(f"**{f['scenario']}**: {ns / 1000:.2f} µs per unit, {f['samples']} samples\n")
        print("| function | inclusive ns | own lines ns |")
        print("|---|---:|---:|")
        for row in f["rows"]:
            print(f"| {row['function']} | {ns * row['inclusive']:.0f} | {ns * row['own']:.0f} |")
        print()


def print_memory(plain: dict[str, Any], instr: dict[str, Any]) -> None:
    n = plain["sessions"]
    first, last = sorted(plain["retained_kib"], key=int)
    print(f"### Memory over {n} cheap sessions (tracemalloc, KiB above the warmed-up heap)\n")
    print(f"| mode | peak | retained after {first} | retained after {last} |")
    print("|---|---:|---:|---:|")
    for f in (plain, instr):
        kept = f["retained_kib"]
        print(f"| {f['mode']} | {f['peak_kib']:.0f} | {kept[first]:.1f} | {kept[last]:.1f} |")
    growth = (instr["retained_kib"][last] - instr["retained_kib"][first]) - (
        plain["retained_kib"][last] - plain["retained_kib"][first]
    )
    per_session = growth * 1024 / (int(last) - int(first))
    print(
        f"\nInstrumented growth beyond uninstrumented, sessions {first}->{last}: "
        f"{growth:.1f} KiB ({per_session:.1f} B per session)\n"
    )


def print_series(series: dict[str, Any]) -> None:
    print(f"### Exported series (data points) after {series['sessions']} sessions, one job each\n")
    names = sorted(set(series["ours"]) | set(series["native"]))
    print("| metric | ours | framework's own |")
    print("|---|---:|---:|")
    for name in names:
        print(f"| {name} | {series['ours'].get(name, '-')} | {series['native'].get(name, '-')} |")
    total_ours, total_native = sum(series["ours"].values()), sum(series["native"].values())
    print(f"| **total** | **{total_ours}** | **{total_native}** |\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small counts: a smoke run")
    args = parser.parse_args()
    quick = args.quick
    lk = version("livekit-agents")
    print(
        f"livekit-agents {lk}, opentelemetry-sdk {version('opentelemetry-sdk')}, "
        f"Python {platform.python_version()}, {platform.machine()}, {os.cpu_count()} CPUs\n"
    )
    print_micro(section("micro.py", "-n", "1000" if quick else "5000",
                        "--reps", "3" if quick else "9"))  # fmt: skip
    print_cpu(section("sessions.py", "cpu", "--turns", "20" if quick else "100",
                      "--reps", "1" if quick else "7"))  # fmt: skip
    print_routes(section("sessions.py", "routes", "--turns", "20" if quick else "100"))
    seconds = "2" if quick else "10"
    try:
        print_hotspots(
            [section("hotspots.py", name, "--json", "--seconds", seconds, "--top", "12")
             for name in ("stt", "llm", "pool", "turn")]
        )  # fmt: skip
    except RuntimeError as error:  # no py-spy, or no permission to sample a process
        print(f"### Where our own cost goes: not profiled ({str(error).splitlines()[-1]})\n")
    sessions = "100" if quick else "1000"
    print_memory(
        section("sessions.py", "memory", "--mode", "plain", "--sessions", sessions),
        section("sessions.py", "memory", "--mode", "instrumented", "--sessions", sessions),
    )
    if tuple(int(p) for p in lk.split(".")[:2]) >= (1, 5):
        print_series(section("sessions.py", "series", "--sessions", sessions))
    else:
        print("### Exported series: the framework has no metrics of its own before 1.5.2\n")


if __name__ == "__main__":
    main()
