"""docs/metrics.md against the catalogue: every metric under the full name users
search for, with its kind, unit and attribute keys, and no metric the package
does not record."""

from __future__ import annotations

import re
from pathlib import Path

from opentelemetry.instrumentation.livekit_agents.instruments import CATALOGUE
from opentelemetry.instrumentation.livekit_agents.pending_points import (
    PENDING_POINTS_INSTRUMENT,
)

DOC = Path(__file__).resolve().parent.parent / "docs" / "metrics.md"
FULL_NAME = re.compile(r"`((?:lk\.agents|gen_ai\.client)\.[a-z0-9_.]+)`")
TICKED = re.compile(r"`([^`]+)`")
Row = tuple[str, str, tuple[str, ...], tuple[str, ...]]


def glance_table(text: str) -> dict[str, Row]:
    """metric name -> (kind, unit, keys on every point, keys some points add),
    from the table under "Every metric at a glance"."""
    section = text.split("## Every metric at a glance", 1)[1].split("\n## ", 1)[0]
    rows: dict[str, Row] = {}
    for line in section.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) != 4 or not cells[0].startswith("`"):
            continue
        name, kind, unit, attributes = cells
        always, _, sometimes = attributes.partition("(+")
        rows[name.strip("`")] = (
            kind,
            unit.strip("`"),
            tuple(TICKED.findall(always)),
            tuple(TICKED.findall(sometimes)),
        )
    return rows


def test_the_table_lists_exactly_the_catalogue() -> None:
    rows = glance_table(DOC.read_text(encoding="utf-8"))
    expected = {
        spec.name: (spec.kind, spec.unit, spec.attributes, spec.optional_attributes)
        for spec in CATALOGUE
    }
    assert sorted(set(expected) - set(rows)) == [], "in the catalogue, not in the docs"
    assert sorted(set(rows) - set(expected)) == [], "in the docs, not in the catalogue"
    for name, row in expected.items():
        assert rows[name] == row, name


def test_the_page_names_no_metric_the_package_does_not_record() -> None:
    mentioned = set(FULL_NAME.findall(DOC.read_text(encoding="utf-8")))
    known = {spec.name for spec in CATALOGUE} | {PENDING_POINTS_INSTRUMENT}
    assert sorted(mentioned - known) == []
    # and every metric has a section of its own text beyond the table
    body = DOC.read_text(encoding="utf-8").split("## Recorded today", 1)[1]
    assert sorted({spec.name for spec in CATALOGUE} - set(FULL_NAME.findall(body))) == []
