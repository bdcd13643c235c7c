"""Slugs: the values of the site tags and of the ids a config gives (link, ap, modem), and how a place's name
becomes one. ``thonminh.contract`` exports them with the names they are the values of; import them from there.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Final

__all__ = ["SLUG_MAX", "SLUG_PATTERN", "check_slug", "slugify"]

#: 1 to 64 lower-case ASCII letters, digits and '-', not starting or ending with '-'. Safe in a tag, a URL path
#: and a file name alike.
SLUG_PATTERN: Final = r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$"
#: The longest slug ``SLUG_PATTERN`` accepts.
SLUG_MAX: Final = 64
_SLUG = re.compile(SLUG_PATTERN)


def check_slug(value: str) -> str:
    """``value`` if it is a slug; ``ValueError`` saying what a slug is otherwise, and naming the length where
    that is what is wrong (a long but well-formed id is otherwise left unexplained)."""
    if not _SLUG.fullmatch(value):
        length = (
            f": at most {SLUG_MAX} characters, this one has {len(value)}" if len(value) > SLUG_MAX else ""
        )
        raise ValueError(
            f"{value!r} is not a slug (lower-case ASCII letters, digits and '-', e.g. 'kha-ly-thuong'){length}"
        )
    return value


def slugify(name: str, limit: int = SLUG_MAX) -> str:
    """The slug of a place's name as people write it: ``Khả Lý Thượng`` -> ``kha-ly-thuong``, ``Bắc Giang`` ->
    ``bac-giang`` (Vietnamese diacritics dropped, ``đ`` read as ``d``); ``''`` when nothing is left. A longer
    one is cut after its last whole word within ``limit`` (mid-word only when its first word is longer):
    ``...-thon-kh`` named no word of the place."""
    plain = unicodedata.normalize("NFKD", name.replace("đ", "d").replace("Đ", "D"))
    ascii_only = "".join(c for c in plain if not unicodedata.combining(c)).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_only.lower()).strip("-")
    if len(slug) <= limit:
        return slug
    head = slug[: limit + 1]  # a '-' right after the limit still ends a whole word
    return head.rsplit("-", 1)[0] if "-" in head else slug[:limit]
