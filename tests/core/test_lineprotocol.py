"""The one line-protocol encoder: exact text for good points, a named ``EncodeError`` for every bad one.

More error cases, and round trips through a real InfluxDB, are in ``test_contract.py``.
"""

from __future__ import annotations

import math

import pytest

from thonminh.contract import SITE_TAGS, Point
from thonminh.errors import EncodeError
from thonminh.lineprotocol import encode_line, encode_untimed

SITE = {"village": "kha-ly-thuong", "gateway": "gw1"}


@pytest.mark.parametrize(
    ("field", "bad", "message"),
    [
        ("up_s", 11.0, "outside 0..observed_s"),
        ("observed_s", -1.0, "not a non-negative number"),
        ("rtt_ms", math.nan, "not a finite number"),
        ("rtt_ms", math.inf, "not a finite number"),
        ("targets_ok", 2**63, "out of 64-bit range"),
        ("targets_ok", 1.5, "expected an int"),
        ("up", "yes", "expected int"),
    ],
)
def test_a_bad_value_in_a_known_shape_is_refused_by_name(field: str, bad: object, message: str):
    good = {"up": 1, "up_s": 10.0, "observed_s": 10.0, "rtt_ms": 21.5, "targets_ok": 3}
    tags = {**SITE, "link": "fiber"}
    assert encode_line(Point("uplink", tags, good, 5)) == (
        "uplink,gateway=gw1,link=fiber,village=kha-ly-thuong up=1i,up_s=10.0,observed_s=10.0,rtt_ms=21.5,"
        "targets_ok=3i 5"
    )
    with pytest.raises(EncodeError, match=f"uplink.*{message}"):
        encode_line(Point("uplink", tags, {**good, field: bad}, 5))  # type: ignore[dict-item]


def test_bools_encode_as_ints_and_ints_for_floats_as_floats():
    tags = {**SITE, "ap": "ch"}
    first = encode_line(Point("wifi", tags, {"ap_up": 1, "up_s": 30.0, "observed_s": 30.0}, 1))
    second = encode_line(Point("wifi", tags, {"ap_up": True, "up_s": 30, "observed_s": 30}, 1))
    assert (
        first == second == "wifi,ap=ch,gateway=gw1,village=kha-ly-thuong ap_up=1i,up_s=30.0,observed_s=30.0 1"
    )


def test_untimed_is_the_line_without_its_timestamp_and_still_checks_the_time():
    point = Point("gateway", SITE, {"uptime_s": 1.0, "version": 'v"1'}, 1_700_000_000_000)
    assert encode_untimed(point) + " 1700000000000" == encode_line(point)
    assert encode_untimed(point) == 'gateway,gateway=gw1,village=kha-ly-thuong uptime_s=1.0,version="v\\"1"'
    with pytest.raises(EncodeError, match="time_ms must be an int"):
        encode_untimed(Point("gateway", SITE, {"uptime_s": 1.0}, "now"))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("point", "message"),
    [
        (
            Point("gateway", {**SITE, "x": ["a"]}, {"uptime_s": 1.0}, 1),
            "gateway.x: tag value must be a string, got list",
        ),
        (
            Point("gateway", {**SITE, 5: "a"}, {"uptime_s": 1.0}, 1),
            "gateway: tag key must be a string, got int",
        ),
        (Point("gateway", SITE, {"uptime_s": None}, 1), "gateway.uptime_s: unsupported field type NoneType"),
        (Point("gateway", SITE, {"": 1.0}, 1), "gateway: field key is empty"),
        (Point("gateway", SITE, {"uptime_s": 1.0}, True), "gateway: time_ms must be an int, got True"),
        (Point("custom m", SITE, {"x": 1e400}, 1), r"custom m.x: inf is not a finite number"),
        (
            Point("uplink", {**SITE, "link": "f"}, {"up": 1, "observed_s": "10"}, 1),
            "uplink.observed_s: expected float",
        ),
    ],
)
def test_a_point_that_is_not_what_the_types_say_is_refused_by_name(point: Point, message: str):
    with pytest.raises(EncodeError, match=f"^{message}"):
        encode_line(point)


def test_site_tags_sort_with_the_rest():
    tags = dict(zip(SITE_TAGS, ("v", "g", "c", "d", "p"), strict=True)) | {"link": "4g"}
    assert encode_line(Point("uplink", tags, {"up": 0, "up_s": 0.0, "observed_s": 10.0}, 2)).startswith(
        "uplink,commune=c,district=d,gateway=g,link=4g,province=p,village=v "
    )
