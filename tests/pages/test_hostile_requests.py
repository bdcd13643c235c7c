"""What a hostile request did to the pages (a review threw odd input at every route): a malformed ``Origin`` on
a form was a 500 for anyone, a control character in a page's village or commune reached InfluxDB and was
answered as its outage (502, and a warning for the operators), and a signed session cookie holding something
other than what sign-in signs was a 500."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from pages_kit import ADMIN_KEY, page_config

from server.app import create_app
from server.pages.auth import COOKIE, Sessions

FORM = {"Content-Type": "application/x-www-form-urlencoded"}
ADMIN = {"X-API-Key": ADMIN_KEY}


@pytest.fixture(scope="module")
def client(seeded) -> Iterator[TestClient]:
    with TestClient(create_app(page_config(seeded.url, seeded.database))) as test_client:
        yield test_client


@pytest.mark.parametrize("origin", ["http://[::1", "http://a]", "http://[x]:80"])
@pytest.mark.parametrize(
    ("path", "body", "headers"),
    [
        ("/pages/signin", "key=x", {}),
        ("/pages/signout", "", {}),
        ("/pages/villages/ban-ven/indicators", "indicator=eid_adoption_pct&value=5", ADMIN),
        ("/pages/communes/an-lac/indicators", "indicator=eid_adoption_pct&v.ban-ven=5", ADMIN),
    ],
)
def test_a_malformed_origin_is_another_site_not_a_500(
    client: TestClient, origin, path, body, headers
) -> None:
    answer = client.post(
        path, content=body, headers=FORM | headers | {"Origin": origin}, follow_redirects=False
    )
    assert answer.status_code == 403, answer.text[:300]
    assert "text/html" in answer.headers["content-type"]


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/pages/villages/%00", ""),
        ("GET", "/pages/villages/a%0Ab", ""),
        ("GET", "/pages/villages/a%5Cb", ""),
        ("GET", "/pages/communes/%00/indicators", ""),
        ("POST", "/pages/villages/%0A/indicators", "indicator=eid_adoption_pct&value=5"),
        ("POST", "/pages/communes/a%7Fb/indicators", "indicator=eid_adoption_pct&v.ban-ven=5"),
    ],
)
def test_a_control_character_in_a_place_is_a_404_never_a_query(
    client: TestClient, caplog: pytest.LogCaptureFixture, method, path, body
) -> None:
    with caplog.at_level(logging.WARNING):
        answer = client.request(method, path, content=body, headers=FORM | ADMIN, follow_redirects=False)
    assert answer.status_code == 404, answer.text[:300]
    assert "không có trong dữ liệu" in answer.text
    assert not [r for r in caplog.records if "InfluxDB" in r.getMessage()]


@pytest.mark.parametrize("payload", [[1, 2], "str", None, 5, {"name": "officials", "admin": False}])
def test_a_signed_cookie_that_sign_in_did_not_make_is_no_session(client: TestClient, payload) -> None:
    """Forging one needs the cookies' secret (by default derived from the keys): still, no 500."""
    cookie = Sessions(client.app.state.config)._signer.dumps(payload)
    client.cookies.clear()
    client.cookies.set(COOKIE, cookie)
    assert client.get("/pages/", follow_redirects=False).status_code == 401
    client.cookies.clear()


@pytest.mark.parametrize(
    ("method", "path", "params"),
    [
        ("GET", "/pages/", {"tz": "Nope/Zone"}),
        ("GET", "/pages/status/kha-ly-thuong", {"tz": "x"}),  # public: no key
        ("GET", "/pages/", {"lang": "123456789"}),
        ("GET", "/pages/", {"q": "x" * 201}),
        ("GET", "/pages/villages/kha-ly-thuong", {"month": "m" * 201}),
        ("POST", "/pages/signin", {"lang": "123456789"}),
    ],
)
def test_a_query_value_refused_before_the_page_is_a_page_in_words(
    client: TestClient, method, path, params
) -> None:
    """The API's checks of a query value ran before the page's route, and answered the API's JSON."""
    answer = client.request(method, path, params=params, headers=ADMIN | FORM, content="key=x")
    assert answer.status_code == 422, answer.text[:300]
    assert answer.headers["content-type"].startswith("text/html")
    assert "Chi tiết kỹ thuật (tiếng Anh)" in answer.text and "<!doctype html>" in answer.text


def test_the_api_still_answers_its_refusals_in_json(client: TestClient) -> None:
    answer = client.get("/api/v1/criteria", params={"tz": "Nope/Zone"}, headers=ADMIN)
    assert answer.status_code == 422 and answer.json()["parameter"] == "tz"
