"""The data contract: encoding rules, and round trips of awkward values through a real InfluxDB."""

from __future__ import annotations

import math
import uuid

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from thonminh.contract import MEASUREMENTS, SITE_TAGS, Point, measurement, site_tags
from thonminh.errors import EncodeError, InfluxClientError
from thonminh.influx import InfluxClient, quote_ident
from thonminh.lineprotocol import encode_line, encode_lines

SITE = {"village": "kha-ly-thuong", "gateway": "gw1"}


def test_every_measurement_of_the_contract_is_declared():
    assert set(MEASUREMENTS) == {
        "uplink",
        "uplink_event",
        "modem",
        "wifi",
        "wifi_daily",
        "streetlight",
        "gateway",
        "indicator",
        "indicator_entry",
        "evidence",
    }
    assert measurement("uplink").tags == ("link",)
    assert set(measurement("streetlight").fields) >= {
        "on",
        "online",
        "expected_on",
        "observed_s",
        "expected_on_s",
        "lit_when_expected_s",
        "ok_s",
        "power_w",
        "voltage_v",
        "current_a",
        "energy_kwh",
        "fault",
    }
    assert SITE_TAGS[:2] == ("village", "gateway")


def test_types_follow_the_contract():
    p = Point(
        "uplink",
        {**SITE, "link": "fiber"},
        {"up": True, "up_s": 10, "observed_s": 10.0, "targets_ok": 3, "targets_total": 4, "loss_pct": 25},
        1_700_000_000_123,
    )
    line = encode_line(p)
    assert line == (
        "uplink,gateway=gw1,link=fiber,village=kha-ly-thuong "
        "up=1i,up_s=10.0,observed_s=10.0,targets_ok=3i,targets_total=4i,loss_pct=25.0 1700000000123"
    )


def test_escaping_of_tags_fields_and_strings():
    p = Point("indicator", {**SITE, "indicator": "a b,c=d"}, {"value": 1.5, "source": 'say "hi" \\ o\nk'}, 1)
    assert encode_line(p) == (
        "indicator,gateway=gw1,indicator=a\\ b\\,c\\=d,village=kha-ly-thuong "
        'value=1.5,source="say \\"hi\\" \\\\ o\nk" 1'
    )


@pytest.mark.parametrize(
    ("point", "message"),
    [
        (Point("uplink", {**SITE}, {"up": 1, "observed_s": 1.0}, 1), "required tag 'link' is missing"),
        (Point("uplink", {"village": "v", "link": "x"}, {"up": 1, "observed_s": 1.0}, 1), "'gateway'"),
        (Point("wifi", {**SITE, "ap": "a"}, {"up_s": 5.0}, 1), "without observed_s"),
        (
            Point("wifi", {**SITE, "ap": "a"}, {"up_s": 11.0, "observed_s": 10.0}, 1),
            "wifi.up_s: 11.0 outside",
        ),
        (
            Point("uplink", {**SITE, "link": "f"}, {"up": 0.5, "observed_s": 1.0}, 1),
            "uplink.up: expected an int",
        ),
        (Point("uplink", {**SITE, "link": "f"}, {"up": "yes", "observed_s": 1.0}, 1), "expected int"),
        (Point("uplink", {**SITE, "link": "f"}, {"rtt_ms": math.nan, "observed_s": 1.0}, 1), "not a finite"),
        (Point("modem", {**SITE, "link": "4g", "modem": "m"}, {"operator": 5}, 1), "expected a string"),
        (Point("gateway", {**SITE}, {}, 1), "at least one field"),
        (Point("gateway", {**SITE, "x": ""}, {"uptime_s": 1.0}, 1), "tag value is empty"),
        (Point("gateway", {**SITE, "x": "a\nb"}, {"uptime_s": 1.0}, 1), "line break"),
        (Point("gateway", {**SITE, "x": "a\\"}, {"uptime_s": 1.0}, 1), "backslash"),
        (Point("gateway", {**SITE}, {"big": 2**63}, 1), "64-bit"),
        (Point("gateway", {**SITE}, {"version": "x" * 70_000}, 1), "longer than"),
        (Point("gateway", {**SITE}, {"uptime_s": 1.0}, 1.5), "time_ms must be an int"),  # type: ignore[arg-type]
    ],
)
def test_unencodable_points_are_rejected_with_a_clear_error(point, message):
    with pytest.raises(EncodeError, match=message.replace("(", r"\(")):
        encode_line(point)


def test_site_tags_leave_out_what_is_not_configured():
    assert site_tags("v", "g", province="bac-giang") == {
        "village": "v",
        "gateway": "g",
        "province": "bac-giang",
    }


# -- round trips through the real InfluxDB ---------------------------------------------------------------------

# Everything InfluxDB can store in a tag: no empty value, no line break, no backslash (see contract.py).
tag_text = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\\\n\r\x00"),
    min_size=1,
    max_size=40,
).filter(lambda s: s.strip() == s or s.strip())
string_field = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=80
)
AWKWARD = [
    "Khả Lý Thượng",
    'a "quoted" value',
    "comma, and = sign",
    "back\\slash\\",
    "new\nline",
    " lead",
    "tail ",
]


def _read_back(client: InfluxClient, gateway: str) -> list[dict]:
    result = client.select(
        f'SELECT * FROM {quote_ident("indicator")} WHERE "gateway" = $gw GROUP BY *', params={"gw": gateway}
    )
    return [{"tags": s.tags, **row} for s in result.series for row in s.rows()]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(tag=tag_text, text=string_field | st.sampled_from(AWKWARD))
def test_any_tag_and_string_round_trips_through_influxdb(influx: InfluxClient, tag: str, text: str):
    gateway = uuid.uuid4().hex
    point = Point(
        "indicator",
        {"village": tag, "gateway": gateway, "indicator": tag},
        {"value": 27.5, "unit": "%", "source": text},
        1_700_000_000_000,
    )
    influx.write(encode_line(point))
    rows = _read_back(influx, gateway)
    assert len(rows) == 1
    assert rows[0]["tags"]["village"] == tag
    assert rows[0]["tags"]["indicator"] == tag
    assert rows[0]["source"] == text
    assert rows[0]["value"] == 27.5
    assert rows[0]["time"] == 1_700_000_000_000


def test_vietnamese_and_awkward_values_round_trip_in_one_batch(influx: InfluxClient):
    gateway = uuid.uuid4().hex
    points = [
        Point(
            "indicator",
            {"village": "Khả Lý Thượng", "gateway": gateway, "indicator": f"i{i}"},
            {"value": float(i), "source": text},
            1_700_000_000_000 + i,
        )
        for i, text in enumerate(AWKWARD)
    ]
    influx.write(encode_lines(points))
    rows = sorted(_read_back(influx, gateway), key=lambda r: r["time"])
    assert [r["source"] for r in rows] == AWKWARD
    assert {r["tags"]["village"] for r in rows} == {"Khả Lý Thượng"}


@given(value=st.text(min_size=0, max_size=5, alphabet="\\\n\r ab,="))
def test_tag_values_either_encode_or_are_rejected(value: str):
    point = Point("gateway", {**SITE, "x": value}, {"uptime_s": 1.0}, 1)
    bad = value == "" or any(c in value for c in "\\\n\r")
    if bad:
        with pytest.raises(EncodeError):
            encode_line(point)
    else:
        assert encode_line(point).count("\n") == 0


# InfluxDB 1.x refuses a tag or field named "time" (the column every answer has); 2.x reserves names that begin
# with "_" (its _measurement, _field, _value, ...) and 3.x keeps tags and fields in one table's columns, where
# a tag and a field of one name collide. A point with any of these would be refused (or read back otherwise)
# after it was stored and signed; the encoder refuses it at once, by name.
@pytest.mark.parametrize(
    ("point", "message"),
    [
        (
            Point("gateway", {**SITE, "time": "x"}, {"uptime_s": 1.0}, 1),
            "gateway: tag key 'time' is reserved",
        ),
        (Point("gateway", SITE, {"time": 1.0}, 1), "gateway: field key 'time' is reserved"),
        (Point("gateway", {**SITE, "_field": "x"}, {"uptime_s": 1.0}, 1), "tag key '_field' begins with '_'"),
        (Point("gateway", SITE, {"_value": 1.0}, 1), "field key '_value' begins with '_'"),
        (Point("_gateway", SITE, {"uptime_s": 1.0}, 1), "measurement '_gateway' begins with '_'"),
        (Point("gateway", {**SITE, "x": "a"}, {"x": 1.0}, 1), "gateway.x: a tag and a field of one name"),
    ],
)
def test_names_influxdb_reserves_are_refused_by_name(point: Point, message: str):
    with pytest.raises(EncodeError, match=message):
        encode_line(point)


@pytest.mark.parametrize(
    "line", ["gateway,gateway=g,village=v time=1 1", "gateway,gateway=g,time=x,village=v uptime_s=1 1"]
)
def test_influxdb_itself_refuses_a_key_named_time(influx: InfluxClient, line: str):
    """What the rule above stands on, on the InfluxDB the tests run: the line is refused, not stored."""
    with pytest.raises(InfluxClientError, match="time"):
        influx.write(line)
