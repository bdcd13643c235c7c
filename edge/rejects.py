"""Refused inputs counted by reason: a bounded set of counters, whatever a hostile device sends.

A source refuses an input with ``ctx.reject(reason, sample)``; a reason starts with its code (the lights'
``unknown_device: 'x' is not in the light inventory ...``). Each code the contract's ``gateway`` measurement
names has a counter ``rejected_<code>``; every other reason (a modem's or an AP's unparsable output, whose
reasons name the source instead) falls into ``rejected_other``, which is what remains of ``rejected_total``.
So the counters are as many as the contract's fields, never one per device id or topic.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Final

from thonminh.contract import GATEWAY

__all__ = ["OTHER", "REASON_COUNTERS", "count_reasons", "reason_counter", "reason_fields"]

_PREFIX: Final = "rejected_"
#: The counter of every reason without a code of its own.
OTHER: Final = "rejected_other"
#: The counters kept for the codes the contract names, e.g. ``rejected_unknown_device``.
REASON_COUNTERS: Final = tuple(
    name for name in GATEWAY.fields if name.startswith(_PREFIX) and name not in ("rejected_total", OTHER)
)


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
