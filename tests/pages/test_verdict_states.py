"""Every verdict the criteria can give has its words and its own colour on the pages and in the dossier."""

from __future__ import annotations

import re
from pathlib import Path

from server.pages.i18n import text
from server.pages.views import VERDICTS_SHOWN
from server.report import vi
from thonminh.criteria import VERDICTS

CSS = (Path(__file__).resolve().parents[2] / "server" / "pages" / "static" / "pages.css").read_text()


def _luminance(colour: str) -> float:
    def channel(c: int) -> float:
        s = c / 255
        return s / 12.92 if s <= 0.03928 else ((s + 0.055) / 1.055) ** 2.4

    r, g, b = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)


def _contrast_on_white_text(colour: str) -> float:
    return 1.05 / (_luminance(colour) + 0.05)


def _page_colours() -> dict[str, str]:
    variables = dict(re.findall(r"--([\w-]+): (#[0-9a-fA-F]{6})", CSS))
    rules = dict(re.findall(r"\.verdict\.(\w+) \{ background: var\(--([\w-]+)\); \}", CSS))
    return {verdict: variables[name] for verdict, name in rules.items()}


def test_every_verdict_has_words_in_both_languages_and_the_dossier() -> None:
    assert "unverified" in VERDICTS and set(VERDICTS_SHOWN) == set(VERDICTS)
    for verdict in VERDICTS:
        vi_words, en_words = text(verdict, "vi"), text(verdict, "en")
        assert vi_words != verdict and en_words != verdict, verdict
        # the dossier and the pages say a verdict in the same Vietnamese words
        assert vi.verdict_style(verdict).label == vi_words
    assert text("unverified", "vi") == "Chưa xác minh" and text("unverified", "en") == "Unverified"


def test_every_verdict_has_its_own_colour() -> None:
    pages = _page_colours()
    assert set(VERDICTS) <= set(pages), sorted(set(VERDICTS) - set(pages))
    assert len({pages[v].lower() for v in VERDICTS}) == len(VERDICTS)
    dossier = {v: vi.verdict_style(v) for v in VERDICTS}
    assert len({s.colour for s in dossier.values()}) == len(VERDICTS)
    assert len({s.colour_name for s in dossier.values()}) == len(VERDICTS)
    # white bold text on the new state's colour reads at WCAG AA (4.5:1) on the page and in the dossier
    assert _contrast_on_white_text(pages["unverified"]) >= 4.5
    assert _contrast_on_white_text(dossier["unverified"].colour) >= 4.5
