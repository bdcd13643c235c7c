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

from server.evidence.registry import Registry
from server.evidence.source import HOUR_MS
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
