"""Which manifests are authentic, with one signature check per run of chained manifests.

A manifest's ``id`` is the SHA-256 of everything its key signed (``thonminh.evidence.manifest_message``), and
each manifest names its predecessor's ``id`` in ``prev``. So a manifest whose signature verifies vouches for
its predecessor, which vouches for the one before, down the run (as a signed Git commit does for its
history); a run broken by an altered, missing or foreign manifest starts again below the break, with that
manifest's own signature. A village-month is about 85,000 manifests: checked one by one, their signatures
cost more than reading the month's points.

The walk runs twice: over the manifests' headers of the whole window before any hour is verified
(``authentic_headers``: a gateway's chain interleaves hours, since its ``wifi_daily`` rewrites are stamped
at local midnight), and within each hour for what that pass did not cover (``server.evidence.verify``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from functools import partial

from server.evidence.registry import KeySnapshot
from thonminh.evidence import header_message, message_id
from thonminh.evidencekeys import PublicKey, from_b64, signature_ok
from thonminh.influx import Series

__all__ = ["HEADER_FIELDS", "Authentic", "authentic_headers", "vouch"]

#: what a manifest's id and signature are computed from: every field but its digests
HEADER_FIELDS = (
    "epoch",
    "seq",
    "prev",
    "count",
    "first_ms",
    "last_ms",
    "signed_ms",
    "points_sha256",
    "key",
    "sig",
)
#: (gateway, epoch, n) -> the id of the manifest found authentic with that number
Authentic = dict[tuple[str, int, int], str]


def vouch(links: Sequence[tuple[int, str, str]], signature_ok: Callable[[int], bool]) -> list[bool]:
    """Whether each link ``(n, id, prev)`` of one gateway, epoch and key is authentic: newest first, a link
    whose authentic successor names it is, and any other is checked by ``signature_ok(its index)``."""
    out = [False] * len(links)
    vouched: str | None = None
    for i in sorted(range(len(links)), key=lambda i: links[i][0], reverse=True):
        _, ident, prev = links[i]
        out[i] = ident == vouched or signature_ok(i)
        vouched = prev if out[i] else None
    return out


def authentic_headers(series: Iterable[Series], keys: KeySnapshot, start_ms: int) -> Authentic:
    """The authentic manifests among ``evidence`` series read with ``HEADER_FIELDS`` (``GROUP BY *``,
    epoch=ms), read from beyond the window that starts at ``start`` so that its chains can be walked through: the
    newest manifest after the window vouches for the window's last ones, and a manifest stamped before the
    window (a ``wifi_daily`` rewrite at local midnight) links two of the window's. One stamped before the
    window is authentic only when vouched for: the window needs no answer about it, so its own signature is
    not checked. A header that cannot be read, or whose key is not registered, is left out: the hour's own
    check reports it."""
    chains: dict[tuple[str, int, str], list[tuple[int, str, str]]] = defaultdict(list)
    messages: dict[tuple[str, int, str], list[tuple[bytes, bytes] | None]] = defaultdict(list)
    for s in series:
        gateway = s.tags.get("gateway") or ""
        for row in s.rows():
            try:
                message = header_message(s.tags, row, row["time"])
                sig = from_b64(str(row["sig"]), "sig")
                epoch, n, key, prev = (
                    int(row["epoch"]),
                    int(row["seq"]),
                    str(row["key"]),
                    str(row["prev"] or ""),
                )
            except (KeyError, TypeError, ValueError):
                continue
            if (gateway, key) not in keys.public:
                continue
            chain = (gateway, epoch, key)
            chains[chain].append((n, message_id(message), prev))
            messages[chain].append((message, sig) if row["time"] >= start_ms else None)
    found: Authentic = {}
    for (gateway, epoch, key), links in chains.items():
        ok = vouch(
            links, partial(_signature_ok, keys.public[(gateway, key)], messages[(gateway, epoch, key)])
        )
        for (n, ident, _), authentic in zip(links, ok, strict=True):
            if authentic:
                found[(gateway, epoch, n)] = ident
    return found


def _signature_ok(public: PublicKey, signed: list[tuple[bytes, bytes] | None], i: int) -> bool:
    found = signed[i]
    return found is not None and signature_ok(public, *found)
