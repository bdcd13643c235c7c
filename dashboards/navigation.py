"""Getting from board to board: each board's links, and the uid of a board in a language.

Every board exists twice, Vietnamese and English (``dashboards.model.Text``). Grafana lists in a dashboards
link the boards that carry every one of its tags, so each board is tagged with its language as well and links
to its language's boards only; the one link across languages is deliberate: the same board in the other.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

__all__ = ["Lang", "board_links", "board_uid"]

#: the languages every board is made in
Lang = Literal["vi", "en"]

#: the other language, named in its own language
_OTHER: Mapping[str, tuple[Lang, str]] = {"vi": ("en", "English"), "en": ("vi", "Tiếng Việt")}


def board_uid(uid: str, lang: Lang) -> str:
    """A board's uid in a language: the Vietnamese board's own, the English copy's with ``-en``."""
    return uid if lang == "vi" else f"{uid}-en"


def board_links(uid: str, tags: tuple[str, ...], lang: Lang) -> list[dict[str, Any]]:
    """The boards of ``lang`` (a dropdown), and board ``uid`` in the other language, both keeping the
    variables and the time range."""
    other, name = _OTHER[lang]
    common = {"includeVars": True, "keepTime": True, "targetBlank": False, "tooltip": ""}
    return [
        {
            "type": "dashboards",
            "title": "thonminh",
            "tags": [*tags, lang],
            "asDropdown": True,
            "icon": "external link",
            "url": "",
            **common,
        },
        {
            "type": "link",
            "title": name,
            "tags": [],
            "asDropdown": False,
            "icon": "doc",
            "url": f"/d/{board_uid(uid, other)}",
            **common,
        },
    ]
