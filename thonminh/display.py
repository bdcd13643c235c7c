"""How every surface shows a verdict and a light's fault: the colours and the words, defined once.

"One figure, everywhere": the pages (``server/pages/static/pages.css``, whose custom properties a test holds to
``VERDICT_COLOURS``), the dossier (``server/report/vi.py``) and Grafana (``dashboards/``) read these, so a state
looks and is named the same wherever it is shown.

A verdict's colour is written on white (the overview's cells) and behind white text (the badges, the dossier's
cells): each is at least 4.5:1 against white (WCAG AA for text). A fault's colour is none of the verdicts'
colours, so an offline light never reads as an unverified verdict.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from thonminh.figures import Title

__all__ = [
    "LIGHT_FAULTS",
    "VERDICT_COLOURS",
    "VERDICT_WORDS",
    "LightFault",
    "VerdictColour",
]


@dataclass(frozen=True, slots=True)
class VerdictColour:
    #: RGB hex: the verdict's text on white, its badge or cell behind white text, its chart bar
    colour: str
    #: a light tint of it, behind black text (the dossier's commune summary)
    tint: str
    #: the colour's name, for the legends and descriptions that say which colour means what
    name: Title


#: by verdict id (``thonminh.criteria.VERDICTS``). Insufficient data is grey, neither pass nor fail: darker than
#: the #9e9e9e the dossier had (2.7:1 under its white label) so its words stay readable.
VERDICT_COLOURS: Final[Mapping[str, VerdictColour]] = {
    "pass": VerdictColour("#2e7d32", "#c8e6c9", Title("xanh", "green")),
    "fail": VerdictColour("#c62828", "#ffcdd2", Title("đỏ", "red")),
    "insufficient_data": VerdictColour("#707070", "#eeeeee", Title("xám", "grey")),
    "unverified": VerdictColour("#6a1b9a", "#e1bee7", Title("tím", "purple")),
}


#: each verdict's words, by verdict id: its badge on the pages, its cell in the dossier, its value in Grafana
VERDICT_WORDS: Final[Mapping[str, Title]] = {
    "pass": Title("Đạt", "Pass"),
    "fail": Title("Không đạt", "Fail"),
    "insufficient_data": Title("Chưa đủ dữ liệu", "Insufficient data"),
    "unverified": Title("Chưa xác minh", "Unverified"),
}


@dataclass(frozen=True, slots=True)
class LightFault:
    #: a label, so capitalised
    title: Title
    #: RGB hex, apart from every verdict's colour (and from each other fault's)
    colour: str


#: each fault a light reports (the contract's ``streetlight.fault``, edge/sources/lights/tracker.py)
LIGHT_FAULTS: Final[Mapping[str, LightFault]] = {
    "lamp_failure": LightFault(Title("Hỏng bóng", "Lamp failure"), "#ef6c00"),
    "day_burning": LightFault(Title("Sáng ban ngày", "Burning by day"), "#9e7700"),
    "dark": LightFault(Title("Không sáng theo lịch", "Dark when scheduled"), "#0d47a1"),
    "offline": LightFault(Title("Mất kết nối", "Offline"), "#00838f"),
    "stale": LightFault(Title("Không báo cáo", "Not reporting"), "#ad1457"),
}
