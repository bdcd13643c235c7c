"""How an audited roll is cut into parts (``server.rollups``): which series it reads at once, and whether a
part's raw samples are all still kept.

An audited roll's rows pass through the service, and a province's UTC day of street lights is 1.4 million rows:
held at once, gigabytes. So it reads a group of villages at a time (split by hours instead, InfluxDB would read
each series again for every part: bench/rollup_audit.py), and last every series none of them holds: one without
a ``village`` tag, or one forged under a village of its own. Together the groups hold every series once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from thonminh.duration import duration_seconds
from thonminh.errors import InfluxError, InfluxQueryError
from thonminh.influx import InfluxClient, quote_ident
from thonminh.influxql import tag_in, tag_not_in

__all__ = ["Group", "each_part", "samples_kept_since", "village_groups"]


@dataclass(frozen=True, slots=True)
class Group:
    """``villages``, or (``rest``) every series that none of ``villages`` holds."""

    villages: tuple[str, ...]
    rest: bool = False

    def condition(self) -> str:
        return tag_not_in("village", self.villages) if self.rest else tag_in("village", self.villages)

    def describe(self) -> str:
        if self.rest:
            return f"every series but those of {len(self.villages)} villages"
        return ", ".join(self.villages)


def village_groups(client: InfluxClient, database: str, measurement: str, size: int) -> list[Group]:
    """The villages of ``measurement``'s samples, ``size`` a group, then the rest."""
    found = client.select(
        f"SHOW TAG VALUES ON {quote_ident(database)} FROM {quote_ident(measurement)} "
        f"WITH KEY = {quote_ident('village')}"
    )
    names = sorted({str(row["value"]) for row in found.rows()} - {""})
    groups = [Group(tuple(names[i : i + size])) for i in range(0, len(names), size)]
    return [*groups, Group(tuple(names), rest=True)]


def samples_kept_since(client: InfluxClient, database: str, source_rp: str | None, now_ms: int) -> int | None:
    """Since when every raw sample is still kept (0: forever), from the raw retention policy's duration; None
    when the server is no 1.x (3.x answers placeholders): a part without samples is then not audited."""
    try:
        if not client.ping().startswith("1."):
            return None
        policies = client.select(f"SHOW RETENTION POLICIES ON {quote_ident(database)}").rows()
    except InfluxError:
        return None
    named = [p for p in policies if (p.get("name") == source_rp if source_rp else p.get("default"))]
    text = str(named[0].get("duration")) if named else ""
    if text == "0s":  # InfluxDB's infinite
        return 0
    seconds = duration_seconds(text)  # "168h0m0s"
    return None if seconds is None else now_ms - seconds * 1000


def each_part(
    groups: list[Group | None],
    roll: Callable[[Group | None, int, int], int],
    start: int,
    end: int,
    step: int,
    left_out: Callable[[Group, int, InfluxQueryError], None],
) -> int:
    """``roll`` of each group over ``[start, end)``, the statements it ran added up. A part InfluxDB cannot
    answer (a sum of hostile samples reaching +Inf, whose answer is no JSON) is rolled again a village, then a
    ``step``, at a time, and one it still cannot answer is ``left_out``: such samples cost their own village's
    hour, never every village's rollups. ``None``, a roll inside InfluxDB (``INTO``), leaves such rows out by
    itself: its errors are raised."""
    count = 0
    for group in groups:
        try:
            count += roll(group, start, end)
        except InfluxQueryError as err:
            if group is None:
                raise
            if len(group.villages) > 1 and not group.rest:
                count += each_part([Group((v,)) for v in group.villages], roll, start, end, step, left_out)
            elif end - start > step:
                for t in range(start, end, step):
                    count += each_part([group], roll, t, min(t + step, end), step, left_out)
            else:
                left_out(group, start, err)
    return count
