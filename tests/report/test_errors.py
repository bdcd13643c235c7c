"""Bad requests for a dossier get a clear 4xx naming the parameter, never a 500 and never half a PDF."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import pdftools
import pytest
import rep_scenario as sc
from fastapi.testclient import TestClient
from influxkit import scratch_database
from srv_helpers import READ, make_config, write

from server.app import create_app
from thonminh.errors import InfluxClientError


def _month_after(month: sc.MonthScenario, months: int) -> str:
    year, index = divmod(month.first.year * 12 + month.first.month - 1 + months, 12)
    return f"{year:04d}-{index + 1:02d}"


def _cases(month: sc.MonthScenario) -> list[tuple[str, str, int, str]]:
    """(path, month, status, words the message must hold)"""
    village, commune = "/api/v1/villages/kha-ly-thuong/report.pdf", "/api/v1/communes/an-lac/report.pdf"
    return [
        ("/api/v1/villages/lang-khong-co/report.pdf", month.text, 404, "'lang-khong-co' is not in the data"),
        ("/api/v1/communes/xa-khong-co/report.pdf", month.text, 404, "commune 'xa-khong-co'"),
        (village, "2025-3", 422, "is not a month like 2025-03"),
        (village, "2025-13", 422, "is not a month like 2025-03"),
        (village, "2025-03-01", 422, "is not a month like 2025-03"),
        (village, "tháng-ba", 422, "is not a month like 2025-03"),
        (village, _month_after(month, 1), 422, "has not ended yet"),  # the month running now
        (village, _month_after(month, 2), 422, "is in the future"),
        (village, _month_after(month, -1), 422, "is before any data of village 'kha-ly-thuong'"),
        (commune, _month_after(month, -1), 422, "is before any data of commune 'an-lac'"),
        (commune, "2000-01", 422, "is before any data of commune 'an-lac'"),  # starts 1999-12-31T17:00Z
        (village, "1999-12", 422, "is outside 2000..2200"),
    ]


@pytest.mark.parametrize("case", range(12))
def test_bad_input_is_a_clear_error(api: TestClient, month: sc.MonthScenario, case: int):
    path, asked, status, words = _cases(month)[case]
    response = api.get(path, params={"month": asked}, headers=READ)
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert words in body["detail"]
    assert body.get("parameter") in {"month", "village", "commune"}


def test_missing_month_and_missing_key(api: TestClient):
    missing = api.get("/api/v1/villages/kha-ly-thuong/report.pdf", headers=READ)
    assert missing.status_code == 422 and missing.json()["parameter"] == "month"
    assert api.get("/api/v1/villages/kha-ly-thuong/report.pdf?month=2025-03").status_code == 401


def test_the_month_running_now_is_refused_until_it_ends():
    from server.errors import ParameterError
    from server.report import parse_month

    now = datetime(2025, 3, 31, 23, 59, 59, tzinfo=sc.ZONE)
    with pytest.raises(ParameterError, match="has not ended yet"):
        parse_month("2025-03", now=now, zone=sc.ZONE)
    ended = parse_month("2025-03", now=now + timedelta(seconds=1), zone=sc.ZONE)
    assert (ended.start, ended.end) == ("2025-02-28T17:00:00Z", "2025-03-31T17:00:00Z")
    assert [d.date.day for d in ended.days()] == list(range(1, 32))
    december = parse_month("2024-12", now=now, zone=sc.ZONE)
    assert december.following.isoformat() == "2025-01-01" and len(list(december.days())) == 31
    assert len(list(parse_month("2024-02", now=now, zone=sc.ZONE).days())) == 29


def test_a_version_written_as_a_number_still_prints(influxdb, month: sc.MonthScenario):
    """Anyone who can write to InfluxDB can give a gateway's ``version`` a number, first in a shard, where the
    gateways' own text is then refused: the dossier lists it as text (before: a TypeError, the dossier a 500)."""
    with scratch_database(influxdb, "rep_version") as client:
        client.write(f"gateway,gateway=gw-kly,village=kha-ly-thuong version=3i {month.start_ms + sc.DAY}")
        with pytest.raises(InfluxClientError, match="field type conflict"):  # the gateway's, in that shard
            write(client, month.points())
        with TestClient(create_app(make_config(client.url, client.database))) as api:
            answer = api.get(
                "/api/v1/villages/kha-ly-thuong/report.pdf", params={"month": month.text}, headers=READ
            )
    assert answer.status_code == 200, answer.text
    # InfluxDB answers a field of two types across shards in the higher one: the number alone
    assert re.search(r"gw-kly +3 ", pdftools.text(answer.content))
