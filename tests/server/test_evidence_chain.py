"""A signature is checked once per run of chained manifests (server/evidence/verify.py): a manifest whose
successor is authentic and names its ``id`` is authentic too. These tests hold that the chain vouches only for
content that is exactly what was signed, on a real InfluxDB."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from signed_kit import (
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

from server.evidence.combine import combine
from server.evidence.registry import Registry
from server.evidence.source import HOUR_MS
from server.evidence.verify import HourResult, Run
from thonminh.contract import Point
from thonminh.influx import InfluxClient

T0 = 1_795_000_000_000 - 1_795_000_000_000 % HOUR_MS
HOURS = 3
END = T0 + HOURS * HOUR_MS
#: 120 points an hour in batches of 40: manifests 3, 4 and 5 are the second hour's, 3 vouched for by 4
FIRST_OF_HOUR, LAST_OF_HOUR = 3, 5


@pytest.fixture
def registry(tmp_path: Path) -> Registry:
    return registry_at(tmp_path)


@pytest.fixture
def gw(influx: InfluxClient, registry: Registry) -> Gateway:
    gateway = signed_hours(influx, registry, T0, HOURS)
    assert [m.time_ms // HOUR_MS for m in gateway.manifests[FIRST_OF_HOUR : LAST_OF_HOUR + 1]] == [
        T0 // HOUR_MS + 1
    ] * 3
    return gateway


def test_a_manifest_altered_under_an_authentic_successor_fails_its_own_signature(
    influx, registry, gw
) -> None:
    # its successor's prev names what was signed, not what is there now: the link does not vouch for it
    genuine = gw.manifests[FIRST_OF_HOUR]
    altered = replace(genuine, signed_ms=genuine.signed_ms + 1)  # same point, same signature
    influx.write(manifest_line(altered))
    found = verify(influx, registry, T0, END)
    assert kinds(found)["bad_signature"] == genuine.count
    assert found.of("uplink") == (180, 180 - genuine.count // 2)


def test_a_corrupted_signature_is_vouched_for_by_an_authentic_successor(influx, registry, gw) -> None:
    # what the manifest says is exactly what was signed: its successor's signature covers its id
    vouched = gw.manifests[FIRST_OF_HOUR]
    influx.write(manifest_line(replace(vouched, sig=bytes(64))))
    found = verify(influx, registry, T0, END)
    assert found.faults == ()
    assert found.of("uplink") == (180, 180)


def test_the_chain_vouches_across_hours_within_the_window(influx, registry, gw) -> None:
    # the hour's last manifest is named by the next hour's first: the window's pass over the headers sees both
    last = gw.manifests[LAST_OF_HOUR]
    influx.write(manifest_line(replace(last, sig=bytes(64))))
    assert verify(influx, registry, T0, END).faults == ()
    # and the chain is walked a day beyond the window: the hour verified alone still has its successor
    assert verify(influx, registry, T0 + HOUR_MS, T0 + 2 * HOUR_MS).faults == ()


def test_a_corrupted_signature_with_no_successor_in_the_window_is_a_fault(influx, registry, gw) -> None:
    last = gw.manifests[-1]
    influx.write(manifest_line(replace(last, sig=bytes(64))))
    found = verify(influx, registry, T0, END)
    assert kinds(found)["bad_signature"] == last.count
    assert found.of("uplink") == (180, 180 - last.count // 2)


def test_digests_altered_under_their_stored_hash_fail_the_signature(influx, registry, gw) -> None:
    # the chain is walked on points_sha256 as stored; the hour recomputes it from the digests it reads
    genuine = gw.manifests[FIRST_OF_HOUR]
    forged = replace(genuine, digests=bytes([genuine.digests[-1] ^ 1]) + genuine.digests[1:])
    line = manifest_line(forged).replace(
        f'points_sha256="{forged.points_sha256}"', f'points_sha256="{genuine.points_sha256}"'
    )
    assert f'points_sha256="{genuine.points_sha256}"' in line
    influx.write(line)
    found = verify(influx, registry, T0, END)
    assert kinds(found)["bad_signature"] == genuine.count


def test_the_chain_is_walked_through_manifests_stamped_before_the_window(influx, registry) -> None:
    # live batches in the window, each followed in the chain by a wifi_daily rewrite stamped at the local
    # midnight before it: a live manifest's successor lies outside the window's hours
    gw = Gateway()
    register(registry, gw)
    midnight = T0 - 3 * HOUR_MS
    live = []
    for minute in range(3):
        influx.write(gw.sign(uplink_points(T0 + minute * 60_000, 1, step_s=3600)))
        live.append(gw.manifests[-1])
        daily = Point(
            "wifi_daily", {**SITE, "ap": "nha-van-hoa"}, {"unique_users": minute, "sessions": 1}, midnight
        )
        influx.write(gw.sign([daily]))
    influx.write(manifest_line(replace(live[1], sig=bytes(64))))
    # the second live manifest is named by the rewrite after it, which the third live one names in turn
    assert verify(influx, registry, T0, T0 + HOUR_MS).faults == ()


class _Counted(frozenset):  # type: ignore[type-arg]
    """The manifests stamped outside the window, counting how often one was looked for."""

    looked = 0

    def __contains__(self, item: object) -> bool:
        type(self).looked += 1
        return super().__contains__(item)

    def __iter__(self):  # type: ignore[no-untyped-def]
        type(self).looked += len(self)
        return super().__iter__()


def test_a_gap_is_measured_from_the_numbers_found_not_walked_number_by_number() -> None:
    """A gateway whose counter jumped (its state restored from an old card, a bug) leaves a gap of up to four
    billion numbers: the missing ones are what lies between the few found elsewhere, not each looked up."""
    gap = 1_000_000
    runs = [
        Run("gw", 1, 0, "", T0, 9, "id9", T0 + 10),
        Run("gw", 1, 10 + gap, "x", T0 + 3_600_000, 10 + gap, "idz", T0 + 3_600_001),
    ]
    hours = [HourResult(T0, {}, (), (r,), frozenset()) for r in runs]
    elsewhere = _Counted({("gw", 1, 500), ("gw", 1, 501), ("gw", 2, 7), ("other", 1, 900)})
    found = combine(hours, lambda: elsewhere)
    gaps = [(f.count, f.detail) for f in found.faults if f.kind == "missing_seq"]
    assert gaps == [
        (490, "manifests 10..499 of epoch 1 are missing: 490 batch(es) deleted"),
        (gap - 492, f"manifests 502..{gap + 9} of epoch 1 are missing: {gap - 492} batch(es) deleted"),
    ]
    assert _Counted.looked < 100
