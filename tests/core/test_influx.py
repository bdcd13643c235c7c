"""The core InfluxDB client against the real InfluxDB, and its error sorting."""

from __future__ import annotations

import gzip

import httpx
import pytest

from lab.localservices import free_port
from thonminh.errors import InfluxClientError, InfluxConnectionError, InfluxQueryError, InfluxServerError
from thonminh.influx import InfluxClient, quote_literal


def test_write_gzip_and_query_with_epoch_ms(influx: InfluxClient):
    influx.write(["m,village=v,gateway=g x=1i 1700000000001", "m,village=v,gateway=g x=2i 1700000000002"])
    result = influx.select("SELECT sum(x) AS s, count(x) AS n FROM m")
    assert result.rows() == [{"time": 0, "s": 3, "n": 2}]
    rows = influx.select("SELECT x FROM m").rows()
    assert [r["time"] for r in rows] == [1700000000001, 1700000000002]


def test_errors_inside_a_200_become_exceptions(influx: InfluxClient):
    with pytest.raises(InfluxQueryError, match="not_a_function"):
        influx.query("SELECT not_a_function(x) FROM m")
    with pytest.raises(InfluxQueryError, match="database not found"):
        influx.query("SELECT * FROM m", database="no_such_db")


def test_malformed_line_is_a_client_error_with_influx_message(influx: InfluxClient):
    with pytest.raises(InfluxClientError, match="unable to parse") as info:
        influx.write("m,village=v x= 1")
    assert info.value.status == 400


def test_unreachable_is_a_connection_error():
    client = InfluxClient(f"http://127.0.0.1:{free_port()}", database="x", timeout=1)
    with pytest.raises(InfluxConnectionError, match="cannot reach"):
        client.write("m x=1i 1")


@pytest.mark.parametrize(
    ("status", "retry_after", "expected"), [(503, "7", 7.0), (429, None, None), (500, "x", None)]
)
def test_overload_and_server_errors_are_retryable_with_retry_after(status, retry_after, expected):
    seen = {}

    def handler(request: httpx.Request) -> httpx.Response:
        seen["encoding"] = request.headers.get("Content-Encoding")
        seen["body"] = gzip.decompress(request.content)
        headers = {"Retry-After": retry_after} if retry_after else {}
        return httpx.Response(status, headers=headers, json={"error": "busy"})

    client = InfluxClient("http://influx.invalid", database="db", transport=httpx.MockTransport(handler))
    with pytest.raises(InfluxServerError) as info:
        client.write("m x=1i 1")
    assert info.value.status == status
    assert info.value.retry_after == expected
    assert seen == {"encoding": "gzip", "body": b"m x=1i 1"}


def test_bound_parameters_and_literal_quoting(influx: InfluxClient):
    influx.write("m,village=o'brien\\ x,gateway=g x=1i 1")
    assert influx.select("SELECT x FROM m WHERE village = $v", params={"v": "o'brien x"}).rows()[0]["x"] == 1
    assert influx.select(
        f"SELECT x FROM m WHERE village = {quote_literal(chr(111) + chr(39) + 'brien x')}"
    ).rows()
