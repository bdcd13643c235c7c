"""``tag_in`` and ``tag_not_in`` on a real InfluxDB: together they hold every series exactly once, whatever a
tag value holds (the rollup audit's groups of villages rely on it: a series in neither would go unaudited)."""

from __future__ import annotations

from thonminh.contract import Point
from thonminh.influx import InfluxClient
from thonminh.influxql import tag_in, tag_not_in
from thonminh.lineprotocol import encode_line

NAMES = ["a", "ab", "a.b", "a|b", "x-y", "p(q)", "s/t", "c d", "làng-mới", "quote'q", "star*", "[set]", "^$"]


def _villages(influx: InfluxClient, condition: str) -> list[str]:
    result = influx.select(f'SELECT v FROM "m" WHERE {condition} GROUP BY "village"')
    return sorted(s.tags.get("village", "") for s in result.series)


def test_a_group_and_its_complement_hold_every_series_once(influx: InfluxClient) -> None:
    points = [Point("m", {"village": n}, {"v": i}, 1000) for i, n in enumerate(NAMES)]
    influx.write([encode_line(p) for p in [*points, Point("m", {"g": "x"}, {"v": 99}, 1000)]])
    listed = ["a.b", "s/t", "a|b", "làng-mới", "quote'q", "[set]"]
    inside, rest = (
        _villages(influx, tag_in("village", listed)),
        _villages(influx, tag_not_in("village", listed)),
    )
    assert inside == sorted(listed)
    assert rest == sorted(["", *(n for n in NAMES if n not in listed)])  # '': the series without a village
    assert _villages(influx, tag_not_in("village", [])) == sorted(["", *NAMES])
