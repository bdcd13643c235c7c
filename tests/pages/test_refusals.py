"""A refused page request says in the page's language which field was wrong; the API's English message stays
below it as the technical detail (a reviewer read "start: 'foo' is not an ISO 8601 time…" under "Lỗi")."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from pages_kit import READ_KEY, page_config

from server.app import create_app

READ = {"X-API-Key": READ_KEY}


@pytest.fixture(scope="module")
def client(seeded) -> Iterator[TestClient]:
    with TestClient(create_app(page_config(seeded.url, seeded.database))) as test_client:
        yield test_client


def _said(client: TestClient, path: str, **params: str) -> tuple[int, str, str]:
    """The status, the page's message and its technical detail."""
    page = client.get(path, headers=READ, params=params)
    message = re.search(r'<p class="message">(.*?)</p>', page.text, re.S)
    detail = re.search(r'<p class="detail">.*?<code>(.*?)</code>', page.text, re.S)
    assert message, page.text
    return page.status_code, html.unescape(message.group(1)), html.unescape(detail.group(1)) if detail else ""


@pytest.mark.parametrize(
    ("path", "params", "status", "vi", "en", "detail"),
    [
        (
            "/pages/villages/kha-ly-thuong",
            {"start": "foo", "end": "now"},
            422,
            "Giá trị của thời điểm bắt đầu không hợp lệ.",
            "The start given is not valid.",
            "start: 'foo' is not",
        ),
        (
            "/pages/",
            {"province": "khong-co"},
            404,
            "Không tìm thấy tỉnh này trong dữ liệu.",
            "No such province in the data.",
            "no village matches province 'khong-co'",
        ),
        (
            "/pages/villages/kha-ly-thuong",
            {"start": "-500d", "end": "now"},
            422,
            "Khoảng thời gian dài hơn mức tối đa 400 ngày.",
            "The window is longer than the maximum of 400 days.",
            "start: the window is 500 days, longer than the maximum 400 days",
        ),
    ],
)
def test_a_refusal_in_the_pages_language_with_the_apis_message_below(
    client: TestClient, path: str, params: dict[str, str], status: int, vi: str, en: str, detail: str
) -> None:
    for lang, sentence in (("vi", vi), ("en", en)):
        got_status, message, got_detail = _said(client, path, **params, lang=lang)
        assert (got_status, message) == (status, sentence), lang
        assert got_detail.startswith(detail), got_detail
