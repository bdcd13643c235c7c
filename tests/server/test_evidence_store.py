"""Settled hours' verification results kept on disk (server/evidence/store.py), on a real InfluxDB: a restarted
service reads no settled hour again, yet a forgery still shows within ``reverify_s`` of the last reading, a key
change still makes every hour read again, and a row that cannot be read back is verified again, not a crash."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import replace
from pathlib import Path

from signed_kit import VILLAGE, Gateway, register, registry_at, uplink_points
from test_evidence_sweep import NOW, Clock, CountingClient, _altered

from server.evidence.combine import Verification
from server.evidence.hourly import Verifier
from server.evidence.registry import Registry
from server.evidence.source import HOUR_MS
from server.evidence.store import ResultStore
from server.queries import Source
from thonminh.contract import site_tags
from thonminh.influx import InfluxClient

#: three hours closed more than ``settle_ms`` (2 h) before the clock: settled, so they are kept on disk. The
#: clock is the sweep test's yesterday noon UTC: from the real clock, this failed when run from 20:00 to 24:00
#: UTC, where one of the hours was Vietnam's midnight, whose hour stays recent for a day and is read again.
T0 = NOW - NOW % HOUR_MS - 6 * HOUR_MS
HOURS = 3
END = T0 + HOURS * HOUR_MS
REVERIFY_S = 600.0


def _service(
    influx: InfluxClient, registry: Registry, store: Path, clock: Clock
) -> tuple[Verifier, CountingClient]:
    """A service's verifier, as one start of the service builds it: an empty memory, the store on disk."""
    counting = CountingClient(influx)
    verifier = Verifier(
        counting,  # type: ignore[arg-type]
        lambda m: Source(influx.database or "", None, m),
        registry,
        clock=clock,
        reverify_s=REVERIFY_S,
        store=ResultStore(store),
    )
    return verifier, counting


def _signed(influx: InfluxClient, tmp_path: Path) -> tuple[Registry, list[str]]:
    registry = registry_at(tmp_path)
    gw = Gateway()
    register(registry, gw, valid_from_ms=T0 - HOUR_MS)
    lines = gw.sign(uplink_points(T0, HOURS))
    influx.write(lines)
    return registry, lines


def test_a_restart_reads_no_settled_hour_again(influx: InfluxClient, tmp_path: Path) -> None:
    registry, _ = _signed(influx, tmp_path)
    clock = Clock(NOW / 1000)
    first, _ = _service(influx, registry, tmp_path / "verification.sqlite", clock)
    before = first.verify(VILLAGE, T0, END)
    assert before.of("uplink") == (180, 180)

    clock.now_s += 60
    again, counting = _service(influx, registry, tmp_path / "verification.sqlite", clock)
    after = again.verify(VILLAGE, T0, END)
    assert (after.counts, after.faults, after.keys) == (before.counts, before.faults, before.keys)
    # only the manifests' numbers around the window (two small queries), none of the hours' points
    assert counting.queries <= 1

    # without the store, the same start reads every hour again
    fresh = Verifier(counting, lambda m: Source(influx.database or "", None, m), registry, clock=clock)  # type: ignore[arg-type]
    counted = counting.queries
    fresh.verify(VILLAGE, T0, END)
    assert counting.queries > counted + 1


def test_a_forgery_shows_within_reverify_s_across_a_restart(influx: InfluxClient, tmp_path: Path) -> None:
    registry, lines = _signed(influx, tmp_path)
    clock = Clock(NOW / 1000)
    first, _ = _service(influx, registry, tmp_path / "verification.sqlite", clock)
    assert first.verify(VILLAGE, T0, END).of("uplink") == (180, 180)
    influx.write([_altered(lines, T0 + HOUR_MS + m * 60_000) for m in range(10, 20)])

    # restarted within reverify_s of the reading: the stored result stands (the window of exposure)...
    clock.now_s += REVERIFY_S / 2
    within, _ = _service(influx, registry, tmp_path / "verification.sqlite", clock)
    assert within.verify(VILLAGE, T0, END).of("uplink") == (180, 180)
    # ...and its sweep reads it again when it is due, as if the service had never stopped
    clock.now_s += REVERIFY_S / 2
    assert within.sweep(every_s=REVERIFY_S).changed == ((VILLAGE, T0 + HOUR_MS),)
    assert within.verify(VILLAGE, T0, END).of("uplink") == (180, 170)

    # a stored result older than reverify_s is not trusted by the next start either: read afresh
    clock.now_s += REVERIFY_S + 1
    later, counting = _service(influx, registry, tmp_path / "verification.sqlite", clock)
    assert later.verify(VILLAGE, T0, END).of("uplink") == (180, 170)
    assert counting.queries > 1


def test_a_key_change_makes_stored_hours_read_again(influx: InfluxClient, tmp_path: Path) -> None:
    registry, _ = _signed(influx, tmp_path)
    clock = Clock(NOW / 1000)
    first, _ = _service(influx, registry, tmp_path / "verification.sqlite", clock)
    assert first.verify(VILLAGE, T0, END).of("uplink") == (180, 180)
    register(registry, Gateway(), valid_from_ms=END + HOUR_MS)  # a rotation after the window: a new version
    again, counting = _service(influx, registry, tmp_path / "verification.sqlite", clock)
    assert again.verify(VILLAGE, T0, END).of("uplink") == (180, 180)
    assert counting.queries > 1


def test_a_registry_made_anew_does_not_inherit_the_stored_results(
    influx: InfluxClient, tmp_path: Path
) -> None:
    """A registry deleted and made again counts its versions from the start: the stored results name the keys
    they were checked against, not the version number."""
    registry, _ = _signed(influx, tmp_path)
    clock = Clock(NOW / 1000)
    first, _ = _service(influx, registry, tmp_path / "verification.sqlite", clock)
    assert first.verify(VILLAGE, T0, END).of("uplink") == (180, 180)
    version = registry.version()
    (tmp_path / "keys.sqlite").unlink()
    anew = registry_at(tmp_path)
    register(anew, Gateway(), valid_from_ms=T0 - HOUR_MS)  # another key for the gateway, at the same version
    assert anew.version() == version
    again, _ = _service(influx, anew, tmp_path / "verification.sqlite", clock)
    assert again.verify(VILLAGE, T0, END).of("uplink") == (180, 0)  # signed by a key it does not hold


def test_a_row_that_cannot_be_read_back_is_verified_again(
    influx: InfluxClient, tmp_path: Path, caplog
) -> None:
    registry, _ = _signed(influx, tmp_path)
    clock = Clock(NOW / 1000)
    store = tmp_path / "verification.sqlite"
    first, _ = _service(influx, registry, store, clock)
    first.verify(VILLAGE, T0, END)
    with sqlite3.connect(store) as db:
        db.execute("UPDATE hours SET result = '{\"counts\": 1}' WHERE hour_ms = ?", (T0 + HOUR_MS,))
    again, counting = _service(influx, registry, store, clock)
    assert again.verify(VILLAGE, T0, END).of("uplink") == (180, 180)
    assert again.store is not None and again.store.unreadable == 1
    assert "a stored result cannot be read" in caplog.text
    assert counting.queries > 1  # that hour, read from InfluxDB again
    third, counting = _service(influx, registry, store, clock)
    third.verify(VILLAGE, T0, END)
    assert counting.queries <= 1 and third.store is not None and third.store.unreadable == 0  # written anew


def _first_start(influx: InfluxClient, tmp_path: Path) -> tuple[Registry, Clock, Path, Verification]:
    """The village signed, verified once by a service that keeps its results in ``verification.sqlite``."""
    registry, _ = _signed(influx, tmp_path)
    clock = Clock(NOW / 1000)
    store = tmp_path / "verification.sqlite"
    first, _ = _service(influx, registry, store, clock)
    return registry, clock, store, first.verify(VILLAGE, T0, END)


def test_results_stored_by_the_version_before_are_read_not_verified_again(
    influx: InfluxClient, tmp_path: Path
) -> None:
    # runs were stored as objects until they went as lists (a fifth of the CPU of storing a month's results);
    # an upgraded service must read those, not verify a province's every stored hour again
    registry, clock, store, before = _first_start(influx, tmp_path)
    kept = ResultStore(store)
    as_lists = kept.load(VILLAGE, T0, END, keys=registry.snapshot(), since_s=0)
    names = ("gateway", "epoch", "first_n", "first_prev", "first_ms", "last_n", "last_id", "last_ms")
    with sqlite3.connect(store) as db:
        rows = db.execute("SELECT hour_ms, result FROM hours").fetchall()
        assert len(rows) == HOURS
        for hour_ms, text in rows:
            data = json.loads(text)
            assert data["runs"] and all(isinstance(r, list) for r in data["runs"])
            # as that version stored them: without the time the first manifest was signed, which came later
            data["runs"] = [dict(zip(names, r[: len(names)], strict=True)) for r in data["runs"]]
            db.execute("UPDATE hours SET result = ? WHERE hour_ms = ?", (json.dumps(data), hour_ms))
    as_objects = kept.load(VILLAGE, T0, END, keys=registry.snapshot(), since_s=0)
    unsigned = [
        (h, t, replace(r, runs=tuple(replace(run, first_signed_ms=None) for run in r.runs)))
        for h, t, r in as_lists
    ]
    assert as_objects == unsigned and all(result.runs for _, _, result in as_lists)
    again, counting = _service(influx, registry, store, clock)
    after = again.verify(VILLAGE, T0, END)
    assert (after.counts, after.faults, after.keys) == (before.counts, before.faults, before.keys)
    assert counting.queries <= 1 and again.store is not None and again.store.unreadable == 0

    with sqlite3.connect(store) as db:  # a run that is neither: that hour is read again
        db.execute(
            "UPDATE hours SET result = json_set(result, '$.runs[0]', 'abcdefgh') WHERE hour_ms = ?", (T0,)
        )
    third, counting = _service(influx, registry, store, clock)
    assert third.verify(VILLAGE, T0, END).counts == before.counts
    assert third.store is not None and third.store.unreadable == 1 and counting.queries > 1


def test_results_stored_without_counts_per_link_are_read_and_weigh_every_link(
    influx: InfluxClient, tmp_path: Path
) -> None:
    # the version before counted points per measurement only; its hours are read, not verified again, and a
    # figure of one link weighs all their points (as it did then) until reverify_s reads them afresh
    registry, clock, store, before = _first_start(influx, tmp_path)
    assert before.of("uplink", {"link": "fiber"}) == (180, 180) and before.of("uplink", {"link": "4g"}) == (
        0,
        0,
    )
    with sqlite3.connect(store) as db:
        data = json.loads(db.execute("SELECT result FROM hours WHERE hour_ms = ?", (T0,)).fetchone()[0])
        assert data.pop("selected") == {"uplink link=fiber": [60, 60], "wifi ap=nha-van-hoa": [60, 60]}
        db.execute("UPDATE hours SET result = ? WHERE hour_ms = ?", (json.dumps(data), T0))
    again, counting = _service(influx, registry, store, clock)
    after = again.verify(VILLAGE, T0, END)
    assert counting.queries <= 1 and again.store is not None and again.store.unreadable == 0
    assert after.counts == before.counts
    assert after.of("uplink", {"link": "fiber"}) == (180, 180) and after.of("uplink", {"link": "4g"}) == (
        60,
        60,
    )


def _elsewhere() -> Gateway:
    """A gateway of another village of the province, as technicians register them one by one."""
    return Gateway(site=site_tags("lang-khac", "gw-khac", commune="quang-minh", province="bac-giang"))


def test_a_key_registered_for_another_village_reads_none_of_this_ones_hours_again(
    influx: InfluxClient, tmp_path: Path
) -> None:
    # it made every village's every hour read again: for a province, 20 CPU-hours for each gateway registered
    registry, clock, store, _ = _first_start(influx, tmp_path)
    running, counting = _service(influx, registry, store, clock)
    before = running.verify(VILLAGE, T0, END)
    register(registry, _elsewhere(), valid_from_ms=T0)
    counted = counting.queries
    assert running.verify(VILLAGE, T0, END) == before
    assert counting.queries == counted  # in memory: nothing read
    restarted, counting = _service(influx, registry, store, clock)
    assert restarted.verify(VILLAGE, T0, END) == before
    assert counting.queries <= 1  # on disk: only the manifests' numbers around the window

    # a key of its own village still makes its hours read again, in memory as across a restart
    register(registry, Gateway(), valid_from_ms=END + HOUR_MS)
    counted = counting.queries
    assert restarted.verify(VILLAGE, T0, END).of("uplink") == (180, 180)
    assert counting.queries > counted + 1


def test_results_kept_against_the_whole_registry_are_read_until_it_changes(
    influx: InfluxClient, tmp_path: Path
) -> None:
    # the version before kept a digest of every village's keys with each result: an upgraded service reads
    # those rather than verify a province again, while the registry is the one they were checked against
    registry, _ = _signed(influx, tmp_path)
    register(registry, _elsewhere(), valid_from_ms=T0)  # so the whole registry's digest is not the village's
    clock = Clock(NOW / 1000)
    store = tmp_path / "verification.sqlite"
    first, _ = _service(influx, registry, store, clock)
    before = first.verify(VILLAGE, T0, END)
    whole = registry.snapshot()
    assert whole.digest() != whole.digest(VILLAGE)
    with sqlite3.connect(store) as db:
        db.execute("UPDATE hours SET keys = ?", (whole.digest(),))
    upgraded, counting = _service(influx, registry, store, clock)
    assert upgraded.verify(VILLAGE, T0, END) == before
    assert counting.queries <= 1
    # another village's key: no longer the registry they were checked against
    register(registry, Gateway(site={**_elsewhere().site, "gateway": "gw-khac-2"}), valid_from_ms=T0)
    again, counting = _service(influx, registry, store, clock)
    assert again.verify(VILLAGE, T0, END).of("uplink") == (180, 180)
    assert counting.queries > 1


def test_a_results_file_that_is_no_database_is_set_aside_at_start_and_passed_by_while_running(
    influx: InfluxClient, tmp_path: Path, caplog
) -> None:
    # a cache: a disk fault or a bad restore costs verifying again, never the service
    registry, _ = _signed(influx, tmp_path)
    clock = Clock(NOW / 1000)
    store = tmp_path / "verification.sqlite"
    store.write_bytes(b"not a database " * 100)
    first, _ = _service(influx, registry, store, clock)
    assert (tmp_path / "verification.sqlite.unreadable").read_bytes().startswith(b"not a database")
    assert "the kept results cannot be read; set aside" in caplog.text
    assert first.verify(VILLAGE, T0, END).of("uplink") == (180, 180)
    store.write_bytes(b"not a database " * 100)  # broken under the running service
    kept = first.store
    assert kept is not None
    running = Verifier(
        influx, lambda m: Source(influx.database or "", None, m), registry, clock=clock, store=kept
    )
    assert running.verify(VILLAGE, T0, END).of("uplink") == (180, 180)  # read from InfluxDB, then not written
    running.forget_before(T0)
    assert kept.unreadable == 3  # the read, the write, the trim
    assert "the kept results could not be used" in caplog.text
