"""What another site, or a malformed post, can do to the pages: a security review signed a browser in with the
attacker's key by a cross-site form, framed the signed-in pages, and got a 500 from a sign-in with five fields."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from pages_kit import READ_KEY, page_config

from server.app import create_app

FORM = {"Content-Type": "application/x-www-form-urlencoded"}


@pytest.fixture(scope="module")
def client(seeded) -> Iterator[TestClient]:
    with TestClient(create_app(page_config(seeded.url, seeded.database))) as test_client:
        yield test_client


def _sign_in(client: TestClient, **headers: str):
    client.cookies.clear()
    return client.post(
        "/pages/signin",
        content=f"key={READ_KEY}&next=/pages/",
        headers=FORM | headers,
        follow_redirects=False,
    )


@pytest.mark.parametrize(
    "headers",
    [
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site"},
        {"Origin": "https://evil.example"},
        {"Origin": "null"},  # a sandboxed frame, or a form from a data: URL
    ],
)
def test_a_form_posted_from_another_site_signs_nobody_in_or_out(client: TestClient, headers) -> None:
    refused = _sign_in(client, **headers)
    assert refused.status_code == 403 and "thonminh_session" not in refused.headers.get("set-cookie", "")
    assert "gửi từ một trang khác" in refused.text
    assert _sign_in(client).status_code == 303  # signed in on this site
    out = client.post("/pages/signout", headers=headers, follow_redirects=False)
    assert out.status_code == 403 and client.get("/pages/").status_code == 200  # still signed in


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Sec-Fetch-Site": "same-origin"},
        {"Origin": "http://testserver"},
        {"Origin": "https://testserver"},
    ],
)
def test_this_sites_own_form_signs_in(client: TestClient, headers) -> None:
    """Its own page's form, a script, and behind a TLS proxy (the scheme differs, the host does not)."""
    assert _sign_in(client, **headers).status_code == 303


def test_a_sign_in_with_more_fields_than_the_form_is_a_400_not_a_500(client: TestClient) -> None:
    answer = client.post("/pages/signin", content="a=1&b=2&c=3&d=4&e=5", headers=FORM)
    assert answer.status_code == 400 and "Biểu mẫu không hợp lệ." in answer.text


@pytest.mark.parametrize("path", ["/pages/", "/pages/signin", "/pages/status/", "/api/v1/health"])
def test_no_page_can_be_framed_by_another_site(client: TestClient, path: str) -> None:
    headers = client.get(path).headers
    assert headers["x-frame-options"] == "DENY"
    assert headers["content-security-policy"] == "frame-ancestors 'none'"
    assert headers["x-content-type-options"] == "nosniff"


def test_signing_out_ends_every_copy_of_the_session(client: TestClient) -> None:
    """A cookie copied before sign-out (a shared computer at the commune office) kept the session for its whole
    lifetime: sign-out only deleted the cookie in the browser that signed out."""
    assert _sign_in(client).status_code == 303
    copied = client.cookies.get("thonminh_session")
    assert _sign_in(client).status_code == 303  # another browser's session, signed in separately
    other = client.cookies.get("thonminh_session")
    client.cookies.clear()
    client.cookies.set("thonminh_session", copied)
    assert client.post("/pages/signout", follow_redirects=False).status_code == 303
    client.cookies.clear()
    client.cookies.set("thonminh_session", copied)
    assert client.get("/pages/", follow_redirects=False).status_code in (303, 401)
    client.cookies.clear()
    client.cookies.set("thonminh_session", other)
    assert client.get("/pages/").status_code == 200  # only the session that signed out ended
