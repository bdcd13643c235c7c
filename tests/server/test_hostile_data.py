"""Points written straight to InfluxDB by anyone who holds its write credential, of every measurement of the
contract with any field values and types a line can carry, never make an answer, a page or a dossier fail.

A seeded random mix beside the scenario's four villages; each seed is one test. What they found, each fixed
with a test of its own: indicator entries with fields missing (tests/server/test_indicators.py), a gateway
version written as a number (tests/report/test_errors.py)."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
import srv_scenario as scenario
from fastapi.testclient import TestClient
from influxkit import scratch_database
from srv_helpers import READ, make_config, write

from lab.localservices import InfluxDBServer
from server.app import create_app
from server.timeparse import iso
from thonminh.contract import MEASUREMENTS
from thonminh.errors import InfluxClientError

H = scenario.H
START, END = scenario.D0, scenario.W_END
VALUES = [
    "0i", "-1i", "1i", "9223372036854775807i", "-9223372036854775808i", "0", "-0.0", "1e300", "-1e300",
    "1e-300", "0.5", "-60", "86400000", "t", "f", '""', '"x"', '"down"', '"lamp_failure"', '"ư"',
    '"' + "a" * 500 + '"',
]  # fmt: skip
TAG_VALUES = ["kha-ly-thuong", "ban-ven", "x", "a b", "ư", "fiber", "4g", "l1", "a,b", "a=b"]


def _escape(text: str) -> str:
    return text.replace(" ", "\\ ").replace(",", "\\,").replace("=", "\\=")


def hostile_lines(rnd: random.Random, count: int) -> list[str]:
    lines = []
    for _ in range(count):
        name = rnd.choice(list(MEASUREMENTS))
        spec = MEASUREMENTS[name]
        tags = {
            "village": rnd.choice(["kha-ly-thuong", "ban-ven", *TAG_VALUES]),
            "gateway": rnd.choice(["gw-kly", "g"]),
        }
        tags |= {t: rnd.choice(TAG_VALUES) for t in spec.tags if rnd.random() < 0.9}
        if rnd.random() < 0.5:
            tags |= {"commune": "an-lac", "district": "son-dong", "province": "bac-giang"}
        names = [*spec.fields, "evidence_seq"]
        fields = {f: rnd.choice(VALUES) for f in rnd.sample(names, rnd.randint(1, len(names)))}
        at = START + rnd.randrange(-2 * H, END - START + 2 * H)
        head = name + "".join(f",{_escape(k)}={_escape(v)}" for k, v in sorted(tags.items()))
        lines.append(f"{head} {','.join(f'{k}={v}' for k, v in fields.items())} {at}")
    return lines


@pytest.mark.parametrize("seed", [1, 2])
def test_hostile_points_make_no_answer_fail(influxdb: InfluxDBServer, tmp_path: Path, seed: int) -> None:
    with scratch_database(influxdb, f"hostile{seed}") as db:
        write(db, scenario.all_points())
        for line in hostile_lines(random.Random(seed), 300):
            try:
                db.write(line)
            except InfluxClientError:  # a type other than the shard's for that field: refused, as anyone's
                pass
        config = make_config(
            db.url,
            db.database or "",
            rollups={"mode": "write"},
            evidence={"registry": str(tmp_path / "k.sqlite")},
        )
        app = create_app(config, clock=lambda: END / 1000 + 300)
        with TestClient(app, raise_server_exceptions=False) as api:
            app.state.rollups.roll(START - 2 * H, END)
            failed = []
            for url in _urls():
                window = (
                    {} if url.endswith("/indicators") else {"start": iso(START), "end": iso(END)}
                )  # a record
                answer = api.get(url, params=window, headers=READ)
                if answer.status_code >= 500 or answer.status_code in (400, 422):
                    failed.append((url, answer.status_code, answer.text[:200]))
    assert failed == []


def _urls() -> list[str]:
    urls = [
        "/api/v1/criteria",
        "/api/v1/villages",
        "/api/v1/communes/an-lac/report.pdf",
        "/pages/provinces/bac-giang",
    ]
    for village in ("kha-ly-thuong", "ban-ven"):
        base = f"/api/v1/villages/{village}"
        urls += [
            f"{base}/{part}"
            for part in ("criteria", "uptime", "outages", "lighting", "wifi", "modem", "indicators")
        ]
        urls += [f"{base}/criteria?format=csv", f"{base}/uptime?format=csv&step=1h", f"{base}/report.pdf"]
        urls += [f"/pages/villages/{village}"]
    return urls
