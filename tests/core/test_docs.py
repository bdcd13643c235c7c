"""Generated documentation stays in step with the code."""

from __future__ import annotations

from pathlib import Path

from thonminh.contractdoc import BEGIN, END, contract_markdown

ROOT = Path(__file__).resolve().parents[2]


def test_data_model_doc_matches_the_contract():
    text = (ROOT / "docs" / "data-model.md").read_text(encoding="utf-8")
    generated = text.split(BEGIN, 1)[1].split(END, 1)[0].strip()
    assert generated == contract_markdown(), "run: thonminh contract --write docs/data-model.md"
