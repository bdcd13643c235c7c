"""The encoder's fast path (cached series heads, compiled field shapes) says exactly what the general path says."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from thonminh import lineprotocol
from thonminh.contract import MEASUREMENTS, SITE_TAGS, Point
from thonminh.errors import EncodeError
from thonminh.lineprotocol import encode_line, encode_untimed

SITE = {"village": "kha-ly-thuong", "gateway": "gw1"}


def general(point: Point) -> str:
    """What the checked path alone makes of a point (``EncodeError: ...`` when it refuses it)."""
    try:
        return f"{lineprotocol._encode_checked(point)} {point.time_ms}"
    except EncodeError as err:
        return f"EncodeError: {err}"


def encoded(point: Point) -> str:
    try:
        return encode_line(point)
    except EncodeError as err:
        return f"EncodeError: {err}"


values = st.one_of(
    st.integers(min_value=-(2**64), max_value=2**64),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0.0, 10.0, 60.0, 1e308, -1e308, 60.000001, -0.0]),
    st.booleans(),
    st.text(max_size=12),
    st.sampled_from(['say "hi"', "back\\slash", "%s %r {}", "x" * 70_000, "ế" * 17_000]),
    st.none(),
)


@st.composite
def points(draw: st.DrawFn) -> Point:
    name = draw(st.sampled_from([*MEASUREMENTS, "custom%m", "custom m,x"]))
    spec = MEASUREMENTS.get(name)
    tags = dict(SITE)
    for key in spec.tags if spec else ("x",):
        if draw(st.integers(0, 9)):  # now and then a required tag is missing
            tags[key] = draw(st.sampled_from(["fiber", "4g", "l 1", "a,b=c", "", "x\\y"]))
    if draw(st.booleans()):
        tags["district"] = draw(st.sampled_from(["luc-ngan", None]))
    known = list(spec.fields) if spec else []
    keys = draw(st.lists(st.sampled_from([*known, "observed_s", "extra%", "odd {key}", "a=b"]), max_size=8,
                         unique=True))
    fields = {key: draw(values) for key in keys}
    time_ms = draw(st.one_of(st.integers(0, 2**62), st.sampled_from([1.5, True, "1"])))
    return Point(name, tags, fields, time_ms)  # type: ignore[arg-type]


@settings(max_examples=600, deadline=None)
@given(point=points())
def test_fast_path_encodes_or_refuses_exactly_as_the_general_path(point: Point):
    expected = general(point)
    assert encoded(point) == expected  # first sight: compiles the shape, remembers the head
    assert encoded(point) == expected  # second sight: from the caches


@pytest.mark.parametrize(("field", "bad", "message"), [
    ("up_s", 11.0, "outside 0..observed_s"),
    ("observed_s", -1.0, "not a non-negative number"),
    ("rtt_ms", math.nan, "not a finite number"),
    ("rtt_ms", math.inf, "not a finite number"),
    ("targets_ok", 2**63, "out of 64-bit range"),
    ("targets_ok", 1.5, "expected an int"),
    ("up", "yes", "expected int"),
])
def test_a_bad_value_in_a_known_shape_is_refused_by_name(field: str, bad: object, message: str):
    good = {"up": 1, "up_s": 10.0, "observed_s": 10.0, "rtt_ms": 21.5, "targets_ok": 3}
    tags = {**SITE, "link": "fiber"}
    assert encode_line(Point("uplink", tags, good, 5)) == (
        "uplink,gateway=gw1,link=fiber,village=kha-ly-thuong up=1i,up_s=10.0,observed_s=10.0,rtt_ms=21.5,"
        "targets_ok=3i 5")
    with pytest.raises(EncodeError, match=f"uplink.*{message}"):
        encode_line(Point("uplink", tags, {**good, field: bad}, 5))  # type: ignore[dict-item]


def test_a_changed_type_recompiles_and_ints_for_floats_still_encode_as_floats():
    tags = {**SITE, "ap": "ch"}
    first = encode_line(Point("wifi", tags, {"ap_up": 1, "up_s": 30.0, "observed_s": 30.0}, 1))
    second = encode_line(Point("wifi", tags, {"ap_up": True, "up_s": 30, "observed_s": 30}, 1))
    assert first == second == "wifi,ap=ch,gateway=gw1,village=kha-ly-thuong ap_up=1i,up_s=30.0,observed_s=30.0 1"


def test_untimed_is_the_line_without_its_timestamp_and_still_checks_the_time():
    point = Point("gateway", SITE, {"uptime_s": 1.0, "version": 'v"1'}, 1_700_000_000_000)
    assert encode_untimed(point) + " 1700000000000" == encode_line(point)
    assert encode_untimed(point) == 'gateway,gateway=gw1,village=kha-ly-thuong uptime_s=1.0,version="v\\"1"'
    with pytest.raises(EncodeError, match="time_ms must be an int"):
        encode_untimed(Point("gateway", SITE, {"uptime_s": 1.0}, "now"))  # type: ignore[arg-type]


def test_the_caches_stay_bounded():
    for i in range(lineprotocol._SERIES_MAX + 10):
        encode_line(Point("indicator", {**SITE, "indicator": f"i{i}"}, {f"f{i % 2000}": 1.0}, 1))
    assert len(lineprotocol._series) <= lineprotocol._SERIES_MAX
    assert len(lineprotocol._shapes) <= lineprotocol._SHAPES_MAX


def test_site_tags_sort_with_the_rest():
    tags = dict(zip(SITE_TAGS, ("v", "g", "c", "d", "p"), strict=True)) | {"link": "4g"}
    assert encode_line(Point("uplink", tags, {"up": 0, "up_s": 0.0, "observed_s": 10.0}, 2)).startswith(
        "uplink,commune=c,district=d,gateway=g,link=4g,province=p,village=v ")
