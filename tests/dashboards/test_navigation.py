"""Getting from board to board in Grafana: each language's boards link to that language's boards, the province
table's villages open the village board on that village, and a panel with nothing to show says why truly.

Read from the committed JSON (what Grafana loads), with Grafana's own rules: a dashboards link lists the boards
that carry every one of its tags (the search API's tag filter is an AND: grafana/grafana#28870)."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models.dashboard import DashboardLink

from dashboards.build import ROOT
from dashboards.criteria import verified_panel
from dashboards.influxql import VILLAGE_SCOPE

BOARDS = {
    lang: {
        b["uid"]: b
        for b in (json.loads(p.read_text(encoding="utf-8")) for p in sorted(folder.glob("*.json")))
    }
    for lang, folder in (("vi", ROOT / "json"), ("en", ROOT / "json" / "en"))
}
ALL_BOARDS = {uid: b for boards in BOARDS.values() for uid, b in boards.items()}


def _listed(link: dict[str, Any]) -> set[str]:
    """The boards a ``dashboards`` link lists: those with all of its tags."""
    return {uid for uid, b in ALL_BOARDS.items() if set(link["tags"]) <= set(b["tags"])}


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_a_boards_dropdown_lists_the_boards_of_its_language_only(lang: str) -> None:
    for uid, board in BOARDS[lang].items():
        (dropdown,) = [link for link in board["links"] if link["type"] == "dashboards"]
        assert _listed(dropdown) == set(BOARDS[lang]), uid


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_the_one_link_across_languages_opens_the_same_board_in_the_other(lang: str) -> None:
    other = {"vi": "en", "en": "vi"}[lang]
    for uid, board in BOARDS[lang].items():
        (link,) = [link for link in board["links"] if link["type"] == "link"]
        target = link["url"].removeprefix("/d/")
        assert target in BOARDS[other], (uid, link["url"])
        assert target.removesuffix("-en") == uid.removesuffix("-en")
        assert link["includeVars"] and link["keepTime"], uid  # the same village, the same range


def _village_links(board: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """Per column of the province table, its data links."""
    (table,) = [p for p in board["panels"] if p["type"] == "table"]
    out: dict[str, list[dict[str, Any]]] = {}
    for o in table["fieldConfig"]["overrides"]:
        for prop in o["properties"]:
            if prop["id"] == "links":
                out.setdefault(o["matcher"]["options"], []).extend(prop["value"])
    return out


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_a_village_in_the_province_table_opens_its_village_board(lang: str) -> None:
    province = next(b for uid, b in BOARDS[lang].items() if uid.startswith("thonminh-province"))
    links = _village_links(province)
    assert set(links) == {"village", "name"}  # the id and the name both open it
    for column, (link,) in links.items():
        # Grafana's schema knows every key (FieldConfig.links are DashboardLinks in grafana-foundation-sdk)
        known = json.loads(json.dumps(DashboardLink.from_json(link), cls=JSONEncoder))
        assert set(link) <= set(known), (column, link)
        path, query = link["url"].split("?")
        target = BOARDS[lang][path.removeprefix("/d/")]
        assert target["uid"].startswith("thonminh-village"), link["url"]
        # the row's village id, as Grafana fills in a data link (``${__data.fields.<name>}``), sets the board's
        # village variable; no time range: the village board reads raw points, a week by default, not 30 days
        assert query == "var-village=${__data.fields.village}", link["url"]
        assert "village" in {v["name"] for v in target["templating"]["list"]}
        assert re.fullmatch(r"\S+", link["title"]) is None  # a sentence a technician reads


def test_the_verified_panels_empty_text_names_both_reasons() -> None:
    """The display copy is written for closed hours only: with verification configured, a fresh service has
    none until its first hour ends, and the panel must not say verification is not configured."""
    text = verified_panel(VILLAGE_SCOPE).no_value
    assert text is not None
    assert "chưa cấu hình xác minh" in text.vi and "giờ đầu tiên chưa kết thúc" in text.vi
    assert "not configured" in text.en and "first hour" in text.en
