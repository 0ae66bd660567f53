"""Instructions per call of the per-call table's rows, two checkouts side by side.

    python benchmarks/instructions.py OLD_CHECKOUT OLD_PYTHON [-n 2000]

``valgrind --tool=callgrind`` counts the instructions a run executes, not its
seconds, so the figures hold on a busy machine, where ``side_by_side.py`` needs
a quiet one.  Each row runs instrumented in its own process per checkout; only
its ``n`` calls are counted, after a warm-up: the child calls ``os.getppid()``
just before them, where callgrind zeroes its counters, and ``os.getpgrp()`` just
after, where it dumps them (``--zero-before`` / ``--dump-before``), so the
interpreter's start and the imports, whose counts vary by several per cent from
run to run, are left out.  The new checkout is this one, run with the calling
interpreter.  Instructions are not time (a cache miss costs more than an
addition), so the guard itself stays the side-by-side timing; this says where a
difference comes from when the machine is too busy to time it.  Needs valgrind
on the PATH.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

NEW = Path(__file__).resolve().parent.parent
ROWS = ("STT usage event (emit)", "TTS usage event (emit)", "ConnectionPool.get cycle (reused)")
"""The rows whose unit is one ``Scenario.one()`` call and runs in a few seconds under
callgrind (a turn and an LLM event are slower to simulate, but take the same path)."""
SUMMARY = re.compile(r"^summary: (\d+)", re.MULTILINE)


def run_row(row: str, n: int) -> None:
    """In the child: ``n`` instrumented calls of ``row``, after a warm-up."""
    sys.path.insert(0, str(Path.cwd() / "benchmarks"))
    import micro  # the checkout's own: the scenarios as that tree defines them
    from _common import in_memory_provider, instrument, usage_events

    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    scenarios = [micro.PoolCycle(loop)]
    scenarios += [micro.UsageEvent(kind, c, e) for kind, (c, e) in usage_events().items()]
    scenario = next(s for s in scenarios if s.name == row)
    instrument(in_memory_provider()[0])
    scenario.prepare(loop, instrumented=True)
    for _ in range(1000):
        scenario.one()
    os.getppid()  # callgrind zeroes its counters here
    for _ in range(n):
        scenario.one()
    os.getpgrp()  # and dumps them here


def per_call(checkout: Path, python: str, row: str, n: int) -> float:
    """Instructions per call of ``row``: its ``n`` counted calls, in one child run."""
    with tempfile.TemporaryDirectory() as out:
        done = subprocess.run(
            ["valgrind", "--tool=callgrind", "--zero-before=getppid", "--dump-before=getpgrp",
             f"--callgrind-out-file={out}/callgrind.out",
             python, str(NEW / "benchmarks" / "instructions.py"), "--child", row, str(n)],
            capture_output=True, text=True, check=False, cwd=checkout,
        )  # fmt: skip
        dump = Path(out, "callgrind.out.1")
        found = SUMMARY.search(dump.read_text()) if dump.exists() else None
    if done.returncode != 0 or found is None:
        raise RuntimeError(f"{checkout} {row}:\n{done.stderr[-4000:]}")
    return int(found.group(1)) / n


def main() -> None:
    if sys.argv[1:2] == ["--child"]:
        run_row(sys.argv[2], int(sys.argv[3]))
        return
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("old", type=Path)
    parser.add_argument("old_python")
    parser.add_argument("-n", type=int, default=2000)
    args = parser.parse_args()
    print("| call | instructions old | instructions new | new / old |")
    print("|---|---:|---:|---:|")
    for row in ROWS:
        old = per_call(args.old.resolve(), args.old_python, row, args.n)
        new = per_call(NEW, sys.executable, row, args.n)
        print(f"| {row} | {old:.0f} | {new:.0f} | {new / old:.2f} |", flush=True)


if __name__ == "__main__":
    main()
