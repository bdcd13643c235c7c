"""Verification of rows anyone who can write to InfluxDB may have changed: any manifest field or point value
replaced by any value an answer can hold, a tag dropped or renamed. Every hour still verifies to faults, never
to an exception (which ended the village's verification, and with it the province's evaluation).

``verify_hour`` and ``combine`` are pure functions over the rows of InfluxDB's answers, so the rows are made
here, from a gateway that signs as the real one does (``signed_kit``), and changed at random: a seeded fuzz
that found a manifest numbered out of range (tests/server/test_evidence_verify.py)."""

from __future__ import annotations

import random
from collections import defaultdict
from pathlib import Path

import pytest
from signed_kit import Gateway, register, uplink_points

from server.evidence.chains import authentic_headers
from server.evidence.combine import combine
from server.evidence.registry import Registry
from server.evidence.source import HOUR_MS
from server.evidence.verify import Digested, verify_hour
from thonminh.evidence import MANIFEST_MEASUREMENT, parse_line, row_digests
from thonminh.influx import Series

T0 = 1_795_000_000_000 - 1_795_000_000_000 % HOUR_MS
HOSTILE = [
    None, "", "x", "!!!", -1, 0, 1, 2**40, 2**63 - 1, -(2**63), 1.5, -0.0, True, False, "A" * 5000,
    "eHh4eHh4eHh4eHh4eA==", "====", "\x00", "ư",
]  # fmt: skip


def _series(lines: list[str]) -> list[Series]:
    """The rows InfluxDB answers for ``lines`` (``GROUP BY *``, epoch=ms): a series per measurement and tags."""
    rows: dict[tuple[str, tuple[tuple[str, str], ...]], list[tuple[int, dict]]] = defaultdict(list)
    for line in lines:
        measurement, tags, fields, time_ms = parse_line(line)
        rows[(measurement, tuple(sorted(tags.items())))].append((time_ms, fields))
    out = []
    for (measurement, tags), found in rows.items():
        columns = ["time", *sorted({k for _, fields in found for k in fields})]
        values = [(t, *(f.get(c) for c in columns[1:])) for t, f in sorted(found, key=lambda r: r[0])]
        out.append(Series(measurement, columns, values, dict(tags)))
    return out


def _in_hour(s: Series, hour: int) -> list[tuple]:
    at = s.columns.index("time")
    return [r for r in s.values if isinstance(r[at], int) and hour <= r[at] < hour + HOUR_MS]


def _changed(series: list[Series], rnd: random.Random) -> list[Series]:
    out = list(series)
    manifests = [i for i, s in enumerate(out) if s.name == MANIFEST_MEASUREMENT]
    for _ in range(rnd.randint(1, 4)):
        i = rnd.choice(manifests) if rnd.random() < 0.6 else rnd.randrange(len(out))
        s = out[i]
        values = list(s.values)
        n, c = rnd.randrange(len(values)), rnd.randrange(len(s.columns))
        row = list(values[n])
        row[c] = rnd.choice([-1, 0, 2**62, row[c] + 1]) if s.columns[c] == "time" else rnd.choice(HOSTILE)
        values[n] = tuple(row)
        tags = dict(s.tags)
        if rnd.random() < 0.1:
            tags[rnd.choice(list(tags))] = rnd.choice([None, "", "other"])
        out[i] = Series(s.name, s.columns, values, tags)
    return out


@pytest.mark.parametrize("seed", range(4))
def test_changed_rows_verify_to_faults_not_exceptions(tmp_path: Path, seed: int) -> None:
    registry = Registry(tmp_path / "keys.sqlite")
    gateway = Gateway()
    register(registry, gateway)
    keys = registry.snapshot()
    signed = _series(gateway.sign(uplink_points(T0, 2)))
    rnd = random.Random(seed)
    for _ in range(100):
        series = _changed(signed, rnd)
        manifests = [s for s in series if s.name == MANIFEST_MEASUREMENT]
        known = authentic_headers(manifests, keys, T0)  # every field read, the headers' among them
        hours = []
        for hour in (T0, T0 + HOUR_MS):
            points = [
                Digested(s.name, s.tags, row_digests(s.name, s.tags, s.columns, rows))
                for s in series
                if s.name != MANIFEST_MEASUREMENT and (rows := _in_hour(s, hour))
            ]
            hour_manifests = [
                Series(s.name, s.columns, rows, s.tags) for s in manifests if (rows := _in_hour(s, hour))
            ]
            hours.append(verify_hour(points, hour_manifests, keys, hour, known))
        found = combine(hours, frozenset)
        assert sum(found.of("uplink")) >= 0  # an answer, whatever it says
