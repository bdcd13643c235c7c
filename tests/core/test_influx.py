"""The core InfluxDB client against the real InfluxDB, and its error sorting."""

from __future__ import annotations

import gzip
import pickle

import httpx
import pytest
from influxkit import scratch_database

from lab.localservices import InfluxDBServer, free_port
from thonminh.errors import InfluxClientError, InfluxConnectionError, InfluxQueryError, InfluxServerError
from thonminh.influx import MAX_WRITE_LINES, InfluxClient, quote_literal
from thonminh.influxql import tag_not_in


def test_write_gzip_and_query_with_epoch_ms(influx: InfluxClient):
    influx.write(["m,village=v,gateway=g x=1i 1700000000001", "m,village=v,gateway=g x=2i 1700000000002"])
    result = influx.select("SELECT sum(x) AS s, count(x) AS n FROM m")
    assert result.rows() == [{"time": 0, "s": 3, "n": 2}]
    rows = influx.select("SELECT x FROM m").rows()
    assert [r["time"] for r in rows] == [1700000000001, 1700000000002]


class CountingTransport(httpx.HTTPTransport):
    """The real transport to the real InfluxDB, noting the lines of every ``/write`` request it sends."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[int] = []
        #: the Content-Encoding of each ``/query`` answer, as InfluxDB sent it
        self.answers: list[str | None] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/write":
            self.writes.append(len(gzip.decompress(request.read()).splitlines()))
        response = super().handle_request(request)
        if request.url.path == "/query":
            self.answers.append(response.headers.get("Content-Encoding"))
        return response


def test_many_lines_go_in_requests_of_at_most_max_write_lines_and_all_arrive(influxdb: InfluxDBServer):
    transport = CountingTransport()
    n = 2 * MAX_WRITE_LINES + 1
    with scratch_database(influxdb, "t", transport=transport) as influx:
        influx.write(f"m,g=a x={i}i {1700000000000 + i}" for i in range(n))  # lines one by one, read as sent
        assert transport.writes == [MAX_WRITE_LINES, MAX_WRITE_LINES, 1]
        assert influx.select("SELECT count(x) AS n, sum(x) AS s FROM m").rows() == [
            {"time": 0, "n": n, "s": n * (n - 1) // 2}
        ]
        influx.write([])  # no lines, no request
        assert len(transport.writes) == 3


def test_answers_come_uncompressed_unless_asked_and_read_the_same(influxdb: InfluxDBServer):
    # gzip was a third of InfluxDB's CPU answering a village-month for a service beside it (bench/evidence_verify.py)
    read = []
    for compress in (False, True):
        transport = CountingTransport()
        with scratch_database(influxdb, "t", transport=transport, compress_answers=compress) as influx:
            influx.write(f'm,g=a x={i}i,y="{"v" * (i % 7)}" {1700000000000 + i}' for i in range(5000))
            transport.answers.clear()
            read.append([s.values for r in influx.query("SELECT * FROM m", packed=True) for s in r.series])
            read.append([s.values for s in influx.select("SELECT * FROM m").series])
            assert transport.answers == (["gzip", "gzip"] if compress else [None, None])
    assert read[0] and all(len(r[0]) == 5000 for r in read)
    assert read[0] == read[2] and read[1] == read[3]


def test_errors_inside_a_200_become_exceptions(influx: InfluxClient):
    with pytest.raises(InfluxQueryError, match="not_a_function"):
        influx.query("SELECT not_a_function(x) FROM m")
    with pytest.raises(InfluxQueryError, match="database not found"):
        influx.query("SELECT * FROM m", database="no_such_db")


def test_a_sum_out_of_range_names_influxdbs_own_words(influx: InfluxClient):
    """Two samples of 1e308, which only something other than a gateway writes, sum to +Inf, which InfluxDB's
    JSON cannot hold: it answers 200 with a sentence instead, which the error now quotes (before: only that
    the answer was no JSON)."""
    influx.write(["overflow,village=v x=1e308 1", "overflow,village=v x=1e308 2"])
    with pytest.raises(InfluxQueryError, match=r"unreadable /query answer.*unsupported value: \+Inf"):
        influx.query('SELECT sum("x") FROM "overflow"')


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


def test_a_packed_query_reads_messagepack_with_the_same_values_and_types(influx: InfluxClient):
    influx.write(
        [
            'm,t=a f=1.5,i=3i,b=true,s="x,y" 1000',
            "m,t=a f=2.0,i=-4i,b=false 2000",
            'm,t=b s="ư" 3000',
        ]
    )
    q = "SELECT * FROM m GROUP BY *"
    packed, plain = influx.query(q, packed=True), influx.query(q)
    assert [(s.name, s.tags, s.columns, [list(row) for row in s.values]) for s in packed[0].series] == [
        (s.name, s.tags, s.columns, s.values) for s in plain[0].series
    ]
    assert packed[0].series
    # JSON reads 2.0 as 2; MessagePack keeps the float, which the canonical form formats alike
    assert [type(v) for v in packed[0].series[0].values[1]] == [int, bool, float, int, type(None)]


def test_a_packed_query_error_names_influxdbs_own_message(influx: InfluxClient):
    with pytest.raises(InfluxClientError, match="error parsing query"):
        influx.query("SELECT FROM WHERE", packed=True)
    with pytest.raises(InfluxQueryError, match="database not found"):
        influx.query("SELECT * FROM m", database="nosuch", packed=True)


def test_a_server_refusing_messagepack_is_read_in_json_and_not_asked_again():
    # InfluxDB 3's v1 API answers JSON and CSV only (it cannot run on this machine: a stand-in for its answers)
    asked: list[str | None] = []

    def handler(request: httpx.Request) -> httpx.Response:
        asked.append(request.headers.get("Accept"))
        if request.headers.get("Accept") == "application/x-msgpack":
            return httpx.Response(406, json={"error": "unsupported format"})
        return httpx.Response(200, json={"results": [{"statement_id": 0, "series": []}]})

    client = InfluxClient("http://influx.invalid", database="db", transport=httpx.MockTransport(handler))
    assert client.query("SELECT * FROM m", packed=True)[0].series == []
    assert client.query("SELECT * FROM m", packed=True)[0].series == []
    assert asked == ["application/x-msgpack", "*/*", "*/*"]


def test_a_client_pickles_as_the_way_to_open_another_like_it(influx: InfluxClient):
    # the service's worker processes open their own connections from it (server/evidence/workers.py)
    influx.write(["m,village=v,gateway=g x=1i 1700000000001"])
    copy = pickle.loads(pickle.dumps(influx))
    try:
        assert copy is not influx and (copy.url, copy.database) == (influx.url, influx.database)
        assert copy.select("SELECT x FROM m").rows() == [{"time": 1700000000001, "x": 1}]
    finally:
        copy.close()
    counting = InfluxClient(influx.url, transport=CountingTransport())
    with pytest.raises(TypeError, match="own transport"):
        pickle.dumps(counting)


@pytest.mark.parametrize(
    "error",
    [
        InfluxServerError("HTTP 503: overloaded", status=503, retry_after=30.0),
        InfluxClientError("HTTP 400: bad", status=400),
        InfluxQueryError("statement 0: error parsing query"),
        InfluxConnectionError("connection refused"),
    ],
)
def test_errors_pickle_whole(error: Exception):
    # a verification worker process sends them back to the service (server/evidence/workers.py)
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is type(error) and str(copy) == str(error)
    assert vars(copy) == vars(error)


@pytest.mark.parametrize("packed", [False, True])
def test_a_read_too_long_for_a_url_is_posted_and_answered(influx: InfluxClient, packed: bool) -> None:
    """A province's rollup audit names 2,000 villages in one condition (``tag_not_in``): as a GET, httpx refused
    the URL (over 64 KB) before it was sent, and the rollup pass failed at every try."""
    influx.write(["m,village=a v=1 1000", "m,village=b v=2 1000"], precision="ms")
    names = [f"thon-so-{i:05d}" for i in range(4000)]
    q = f'SELECT v FROM "m" WHERE {tag_not_in("village", names)} GROUP BY "village"'
    assert len(q) > 60_000
    (result,) = influx.query(q, packed=packed)
    assert sorted(s.tags["village"] for s in result.series) == ["a", "b"]
