"""Retry-After is read by one helper, the same on the v1 path (httpx) and the v2 path (influxdb-client)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from thonminh.errors import InfluxServerError
from thonminh.influx import InfluxV2Writer, parse_retry_after

NOW = 1_800_000_000.0


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("7", 7.0),
        (" 2.5 ", 2.5),
        ("-3", 0.0),  # a negative delay means "now"
        (format_datetime(datetime.fromtimestamp(NOW + 120, UTC), usegmt=True), 120.0),
        (format_datetime(datetime.fromtimestamp(NOW - 60, UTC), usegmt=True), 0.0),  # a date in the past
        ("soon", None),
        ("", None),
        (None, None),
        ("nan", None),
        ("inf", None),
    ],
)
def test_parse_retry_after(header: str | None, expected: float | None):
    assert parse_retry_after(header, now=NOW) == expected


class _Busy(BaseHTTPRequestHandler):
    retry_after = ""

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        body = b'{"code":"unavailable","message":"busy"}'
        self.send_response(503)
        self.send_header("Retry-After", self.retry_after)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def busy_server() -> Iterator[ThreadingHTTPServer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Busy)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_v2_writer_reads_an_http_date_retry_after(busy_server: ThreadingHTTPServer):
    """influxdb-client hands the header over raw: a date must not be lost (it was, as a failed float())."""
    in_a_minute = datetime.now(UTC).timestamp() + 60
    _Busy.retry_after = format_datetime(datetime.fromtimestamp(in_a_minute, UTC), usegmt=True)
    writer = InfluxV2Writer(
        f"http://127.0.0.1:{busy_server.server_port}", org="o", bucket="b", token="t", timeout=5
    )
    try:
        with pytest.raises(InfluxServerError) as info:
            writer.write("m x=1i 1")
    finally:
        writer.close()
    assert info.value.status == 503
    assert info.value.retry_after is not None and 50 < info.value.retry_after <= 61
