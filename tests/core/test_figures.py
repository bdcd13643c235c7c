"""The figure descriptions are the one definition: the criteria file names them, the docs list them as they are."""

from __future__ import annotations

import re
from pathlib import Path

from thonminh.criteria import load_criteria
from thonminh.figures import FIGURES, Coverage, Kind

ROOT = Path(__file__).parents[2]


def test_every_figure_is_listed_in_the_api_docs_with_its_unit():
    table = (ROOT / "docs" / "api.md").read_text(encoding="utf-8")
    for desc in FIGURES.values():
        row = re.search(rf"^\| `{re.escape(desc.key)}` \|.*$", table, re.MULTILINE)
        assert row, f"{desc.key} is not in docs/api.md's figure table"
        if desc.unit:
            assert f"| {desc.unit} |" in row.group(0), (desc.key, row.group(0))


def test_every_description_is_whole():
    for desc in FIGURES.values():
        assert desc.title.vi and desc.title.en and desc.description
        if desc.kind is Kind.RATIO:
            assert desc.ratio is not None and desc.samples is not None
        else:
            assert desc.value_field in desc.measurement.fields
        for s in desc.sums():
            assert s.field in desc.measurement.fields, (desc.key, s.field)
        if desc.coverage is Coverage.HOURS:
            assert desc.presence_field in desc.measurement.fields
        for p in desc.params:
            assert p.tag is None or p.tag in desc.measurement.all_tags


def test_the_shipped_criteria_name_described_figures_and_default_to_the_same_minimum_coverage():
    criteria = load_criteria()
    assert {c.figure for c in criteria.criteria} <= set(FIGURES)
    assert {c.id: c.min_coverage for c in criteria.criteria}["street_lighting"] == 0.8
