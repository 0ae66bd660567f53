"""tools/connection_coverage.py counts what README.md and docs/providers.md claim."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_the_count_printed_is_the_count_the_docs_claim() -> None:
    tool = ROOT / "tools" / "connection_coverage.py"
    output = subprocess.run(
        [sys.executable, str(tool)], capture_output=True, text=True, check=True
    ).stdout
    found = re.search(r"^timed (\d+) of (\d+) sites$", output, re.MULTILINE)
    assert found, output[-500:]
    timed, total = int(found[1]), int(found[2])
    assert total == 87
    rows = [line for line in output.splitlines() if re.match(r"^\s*\d+ ", line)]
    assert len(rows) == total
    assert sum(" timed: " in row for row in rows) == timed
    providers = (ROOT / "docs" / "providers.md").read_text(encoding="utf-8")
    assert f"`timed {timed} of {total} sites`" in providers
    assert f"The {total - timed} sites not timed" in providers
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert f"{timed} of the {total} connection sites" in readme
