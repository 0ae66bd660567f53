"""The per-call table of two checkouts side by side, measured in one run.

    python benchmarks/side_by_side.py OLD_CHECKOUT OLD_PYTHON [--rounds 2] [-n 3000]

Each checkout runs its own ``benchmarks/micro.py`` with its own interpreter (each
installed into its own environment), in the order old, new, new, old, ... so that
a shared machine's slow spells fall on both alike; each row keeps the best figure
a checkout reached over the rounds, as ``micro.py`` keeps the best repetition.
The new checkout is this one, run with the calling interpreter.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

NEW = Path(__file__).resolve().parent.parent
GUARD = 1.15


def micro(checkout: Path, python: str, n: int, reps: int) -> dict[str, Any]:
    """One run of ``checkout``'s micro.py: scenario -> figures (ns)."""
    done = subprocess.run(
        [python, str(checkout / "benchmarks" / "micro.py"), "-n", str(n), "--reps", str(reps)],
        capture_output=True, text=True, check=False, cwd=checkout,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )  # fmt: skip
    for line in done.stdout.splitlines():
        if line.startswith("BENCH-JSON "):
            scenarios: dict[str, Any] = json.loads(line[len("BENCH-JSON ") :])["scenarios"]
            return scenarios
    raise RuntimeError(f"{checkout} failed:\n{done.stderr[-4000:]}")


def best(runs: list[dict[str, Any]], name: str, key: str) -> float:
    return min(run[name][key] for run in runs if name in run)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("old", type=Path)
    parser.add_argument("old_python")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("-n", type=int, default=3000)
    parser.add_argument("--reps", type=int, default=7)
    args = parser.parse_args()
    old: list[dict[str, Any]] = []
    new: list[dict[str, Any]] = []
    for i in range(args.rounds):
        order = [("old", args.old, args.old_python), ("new", NEW, sys.executable)]
        for label, checkout, python in order if i % 2 == 0 else order[::-1]:
            (old if label == "old" else new).append(micro(checkout, python, args.n, args.reps))
            print(f"round {i + 1}: {label} done", file=sys.stderr, flush=True)
    print("| call | instr. old µs | instr. new µs | new / old | own (direct) old µs "
          "| own (direct) new µs | within 15 % |")  # fmt: skip
    print("|---|---:|---:|---:|---:|---:|---|")
    for name in new[0]:
        if not all(name in run for run in old):
            continue
        o, w = best(old, name, "instr_ns"), best(new, name, "instr_ns")
        od, wd = best(old, name, "own_direct_ns"), best(new, name, "own_direct_ns")
        print(f"| {name} | {o / 1000:.2f} | {w / 1000:.2f} | {w / o:.2f} | {od / 1000:.2f} "
              f"| {wd / 1000:.2f} | {'yes' if w / o <= GUARD else 'NO'} |")  # fmt: skip
    print(f"\nrounds: {args.rounds}, each: micro.py -n {args.n} --reps {args.reps}")
    print("per round, instr. µs (old / new):")
    for name in new[0]:
        if all(name in run for run in old):
            pairs = ", ".join(
                f"{o[name]['instr_ns'] / 1000:.2f}/{w[name]['instr_ns'] / 1000:.2f}"
                for o, w in zip(old, new)
            )
            print(f"- {name}: {pairs}")


if __name__ == "__main__":
    main()
