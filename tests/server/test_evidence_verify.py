"""Verification on a real InfluxDB: clean signed data verifies 100 %, and each fault, made by writing to and
deleting from the database directly, is found and located to its span."""

from __future__ import annotations

from pathlib import Path

import pytest
from signed_kit import (
    GATEWAY,
    SITE,
    Gateway,
    kinds,
    manifest_line,
    register,
    registry_at,
    signed_hours,
    uplink_points,
    verify,
)

from server.evidence.combine import SETTLE_MS
from server.evidence.registry import Registry
from server.evidence.source import HOUR_MS
from server.timeparse import iso
from thonminh.contract import Point
from thonminh.evidence import (
    EVIDENCE_FIELD,
    Manifest,
    digest_line,
    pack_seq,
    point_digest,
    row_digests,
    series_key,
)
from thonminh.influx import InfluxClient
from thonminh.lineprotocol import encode_line

T0 = 1_795_000_000_000 - 1_795_000_000_000 % HOUR_MS  # 2026-11-18T10:00Z
HOURS = 3
END = T0 + HOURS * HOUR_MS


@pytest.fixture
def registry(tmp_path: Path) -> Registry:
    return registry_at(tmp_path)


@pytest.fixture
def gw(influx: InfluxClient, registry: Registry) -> Gateway:
    return signed_hours(influx, registry, T0, HOURS)


def _q(ms: int) -> str:
    return f"'{iso(ms)}'"


def only(found, kind):
    (fault,) = [f for f in found.faults if f.kind == kind]
    return fault


def test_clean_signed_data_verifies_entirely(influx, registry, gw) -> None:
    found = verify(influx, registry, T0, END)
    assert found.faults == ()
    assert found.of("uplink") == (180, 180) and found.of("wifi") == (180, 180)
    assert found.keys == {(GATEWAY, gw.fingerprint)}
    assert found.hours == HOURS


def test_an_altered_value_is_found_at_its_time(influx, registry, gw) -> None:
    t = T0 + 61 * 60_000
    seq = next(m.seq for m in gw.manifests if m.first_ms <= t <= m.last_ms)
    influx.write(
        encode_line(
            Point(
                "uplink",
                {**SITE, "link": "fiber"},
                {
                    "up": 0,
                    "up_s": 0.0,
                    "observed_s": 60.0,
                    "rtt_ms": 3.5,
                    "loss_pct": 0.0,
                    "targets_ok": 3,
                    "targets_total": 3,
                    EVIDENCE_FIELD: seq,
                },
                t,
            )
        )
    )
    found = verify(influx, registry, T0, END)
    fault = only(found, "altered")
    assert (fault.start_ms, fault.end_ms, fault.measurements, fault.count) == (t, t, ("uplink",), 1)
    assert kinds(found) == {"altered": 1}
    assert found.of("uplink") == (180, 179)


def test_a_deleted_point_is_found_in_its_manifest_span(influx, registry, gw) -> None:
    t = T0 + 30 * 60_000
    influx.query(f'DELETE FROM "uplink" WHERE time >= {_q(t)} AND time <= {_q(t)}')
    found = verify(influx, registry, T0, END)
    fault = only(found, "deleted_point")
    manifest = next(m for m in gw.manifests if m.first_ms <= t <= m.last_ms)
    assert (fault.start_ms, fault.end_ms, fault.count) == (manifest.first_ms, manifest.last_ms, 1)
    assert found.of("uplink") == (179, 179)


def test_an_unsigned_point_is_found(influx, registry, gw) -> None:
    t = T0 + 90 * 60_000 + 123
    influx.write(
        encode_line(
            Point("uplink", {**SITE, "link": "fiber"}, {"up": 1, "up_s": 60.0, "observed_s": 60.0}, t)
        )
    )
    found = verify(influx, registry, T0, END)
    fault = only(found, "unsigned")
    assert (fault.start_ms, fault.end_ms, fault.measurements) == (t, t, ("uplink",))
    assert found.of("uplink") == (181, 180)


def test_a_point_injected_with_a_copied_sequence_number_is_found(influx, registry, gw) -> None:
    t = T0 + 10 * 60_000 + 7
    seq = next(m.seq for m in gw.manifests if m.first_ms <= t <= m.last_ms)
    influx.write(
        encode_line(
            Point(
                "wifi",
                {**SITE, "ap": "nha-van-hoa"},
                {"ap_up": 1, "up_s": 60.0, "observed_s": 60.0, "clients": 40, EVIDENCE_FIELD: seq},
                t,
            )
        )
    )
    found = verify(influx, registry, T0, END)
    fault = only(found, "injected")
    assert (fault.start_ms, fault.end_ms, fault.measurements) == (t, t, ("wifi",))
    assert kinds(found) == {"injected": 1}


def test_a_deleted_manifest_leaves_its_points_without_one_and_a_gap(influx, registry, gw) -> None:
    gone = gw.manifests[5]
    influx.query(f'DELETE FROM "evidence" WHERE time >= {_q(gone.time_ms)} AND time <= {_q(gone.time_ms)}')
    found = verify(influx, registry, T0, END)
    assert kinds(found) == {"no_manifest": gone.count, "missing_seq": 1}
    gap = only(found, "missing_seq")
    assert (gap.start_ms, gap.end_ms) == (gw.manifests[4].last_ms, gw.manifests[6].first_ms)
    orphans = [f for f in found.faults if f.kind == "no_manifest"]
    assert (
        min(f.start_ms for f in orphans) == gone.first_ms and max(f.end_ms for f in orphans) == gone.last_ms
    )


def test_a_deleted_batch_is_a_missing_sequence_number_between_its_neighbours(influx, registry, gw) -> None:
    gone = gw.manifests[7]
    influx.query(f"DELETE FROM /.*/ WHERE time >= {_q(gone.first_ms)} AND time <= {_q(gone.last_ms)}")
    influx.query(f'DELETE FROM "evidence" WHERE time = {_q(gone.time_ms)}')
    found = verify(influx, registry, T0, END)
    gap = only(found, "missing_seq")
    assert (gap.start_ms, gap.end_ms, gap.count) == (gw.manifests[6].last_ms, gw.manifests[8].first_ms, 1)
    assert kinds(found) == {"missing_seq": 1}


def test_a_batch_still_in_flight_is_no_gap_until_it_settles(influx, registry, gw) -> None:
    """The forwarder writes batches concurrently: a later one can land first, and for a second or two a fixed
    window's verdict read `unverified` (a missing sequence number, and the chain broken after it)."""
    late = gw.manifests[7]
    influx.query(f"DELETE FROM /.*/ WHERE time >= {_q(late.first_ms)} AND time <= {_q(late.last_ms)}")
    influx.query(f'DELETE FROM "evidence" WHERE time = {_q(late.time_ms)}')
    signed_next_s = gw.manifests[8].signed_ms / 1000
    in_flight = verify(influx, registry, T0, END, now_s=signed_next_s + 2)
    assert kinds(in_flight) == {} and in_flight.of("uplink")[0] == in_flight.of("uplink")[1]
    settled = verify(influx, registry, T0, END, now_s=signed_next_s + SETTLE_MS / 1000)
    assert kinds(settled) == {"missing_seq": 1}
    # signed "later" than now, by a gateway clock run fast: no grace, or the gap would hide until then
    assert kinds(verify(influx, registry, T0, END, now_s=signed_next_s - 60)) == {"missing_seq": 1}


def test_a_manifest_copied_to_another_time_fails_its_signature(influx, registry, gw) -> None:
    original = gw.manifests[2]
    copy = Manifest(
        **{
            **{f: getattr(original, f) for f in original.__dataclass_fields__},
            "time_ms": original.time_ms + HOUR_MS + 500,
        }
    )
    influx.write(manifest_line(copy))
    found = verify(influx, registry, T0, END)
    assert kinds(found) == {"bad_signature": original.count}
    assert only(found, "bad_signature").end_ms == copy.last_ms


def test_a_replayed_number_signed_again_is_found_in_both_places(influx, registry, gw) -> None:
    # the same number twice, each genuinely signed: a cloned SD card, or a key used by two machines
    first = gw.manifests[3]
    point = Point(
        "uplink",
        {**SITE, "link": "fiber"},
        {"up": 1, "up_s": 1.0, "observed_s": 1.0, EVIDENCE_FIELD: first.seq},
        T0 + 2 * HOUR_MS + 5,
    )
    again = Manifest.build(
        SITE, first.epoch, first.n, first.prev, [digest_line(encode_line(point))], gw.fingerprint
    ).signed(gw.key)
    influx.write([encode_line(point), manifest_line(again)])
    found = verify(influx, registry, T0, END)
    fault = only(found, "replayed")
    assert (fault.start_ms, fault.end_ms) == (again.first_ms, again.last_ms)
    assert "manifest 3 of epoch 1" in fault.detail


def test_a_replay_within_the_hour_takes_the_genuine_manifests_place_and_is_found(
    influx, registry, gw
) -> None:
    # the same number signed again for the same hour is stamped at the same millisecond: it replaces the
    # genuine manifest, whose points then have no digest in the manifest their number names
    first = gw.manifests[3]
    point = Point(
        "uplink",
        {**SITE, "link": "fiber"},
        {"up": 1, "up_s": 1.0, "observed_s": 1.0, EVIDENCE_FIELD: first.seq},
        first.last_ms + 1,
    )
    again = Manifest.build(
        SITE, first.epoch, first.n, first.prev, [digest_line(encode_line(point))], gw.fingerprint
    ).signed(gw.key)
    assert again.time_ms == first.time_ms
    influx.write([encode_line(point), manifest_line(again)])
    found = verify(influx, registry, T0, END)
    # its points look injected (their digests are not in the replay), and the next manifest's link is broken
    assert set(kinds(found)) == {"injected", "broken_chain"}
    spans = [f for f in found.faults]
    assert min(f.start_ms for f in spans) <= first.first_ms and max(f.end_ms for f in spans) >= first.last_ms
    uplink, verified = found.of("uplink")
    assert uplink == 181 and verified < 180


def test_a_manifest_signed_by_an_unregistered_key_is_found(influx, registry, gw) -> None:
    stranger = Gateway(epoch=9)
    lines = stranger.sign(
        [Point("uplink", {**SITE, "link": "fiber"}, {"up": 1, "up_s": 60.0, "observed_s": 60.0}, T0 + 5)]
    )
    influx.write(lines)
    found = verify(influx, registry, T0, END)
    fault = only(found, "unregistered_key")
    assert (fault.start_ms, fault.end_ms, fault.measurements) == (T0 + 5, T0 + 5, ("uplink",))
    assert stranger.fingerprint in fault.detail
    assert found.of("uplink") == (181, 180)


def test_a_key_used_after_its_period_is_found(influx, registry, gw) -> None:
    retired = T0 + 2 * HOUR_MS
    registry.retire(GATEWAY, gw.fingerprint, valid_until_ms=retired)
    found = verify(influx, registry, T0, END)
    late = [m for m in gw.manifests if m.signed_ms >= retired]  # the period is held against the signing time
    expired = only(found, "expired_key")  # its manifests, one fault
    assert (expired.start_ms, expired.end_ms) == (late[0].first_ms, late[-1].last_ms)
    points = sum(m.count for m in late)
    assert expired.detail == (
        f"{len(late)} manifests ({points} point(s)): signed by key {gw.fingerprint} outside its period"
    )
    assert expired.measurements == ("uplink", "wifi")
    assert found.of("uplink")[0] == 180 and found.of("uplink")[1] < 180


def test_a_key_rotation_verifies_both_periods(influx, registry, tmp_path) -> None:
    old = Gateway()
    register(registry, old)
    rotated_at = T0 + 95 * 60_000  # the old gateway signed its last batch (to minute 90) at minute 91
    influx.write(old.sign(uplink_points(T0, HOURS)[:180]))  # the first 90 minutes
    new = Gateway(key=Gateway().key, epoch=old.epoch, n=old.n, prev=old.prev)
    registry.add(
        GATEWAY, SITE["village"], new.public_key, valid_from_ms=rotated_at, by="test", now_ms=rotated_at
    )
    influx.write(new.sign(uplink_points(T0, HOURS)[180:]))
    found = verify(influx, registry, T0, END)
    assert found.faults == ()
    assert found.of("uplink") == (180, 180)
    assert found.keys == {(GATEWAY, old.fingerprint), (GATEWAY, new.fingerprint)}
    periods = {r.fingerprint: (r.valid_from_ms, r.valid_until_ms) for r in registry.keys(gateway=GATEWAY)}
    assert periods == {old.fingerprint: (0, rotated_at), new.fingerprint: (rotated_at, None)}


def test_a_manifest_naming_the_wrong_predecessor_breaks_the_chain(influx, registry) -> None:
    gw = Gateway()
    register(registry, gw)
    influx.write(gw.sign(uplink_points(T0, 1)[:40]))
    gw.prev = "0" * 64
    influx.write(gw.sign(uplink_points(T0, 1)[40:80]))
    found = verify(influx, registry, T0, T0 + HOUR_MS)
    fault = only(found, "broken_chain")
    assert (fault.start_ms, fault.end_ms) == (gw.manifests[0].last_ms, gw.manifests[1].first_ms)


def test_a_point_rewritten_under_a_later_manifest_is_not_a_fault(influx, registry) -> None:
    # wifi_daily is rewritten all day at local midnight; a batch re-sent after a power cut likewise
    gw = Gateway()
    register(registry, gw)
    day = Point("wifi_daily", {**SITE, "ap": "nha-van-hoa"}, {"unique_users": 3, "sessions": 4}, T0)
    influx.write(gw.sign([day]))
    influx.write(gw.sign([Point(day.measurement, day.tags, {"unique_users": 9, "sessions": 12}, T0)]))
    found = verify(influx, registry, T0, T0 + HOUR_MS)
    assert found.faults == ()
    assert found.of("wifi_daily") == (1, 1)


def test_a_rewrite_rolled_back_to_the_earlier_value_is_a_deleted_point(influx, registry) -> None:
    gw = Gateway()
    register(registry, gw)
    day = Point("wifi_daily", {**SITE, "ap": "nha-van-hoa"}, {"unique_users": 3, "sessions": 4}, T0)
    first = gw.sign([day])
    influx.write(first)
    influx.write(gw.sign([Point(day.measurement, day.tags, {"unique_users": 9, "sessions": 12}, T0)]))
    influx.write(first[0])  # the old, genuinely signed value written back over the new one
    found = verify(influx, registry, T0, T0 + HOUR_MS)
    assert kinds(found) == {"deleted_point": 1}
    assert found.of("wifi_daily") == (1, 1)


def test_a_manifest_stamped_before_the_window_fills_its_gap_in_the_chain(influx, registry) -> None:
    # wifi_daily's rewrites are stamped in the hour of the local midnight before the window, between live batches in it
    gw = Gateway()
    register(registry, gw)
    midnight = T0 - 3 * HOUR_MS
    for minute in range(3):
        live = uplink_points(T0 + minute * 60_000, 1, step_s=3600)
        daily = Point(
            "wifi_daily", {**SITE, "ap": "nha-van-hoa"}, {"unique_users": minute, "sessions": 1}, midnight
        )
        influx.write(gw.sign(live) + gw.sign([daily]))
    assert kinds(verify(influx, registry, T0, T0 + HOUR_MS)) == {}
    influx.query(f'DELETE FROM "evidence" WHERE time >= {_q(midnight)} AND time < {_q(midnight + HOUR_MS)}')
    assert kinds(verify(influx, registry, T0, T0 + HOUR_MS)) == {"missing_seq": 2}


def test_the_digests_computed_per_series_are_the_cores(influx) -> None:
    odd = [
        Point(
            "streetlight",
            {**SITE, "light": "L 1,=x", "zone": "thôn"},
            {
                "on": 1,
                "online": 1,
                "observed_s": 10.0,
                "power_w": 12.0,
                "voltage_v": 229.123456789012,
                "fault": 'say "hi", a\\b c=d ư',
                "energy_kwh": 1e-7,
            },
            T0 + 1,
        ),
        Point(
            "streetlight", {**SITE, "light": "L 1,=x", "zone": "thôn"}, {"on": 0, "observed_s": 10.0}, T0 + 2
        ),
        Point(
            "modem",
            {**SITE, "link": "lte", "modem": "m1"},
            {"operator": "Viettel", "rsrp_dbm": -100.5, "sinr_db": -0.0, "registered": 1, EVIDENCE_FIELD: 5},
            T0 + 3,
        ),
        Point("wifi_daily", {**SITE, "ap": "nha-van-hoa"}, {"unique_users": 2**40, "sessions": 0}, T0 + 4),
    ]
    lines = [encode_line(p) for p in odd]
    influx.write(lines)
    signed = {digest_line(line)[1] for line in lines}  # what the gateway signed
    q = "SELECT * FROM streetlight GROUP BY *; SELECT * FROM modem, wifi_daily GROUP BY *"
    # the verifier reads MessagePack; JSON (InfluxDB 2.x, 3.x) must give the same digests
    for answer in [influx.query(q, packed=True), influx.query(q)]:
        found = [row_digests(s.name, s.tags, s.columns, s.values) for r in answer for s in r.series]
        assert {d for series in found for d in series.digests} == signed
    for result in [*influx.query(q, packed=True), *influx.query(q)]:
        for series in result.series:
            fast = list(
                zip(*row_digests(series.name, series.tags, series.columns, series.values), strict=True)
            )
            key = series_key(series.name, series.tags)
            core = [
                (row["time"], row.get(EVIDENCE_FIELD), point_digest(key, row.pop("time"), row))
                for row in series.rows()
            ]
            assert fast == core and fast


def test_points_of_another_village_and_the_server_indicators_are_not_counted(influx, registry, gw) -> None:
    influx.write(
        [
            encode_line(
                Point(
                    "uplink",
                    {**SITE, "village": "other", "link": "fiber"},
                    {"up": 1, "observed_s": 60.0},
                    T0 + 9,
                )
            ),
            encode_line(Point("indicator", {**SITE, "indicator": "eid_adoption_pct"}, {"value": 30.0}, T0)),
        ]
    )
    found = verify(influx, registry, T0, END)
    assert found.faults == ()
    assert set(found.counts) == {"uplink", "wifi"}
    assert pack_seq(1, 0) == gw.manifests[0].seq


@pytest.mark.parametrize("seq", [-1, 2**40])
def test_a_manifest_numbered_out_of_range_is_malformed_not_a_crash(influx, registry, gw, seq: int) -> None:
    """Whoever can write to InfluxDB can write any integer as a manifest's number: the hour still verifies,
    that manifest is a fault of its own, and its points are left without one (before: a ValueError out of the
    sequence's packing ended the village's verification)."""
    second = gw.manifests[1]
    influx.write(
        encode_line(Point("evidence", second.tags, {"seq": seq}, second.time_ms)),
    )
    found = verify(influx, registry, T0, END)
    malformed = only(found, "malformed_manifest")
    assert (malformed.start_ms, malformed.end_ms) == (second.time_ms, second.time_ms)
    assert "out of range" in malformed.detail
    total = sum(found.of(m)[0] for m in ("uplink", "wifi"))
    assert sum(found.of(m)[1] for m in ("uplink", "wifi")) == total - second.count
    assert kinds(found)["no_manifest"] == second.count
