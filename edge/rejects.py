"""Refused inputs counted by reason: a bounded set of counters, whatever a hostile device sends.

A source refuses an input with ``ctx.reject(reason, sample)``; a reason starts with its code (the lights'
``unknown_device: 'x' is not in the light inventory ...``). Each code the contract's ``gateway`` measurement
names has a counter ``rejected_<code>``; every other reason (a modem's or an AP's unparsable output, whose
reasons name the source instead) falls into ``rejected_other``, which is what remains of ``rejected_total``.
So the counters are as many as the contract's fields, never one per device id or topic.

A reason names what was wrong and shows at most a short cut of the value (``shown``); the input itself is
the sample, kept apart. ``bounded`` cuts any reason to ``MAX_REASON_CHARS`` where it is stored, so a reason
some source builds carelessly cannot fill the buffer's rejects or the log with a device's payload.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any, Final

from thonminh.contract import GATEWAY

__all__ = [
    "MAX_REASON_CHARS",
    "OTHER",
    "REASON_COUNTERS",
    "bounded",
    "count_reasons",
    "reason_counter",
    "reason_fields",
    "shown",
]

_PREFIX: Final = "rejected_"
#: The counter of every reason without a code of its own.
OTHER: Final = "rejected_other"
#: The counters kept for the codes the contract names, e.g. ``rejected_unknown_device``.
REASON_COUNTERS: Final = tuple(
    name for name in GATEWAY.fields if name.startswith(_PREFIX) and name not in ("rejected_total", OTHER)
)


#: The longest reason stored: room for the source, the code, the field and a short value (the sample shows more).
MAX_REASON_CHARS: Final = 500


def shown(value: Any, limit: int = 40) -> str:
    """``value`` as a reason quotes it: its ``repr``, cut to ``limit`` characters."""
    try:
        text = repr(value)
    except ValueError:  # an integer past Python's digit limit for str()
        text = f"<{type(value).__name__} too long to show>"
    return _cut(text, limit)


def bounded(reason: str) -> str:
    """``reason`` cut to ``MAX_REASON_CHARS``: the last guard before it is stored."""
    return _cut(reason, MAX_REASON_CHARS)


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def reason_counter(reason: str) -> str:
    """The counter of one refusal reason: ``rejected_<code>`` when the contract names its code, else OTHER."""
    name = _PREFIX + reason.partition(":")[0].strip()
    return name if name in REASON_COUNTERS else OTHER


def count_reasons(reasons: Iterable[str]) -> dict[str, int]:
    """How many of ``reasons`` fall in each counter with a code (``rejected_other`` is derived, not counted)."""
    counts = Counter(reason_counter(r) for r in reasons)
    counts.pop(OTHER, None)
    return dict(counts)


def reason_fields(counters: Mapping[str, int], rejected_total: int) -> dict[str, int]:
    """Every ``rejected_<code>`` field, and ``rejected_other``: what of ``rejected_total`` none of them counts."""
    fields = {name: counters.get(name, 0) for name in REASON_COUNTERS}
    fields[OTHER] = max(0, rejected_total - sum(fields.values()))
    return fields
