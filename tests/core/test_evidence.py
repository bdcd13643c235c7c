"""The canonical form of signed evidence, held against what a real InfluxDB returns."""

from __future__ import annotations

import os
import random
import stat
import subprocess

import pytest

from thonminh.contract import FieldValue, Point, site_tags
from thonminh.evidence import (
    EVIDENCE_FIELD,
    MANIFEST_MEASUREMENT,
    GatewayKey,
    Manifest,
    SeriesHeads,
    digest_line,
    fingerprint,
    load_or_create_key,
    pack_seq,
    parse_line,
    parse_public_key,
    point_digest,
    row_digests,
    series_key,
    unpack_seq,
    where_of,
)
from thonminh.influx import InfluxClient
from thonminh.lineprotocol import encode_line

SITE = site_tags("kha-ly-thuong", "gw-kly", province="bac-giang")
T0 = 1_764_000_000_000

POINTS = [
    Point(
        "uplink",
        {**SITE, "link": "fiber"},
        {
            "up": 1,
            "up_s": 60.0,
            "observed_s": 60.0,
            "rtt_ms": 0.1,
            "loss_pct": 0.0,
            "targets_ok": 3,
            "targets_total": 3,
        },
        T0,
    ),
    Point(
        "streetlight",
        {**SITE, "light": "L 1,=x", "zone": "thôn"},
        {
            "on": 1,
            "online": 1,
            "observed_s": 10.0,
            "power_w": 12.0,
            "voltage_v": 229.123456789012,
            "fault": 'say "hi", a\\b c=d',
            "energy_kwh": 1e-7,
        },
        T0 + 1,
    ),
    Point(
        "modem",
        {**SITE, "link": "lte", "modem": "m1"},
        # a weak signal's SINR rounds to -0.0: InfluxDB's JSON writes it "-0", which must not read as 0
        {"operator": "Viettel Telecom", "rsrp_dbm": -100.5, "registered": 1, "sinr_db": round(-0.04, 1)},
        T0 + 2,
    ),
    Point("wifi_daily", {**SITE, "ap": "nha-van-hoa"}, {"unique_users": 2**40, "sessions": 0}, T0 + 3),
    Point("gateway", SITE, {"version": "0.1.0 (Khả Lý)", "lag_s": 12345678.25}, T0 + 4),
    # no backslash: the field set is split at its commas, so strings with commas and names sorted apart from
    # their "=" ("rx1" before "rx" as text, after it as a name)
    Point(
        "probe",
        {**SITE, "ap": "ap1"},
        {"ssid": "Thôn Minh, free=1", "rx1": 2.5, "rx": 1, "rx_2": 3, "note": ",", "empty": ""},
        T0 + 5,
    ),
    Point("probe", {**SITE, "ap": "ap2"}, {"rx1": 2.5, "rx": 1, "rx_2": 3, "tx": "a b=c"}, T0 + 6),
]


def _read_back(influx: InfluxClient) -> dict[bytes, bytes]:
    """Every point in the database: digest -> where, recomputed from the query answer alone."""
    out = {}
    for series in influx.select("SELECT * FROM /.*/ GROUP BY *").series:
        key = series_key(series.name, series.tags)
        for row in series.rows():
            time_ms = row.pop("time")
            digest = point_digest(key, time_ms, row)
            out[digest] = where_of(digest)
    return out


def test_a_point_digested_from_its_line_is_the_point_digested_from_influxdb(influx: InfluxClient) -> None:
    lines = [encode_line(p) for p in POINTS]
    heads: SeriesHeads = {}
    from_lines = {digest_line(line, heads)[1] for line in lines}
    signed = [f"{line.rpartition(' ')[0]},{EVIDENCE_FIELD}=7i {line.rpartition(' ')[2]}" for line in lines]
    influx.write("\n".join(signed))
    assert set(_read_back(influx)) == from_lines
    assert {digest_line(line)[1] for line in signed} == from_lines
    assert len(from_lines) == len(POINTS)


def _digests_read_back(influx: InfluxClient, *, packed: bool) -> set[bytes]:
    """The digests the service's verifier computes (``row_digests``, a series at a time) from an answer."""
    found = set()
    for result in influx.query("SELECT * FROM /.*/ GROUP BY *", epoch="ms", packed=packed):
        for s in result.series:
            found |= set(row_digests(s.name, s.tags, s.columns, s.values).digests)
    return found


def test_a_column_holding_both_zeros_verifies(influx: InfluxClient) -> None:
    # -0.0 == 0.0: formatting each distinct value of a column once had given both the text of whichever came
    # first, so a modem whose SINR rounded to 0.0 and -0.0 in one day verified as altered
    lines = [
        encode_line(
            Point("modem", {**SITE, "link": "4g", "modem": "m1"}, {"sinr_db": value, "registered": 1}, T0 + i)
        )
        for i, value in enumerate([0.0, -0.0, 0.0, 1.5, -0.0])
    ]
    influx.write(lines)
    signed = {digest_line(line)[1] for line in lines}
    assert _digests_read_back(influx, packed=True) == _digests_read_back(influx, packed=False) == signed


def _random_points(seed: int, n: int) -> list[Point]:
    """Points with fields of every kind and awkward values, names and tags, as the encoder accepts them."""
    rnd = random.Random(seed)
    floats = [
        0.0,
        -0.0,
        0.1,
        1 / 3,
        2.5,
        100.0,
        1e-5,
        1e-7,
        1e15,
        1e16,
        1e21,
        1e22,
        2.0**53 + 2,
        5e-324,
        1.7976931348623157e308,
    ]
    ints = [0, 1, -1, 2**53 + 1, 2**63 - 1, -(2**63), -(10**15)]
    texts = [
        "",
        " ",
        "a b",
        "a,b",
        "a=b",
        'say "hi"',
        "back\\slash",
        "\\",
        "thôn ư",
        "😀",
        "tab\there",
        ",",
        "-0",
    ]
    kinds = {
        "": lambda: rnd.choice(floats) * rnd.choice([1, -1]),
        "_i": lambda: rnd.choice(ints),
        "_s": lambda: rnd.choice(texts) + rnd.choice(texts),
        "_b": lambda: rnd.choice([True, False]),
    }
    points = []
    for i in range(n):
        fields: dict[str, FieldValue] = {}
        for _ in range(rnd.randint(1, 5)):
            kind = rnd.choice(list(kinds))  # one type per field name, as InfluxDB requires within a shard
            fields[rnd.choice(["a", "c d", "e,f", "g=h", "ư", "x1", "x", "x_2"]) + kind] = kinds[kind]()
        tags = {**SITE, "t": rnd.choice(["a", "b c", "d,e", "f=g", "ư"])}
        points.append(Point("probe", tags, fields, T0 + i))
    return points


def test_random_points_verify_through_influxdb(influx: InfluxClient) -> None:
    # what the gateway signs is what the service recomputes from either answer, for values a village rarely
    # sends (a negative zero, the extremes of both number types, strings with the encoder's escapes)
    lines = [encode_line(p) for p in _random_points(seed=21, n=400)]
    influx.write(lines)
    signed = {digest_line(line)[1] for line in lines}
    assert len(signed) == len(lines)
    assert _digests_read_back(influx, packed=True) == signed
    assert _digests_read_back(influx, packed=False) == signed


def test_the_lines_parse_back_to_the_points() -> None:
    for point in POINTS:
        measurement, tags, fields, time_ms = parse_line(encode_line(point))
        assert (measurement, tags, time_ms) == (point.measurement, dict(point.tags), point.time_ms)
        assert fields == dict(point.fields)


def test_an_altered_value_keeps_the_where_and_changes_the_digest(influx: InfluxClient) -> None:
    line = encode_line(POINTS[0])
    _, before = digest_line(line)
    influx.write(line.replace("up=1i", "up=0i"))
    (after,) = _read_back(influx)
    assert after != before
    assert where_of(after) == where_of(before)


def test_a_manifest_signed_and_written_reads_back_and_verifies(influx: InfluxClient) -> None:
    key = GatewayKey.generate()
    fp = fingerprint(key.public_key())
    points = [digest_line(encode_line(p)) for p in POINTS]
    first = Manifest.build(SITE, 3, 41, "", points[:2], fp).signed(key)
    second = Manifest.build(SITE, 3, 42, first.id, points[2:], fp).signed(key)
    influx.write(
        "\n".join(
            encode_line(Point(MANIFEST_MEASUREMENT, m.tags, m.fields(), m.time_ms)) for m in (first, second)
        )
    )
    back = [
        Manifest.from_influx(s.tags, row, row.pop("time"))
        for s in influx.select(f'SELECT * FROM "{MANIFEST_MEASUREMENT}" GROUP BY *').series
        for row in s.rows()
    ]
    back.sort(key=lambda m: m.n)
    assert back == [first, second]
    assert all(m.signature_ok(key.public_key()) for m in back)
    assert back[1].prev == back[0].id
    assert back[0].count == 2 and (back[0].first_ms, back[0].last_ms, back[0].time_ms) == (
        T0,
        T0 + 1,
        T0 + 41,
    )
    assert not back[0].signature_ok(GatewayKey.generate().public_key())


def test_a_changed_manifest_field_breaks_its_signature() -> None:
    key = GatewayKey.generate()
    manifest = Manifest.build(SITE, 0, 1, "", [digest_line(encode_line(POINTS[0]))], "k").signed(key)
    for changed in (
        {"time_ms": T0 + 60_000},
        {"n": 2},
        {"prev": "00"},
        {"first_ms": 0},
        {"last_ms": T0 + 9},
        {"signed_ms": manifest.signed_ms + 1},
        {"digests": manifest.digests[:-1] + b"\0"},
        {"tags": {**manifest.tags, "village": "x"}},
    ):
        forged = Manifest(**{**{f: getattr(manifest, f) for f in manifest.__dataclass_fields__}, **changed})
        assert not forged.signature_ok(key.public_key()), changed


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        (
            {
                "epoch": 0,
                "seq": 1,
                "prev": "",
                "first_ms": 0,
                "last_ms": 0,
                "signed_ms": 0,
                "key": "k",
                "sig": "",
            },
            "without field 'digests'",
        ),
        (
            {
                "epoch": 0,
                "seq": 1,
                "prev": "",
                "first_ms": 0,
                "last_ms": 0,
                "signed_ms": 0,
                "key": "k",
                "sig": "",
                "digests": "!!",
            },
            "not base64",
        ),
        (
            {
                "epoch": 0,
                "seq": 1.5,
                "prev": "",
                "first_ms": 0,
                "last_ms": 0,
                "signed_ms": 0,
                "key": "k",
                "sig": "",
                "digests": "",
            },
            "not an integer",
        ),
        (
            {
                "epoch": 0,
                "seq": 1,
                "prev": "",
                "first_ms": 0,
                "last_ms": 0,
                "signed_ms": 0,
                "key": "k",
                "sig": "",
                "digests": "AAAA",
            },
            "multiple of",
        ),
    ],
)
def test_a_malformed_manifest_is_named(fields: dict[str, object], error: str) -> None:
    with pytest.raises(ValueError, match=error):
        Manifest.from_influx(SITE, fields, T0)


def test_sequence_numbers_pack_epoch_and_number() -> None:
    assert unpack_seq(pack_seq(5, 2**32 - 1)) == (5, 2**32 - 1)
    with pytest.raises(ValueError):
        pack_seq(0, 2**32)


def test_the_key_is_created_private_and_refused_when_others_can_read_it(tmp_path) -> None:
    path = tmp_path / "evidence" / "gateway.key"
    key, created = load_or_create_key(path)
    assert created and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    again, created = load_or_create_key(path)
    assert not created and fingerprint(again.public_key()) == fingerprint(key.public_key())
    os.chmod(path, 0o644)
    with pytest.raises(PermissionError, match="0600"):
        load_or_create_key(path)


def test_a_public_key_is_read_from_base64_or_pem_and_anything_else_is_named(tmp_path) -> None:
    key = GatewayKey.generate()
    path = tmp_path / "gateway.key"
    path.write_text(key.pem())
    path.chmod(0o600)
    # the key file is the standard PKCS#8 one: OpenSSL itself derives the public key that the service takes
    pem = subprocess.run(
        ["openssl", "pkey", "-in", str(path), "-pubout"], capture_output=True, text=True, check=True
    ).stdout
    assert fingerprint(parse_public_key(key.public_text)) == key.fingerprint
    assert fingerprint(parse_public_key(pem)) == key.fingerprint
    with pytest.raises(ValueError, match="32 bytes"):
        parse_public_key("AAAA")
    with pytest.raises(ValueError, match="base64"):
        parse_public_key("not a key")
    with pytest.raises(ValueError, match="not an Ed25519 public key"):
        parse_public_key(pem.replace("MCowBQYDK2Vw", "MCowBQYDK2Vx"))


def test_a_key_openssl_made_signs_what_the_service_verifies(tmp_path) -> None:
    path = tmp_path / "openssl.key"
    subprocess.run(["openssl", "genpkey", "-algorithm", "ed25519", "-out", str(path)], check=True)
    path.chmod(0o600)
    key, created = load_or_create_key(path)
    manifest = Manifest.build(SITE, 0, 1, "", [digest_line(encode_line(POINTS[0]))], key.fingerprint).signed(
        key
    )
    assert not created and manifest.signature_ok(key.public_key())


def test_manifests_of_a_point_rewritten_all_day_never_overwrite_each_other(influx: InfluxClient) -> None:
    """``wifi_daily`` is stamped at local midnight and rewritten at every poll: each rewrite has its manifest,
    and every one of them must still be in InfluxDB, in the point's hour, after a power cut's new epoch too."""
    key = GatewayKey.generate()
    midnight = T0 + 17 * 3_600_000
    written = []
    for epoch, numbers in ((0, range(0, 40)), (1, range(30, 40))):  # the new epoch numbers again from 30
        for n in numbers:
            point = Point("wifi_daily", {**SITE, "ap": "nvh"}, {"unique_users": n, "sessions": n}, midnight)
            written.append(
                Manifest.build(
                    SITE,
                    epoch,
                    n,
                    "",
                    [digest_line(encode_line(point))],
                    key.fingerprint,
                    signed_ms=midnight + n * 60_000,
                ).signed(key)
            )
    influx.write(
        "\n".join(encode_line(Point(MANIFEST_MEASUREMENT, m.tags, m.fields(), m.time_ms)) for m in written)
    )
    back = influx.select(f'SELECT count("seq") FROM "{MANIFEST_MEASUREMENT}"').series[0].values[0][1]
    assert back == len(written) == 50
    assert all(m.time_ms // 3_600_000 == midnight // 3_600_000 for m in written)


def test_a_manifest_spans_one_hour() -> None:
    points = [digest_line(encode_line(POINTS[0])), (T0 + 3_600_000, b"\0" * 12)]
    with pytest.raises(ValueError, match="one UTC hour"):
        Manifest.build(SITE, 0, 1, "", points, "k")
