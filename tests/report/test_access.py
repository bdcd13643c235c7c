"""Who may download a dossier, and how a period is asked for: exactly one of ``month`` or ``start``+``end``.

A browser signed in on the pages holds the session cookie, never the key: the village page's dossier link must
download with it, and a cookie that is not the service's own must not.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import rep_scenario as sc
from fastapi.testclient import TestClient
from rep_helpers import iso as _iso
from srv_helpers import READ, READ_KEY

from server.errors import ParameterError
from server.pages.auth import COOKIE
from server.report.period import parse_period

URL = "/api/v1/villages/kha-ly-thuong/report.pdf"


def _cases(month: sc.MonthScenario) -> list[tuple[str, dict[str, str], str, str]]:
    """(path, query, the parameter blamed, words the message must hold)"""
    commune = "/api/v1/communes/an-lac/report.pdf"
    day = {"start": _iso(month.at(5)), "end": _iso(month.at(6))}
    return [
        (URL, {"month": month.text, "start": day["start"]}, "month", "not both"),
        (URL, {"month": month.text, **day}, "month", "not both"),
        (URL, {"start": day["start"]}, "end", "end: missing"),
        (URL, {"end": day["end"]}, "start", "start: missing"),
        (commune, {"start": day["start"]}, "end", "end: missing"),
        (URL, {}, "month", "month: missing"),
        (URL, {"start": day["end"], "end": day["start"]}, "start", "the window is empty"),
        (URL, {"start": "5 tháng 3", "end": day["end"]}, "start", "is not an ISO 8601 time"),
        (URL, {"start": "2025-03-01T00:00:00 07:00", "end": day["end"]}, "start", "%2B"),
        (URL, {"start": "-100d", "end": "now"}, "start", "longer than the maximum 92 days"),
        (
            URL,
            {"start": _iso(month.start_ms - 40 * sc.DAY), "end": _iso(month.start_ms - sc.DAY)},
            "start",
            "is before any data of village 'kha-ly-thuong'",
        ),
        (
            commune,
            {"start": _iso(month.start_ms - 40 * sc.DAY), "end": _iso(month.start_ms - sc.DAY)},
            "start",
            "is before any data of commune 'an-lac'",
        ),
    ]


@pytest.mark.parametrize("case", range(12))
def test_a_bad_period_is_a_422_naming_the_parameter(api: TestClient, month: sc.MonthScenario, case: int):
    path, query, parameter, words = _cases(month)[case]
    response = api.get(path, params=query, headers=READ)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/json")
    assert response.json()["parameter"] == parameter and words in response.json()["detail"], response.json()


def test_the_days_of_a_period_are_local_days_cut_to_it():
    berlin = ZoneInfo("Europe/Berlin")  # summer time starts 2025-03-30: that day has 23 hours
    now = datetime(2025, 6, 1, tzinfo=berlin)
    period = parse_period(
        None, "2025-03-29T12:00:00+01:00", "2025-03-31T06:00:00+02:00", now=now, zone=berlin
    )
    assert period.month is None
    assert [(d.date.day, (d.window.end_ms - d.window.start_ms) / 3_600_000) for d in period.days()] == [
        (29, 12.0),
        (30, 23.0),
        (31, 6.0),
    ]
    assert period.label == "29/03/2025 12:00:00 +01 – 31/03/2025 06:00:00 +02"
    inside = parse_period(
        None, "2025-03-30T01:00:00+01:00", "2025-03-30T05:00:00+02:00", now=now, zone=berlin
    )
    assert len(inside.days()) == 1 and inside.label == "30/03/2025 01:00:00 +01 – 05:00:00 +02"
    whole = parse_period(None, "2025-03-01", "2025-04-01", now=now, zone=berlin)
    assert whole.month is not None and whole.text == "2025-03" and len(whole.days()) == 31
    with pytest.raises(ParameterError, match="has not ended yet"):
        parse_period("2025-06", None, None, now=now, zone=berlin)
    capped = parse_period(None, "2025-05-31", "2025-07-01", now=now, zone=berlin)  # end capped at now
    assert capped.month is None and capped.window.end_ms == int(now.timestamp() * 1000)


def _signed_in(api: TestClient) -> TestClient:
    browser = TestClient(api.app)  # its own cookie jar: the module's client stays without a session
    answer = browser.post("/pages/signin", data={"key": READ_KEY, "next": "/pages/"}, follow_redirects=False)
    assert answer.status_code == 303 and browser.cookies.get(COOKIE), answer.text[:300]
    return browser


def test_a_signed_in_browser_downloads_the_dossier_a_forged_cookie_does_not(
    api: TestClient, month: sc.MonthScenario
):
    query = {"start": _iso(month.at(5, 9)), "end": _iso(month.at(5, 13))}
    browser = _signed_in(api)
    pdf = browser.get(URL, params=query)  # the cookie only: no key in the request, none in the URL
    assert pdf.status_code == 200, pdf.text
    assert pdf.headers["content-type"] == "application/pdf" and pdf.content.startswith(b"%PDF")
    # the village page links that dossier, and the link downloads
    page = browser.get("/pages/villages/kha-ly-thuong", params=query)
    assert page.status_code == 200
    link = page.text.split('class="dossier" href="', 1)[1].split('"', 1)[0].replace("&amp;", "&")
    assert browser.get(link).content.startswith(b"%PDF"), link

    token = browser.cookies[COOKIE]
    forged = TestClient(api.app)
    forged.cookies.set(
        COOKIE, ("e" if token[0] != "e" else "f") + token[1:]
    )  # the payload changed, not re-signed
    refused = forged.get(URL, params=query)
    assert refused.status_code == 401 and refused.json()["parameter"] == "X-API-Key", refused.text
    assert TestClient(api.app).get(URL, params=query).status_code == 401  # no cookie, no key
    # a wrong key is refused even beside a valid session
    assert browser.get(URL, params=query, headers={"X-API-Key": "not-a-key-0123456789"}).status_code == 401
    browser.post("/pages/signout", follow_redirects=False)
    assert browser.get(URL, params=query).status_code == 401
