"""``thonminh keys`` against the service over HTTP, and ``thonminh verify``'s output and exit status."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest
from signed_kit import GATEWAY, SITE, VILLAGE, Gateway, register, uplink_points
from srv_helpers import ADMIN_KEY, READ_KEY, make_config, serving

from server.app import create_app
from server.evidence import source
from server.evidence.registry import Registry
from server.evidence.source import HOUR_MS
from server.plan import local_day_start
from server.timeparse import iso
from thonminh.cli import main
from thonminh.contract import Point
from thonminh.evidencekeys import grouped
from thonminh.lineprotocol import encode_line

NOW = int(time.time() * 1000)
T0 = NOW - NOW % HOUR_MS - 3 * HOUR_MS


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    try:
        main(list(args))
        code = 0
    except SystemExit as ended:
        code = int(ended.code or 0)
    out = capsys.readouterr()
    return code, out.out + out.err


@pytest.fixture
def served(influx, tmp_path: Path) -> Iterator[str]:
    config = make_config(influx.url, influx.database, evidence={"registry": str(tmp_path / "keys.sqlite")})
    with serving(create_app(config)) as base:
        yield base


def test_keys_are_added_listed_and_retired_through_the_api(served, capsys, monkeypatch) -> None:
    gw = Gateway()
    monkeypatch.setenv("THONMINH_ADMIN_KEY", ADMIN_KEY)
    code, out = run(
        capsys,
        "keys",
        "add",
        "--url",
        served,
        "--gateway",
        GATEWAY,
        "--village",
        VILLAGE,
        "--public-key",
        gw.public_key,
        "--valid-from",
        "2026-11-01T00:00:00Z",
    )
    assert code == 0, out
    assert f"{GATEWAY}  {grouped(gw.fingerprint)}  village {VILLAGE}  2026-11-01T00:00:00Z .. open" in out
    code, out = run(capsys, "keys", "list", "--url", served, "--api-key", READ_KEY)
    assert code == 0 and grouped(gw.fingerprint) in out and "registered by officer-hoa" in out
    # the API's address, as the demo prints it (API=... of its tamper drill), names the same service
    code, again = run(capsys, "keys", "list", "--url", f"{served}/api/v1/", "--api-key", READ_KEY)
    assert (code, again) == (0, out)
    code, out = run(
        capsys,
        "keys",
        "retire",
        "--url",
        served,
        "--gateway",
        GATEWAY,
        "--fingerprint",
        grouped(gw.fingerprint),  # as the pages and the dossier show it, copied from there
        "--valid-until",
        "2026-11-20T00:00:00Z",
    )
    assert code == 0 and "2026-11-01T00:00:00Z .. 2026-11-20T00:00:00Z" in out
    code, out = run(
        capsys,
        "keys",
        "add",
        "--url",
        served,
        "--gateway",
        GATEWAY,
        "--village",
        VILLAGE,
        "--public-key",
        "bm90IGEga2V5",
    )
    assert code == 1 and "422: public_key: an Ed25519 public key is 32 bytes" in out
    code, out = run(
        capsys,
        "keys",
        "add",
        "--url",
        served,
        "--admin-key",
        READ_KEY,
        "--gateway",
        GATEWAY,
        "--village",
        VILLAGE,
        "--public-key",
        Gateway().public_key,
    )
    assert code == 1 and "403" in out and "needs an admin key" in out


def _config(tmp_path: Path, influx, *, registry: bool = True) -> Path:
    path = tmp_path / "server.toml"
    text = f'[influxdb]\nurl = "{influx.url}"\ndatabase = "{influx.database}"\n'
    path.write_text(text + ('[evidence]\nregistry = "keys.sqlite"\n' if registry else ""))
    return path


def test_verify_exits_0_when_all_verify_and_1_naming_the_fault(influx, tmp_path, capsys) -> None:
    config = _config(tmp_path, influx)
    gw = Gateway()
    register(Registry(tmp_path / "keys.sqlite"), gw)
    influx.write(gw.sign(uplink_points(T0, 2)))
    window = ("--village", VILLAGE, "--start", iso(T0), "--end", iso(T0 + 2 * HOUR_MS))
    code, out = run(capsys, "verify", "--config", str(config), *window)
    assert code == 0, out
    # per link: a figure of the fiber weighs the fiber's samples
    assert "uplink.availability link=fiber     uplink             120 of       120  100.00 %" in out
    assert "wifi.service                       wifi               120 of       120  100.00 %" in out
    assert "wifi.service ap=nha-van-hoa        wifi               120 of       120  100.00 %" in out
    assert f"keys: {GATEWAY} {grouped(gw.fingerprint)}" in out and "faults: 0" in out
    forged = Point(
        "uplink", {**SITE, "link": "fiber"}, {"up": 1, "up_s": 60.0, "observed_s": 60.0}, T0 + 1234
    )
    influx.write(encode_line(forged))
    code, out = run(capsys, "verify", "--config", str(config), *window)
    assert code == 1
    assert f"unsigned           {GATEWAY}  {iso(T0 + 1234)} .. {iso(T0 + 1234)} [uplink]" in out
    assert "120 of       121  99.17 %" in out


def test_verify_weighs_the_days_point_a_daily_figure_reads(influx, tmp_path, capsys) -> None:
    # Wi-Fi users per day read the first day's point, stamped at its local midnight, before a window that opens
    # later that day: the command weighs it as the criteria service's verdict does (a forged one there made the
    # verdict unverified while the command said "no samples" and exited 0)
    config = _config(tmp_path, influx)
    start = T0 + 30 * 60_000  # half past: never a local midnight in Vietnam
    midnight = local_day_start(start, ZoneInfo("Asia/Ho_Chi_Minh"))
    gw = Gateway()
    register(Registry(tmp_path / "keys.sqlite"), gw, valid_from_ms=midnight - HOUR_MS)
    day = Point("wifi_daily", {**SITE, "ap": "nha-van-hoa"}, {"unique_users": 42, "sessions": 50}, midnight)
    influx.write(gw.sign([*uplink_points(T0, 2), day]))
    window = ("--village", VILLAGE, "--start", iso(start), "--end", iso(T0 + 2 * HOUR_MS))
    code, out = run(capsys, "verify", "--config", str(config), *window)
    assert code == 0, out
    assert (
        f"wifi.daily_users                   wifi_daily           1 of         1  100.00 %  from {iso(midnight)}"
        in out
    )
    influx.write(encode_line(Point(day.measurement, day.tags, {**day.fields, "unique_users": 420}, midnight)))
    code, out = run(capsys, "verify", "--config", str(config), *window)
    assert code == 1, out
    assert "wifi.daily_users                   wifi_daily           0 of         1  0.00 %" in out
    assert f"altered            {GATEWAY}  {iso(midnight)} .. {iso(midnight)} [wifi_daily]" in out


def test_verify_without_a_registry_or_with_a_bad_window_exits_2(influx, tmp_path, capsys) -> None:
    code, out = run(
        capsys,
        "verify",
        "--config",
        str(_config(tmp_path, influx, registry=False)),
        "--village",
        VILLAGE,
        "--start",
        "-1d",
    )
    assert code == 2 and "no key registry" in out
    code, out = run(
        capsys,
        "verify",
        "--config",
        str(_config(tmp_path, influx)),
        "--village",
        VILLAGE,
        "--start",
        "yesterday",
    )
    assert code == 2 and "start: 'yesterday' is not an ISO 8601 time" in out


def test_verify_with_a_registry_that_is_no_database_exits_2_naming_it(influx, tmp_path, capsys) -> None:
    config = _config(tmp_path, influx)
    (tmp_path / "keys.sqlite").write_bytes(b"not a database " * 100)
    code, out = run(capsys, "verify", "--config", str(config), "--village", VILLAGE, "--start", "-1d")
    assert code == 2 and f"key registry {tmp_path / 'keys.sqlite'}: file is not a database" in out


def test_verify_that_fails_on_the_data_exits_1_naming_it(
    influx, tmp_path, capsys, caplog, monkeypatch
) -> None:
    """A fault of the verifier on the village's data is a fault the command names, exit 1, with the traceback
    in its log: the service's own answer for that village (before: the command died with the traceback only)."""
    config = _config(tmp_path, influx)
    gw = Gateway()
    register(Registry(tmp_path / "keys.sqlite"), gw)
    influx.write(gw.sign(uplink_points(T0, 2)))

    def failing(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise RuntimeError("a fault of the verifier")

    monkeypatch.setattr(source, "verify_hour", failing)
    window = ("--village", VILLAGE, "--start", iso(T0), "--end", iso(T0 + 2 * HOUR_MS))
    code, out = run(capsys, "verify", "--config", str(config), *window)
    assert code == 1, out
    assert "verification_failed" in out, out
    assert "RuntimeError: a fault of the verifier" in caplog.text


def test_verify_weighs_the_manual_indicators_the_service_signed(served, influx, tmp_path, capsys) -> None:
    # an altered e-ID share made the verdict unverified while the command, which weighed the gateways' samples
    # alone, exited 0
    config = _config(tmp_path, influx)
    gw = Gateway()
    register(Registry(tmp_path / "keys.sqlite"), gw)
    influx.write(gw.sign(uplink_points(T0, 2)))
    entered = httpx.put(
        f"{served}/api/v1/villages/{VILLAGE}/indicators/eid_adoption_pct",
        json={"value": 31.5, "time": iso(T0 + HOUR_MS)},
        headers={"X-API-Key": ADMIN_KEY},
    )
    assert entered.status_code == 200, entered.text
    window = ("--village", VILLAGE, "--start", iso(T0), "--end", iso(T0 + 2 * HOUR_MS))
    code, out = run(capsys, "verify", "--config", str(config), *window)
    assert code == 0, out
    assert "indicator.value indicator=eid_adoption_pct indicator            1 of         1  100.00 %" in out
    assert "keys: gw-kly " in out and "manual " in out
    tags = {**SITE, "gateway": "manual", "indicator": "eid_adoption_pct"}
    influx.write(encode_line(Point("indicator", tags, {"value": 80.0}, T0 + HOUR_MS)))
    code, out = run(capsys, "verify", "--config", str(config), *window)
    assert code == 1, out
    assert f"altered            manual  {iso(T0 + HOUR_MS)} .. {iso(T0 + HOUR_MS)} [indicator]" in out


def test_verify_names_a_manual_indicator_entry_deleted_from_the_record(
    served, influx, tmp_path, capsys
) -> None:
    config = _config(tmp_path, influx)
    gw = Gateway()
    register(Registry(tmp_path / "keys.sqlite"), gw)
    influx.write(gw.sign(uplink_points(T0, 2)))
    window = ("--village", VILLAGE, "--start", iso(T0), "--end", iso(T0 + 2 * HOUR_MS))
    for value in (31.5, 20.0):
        entered = httpx.put(
            f"{served}/api/v1/villages/{VILLAGE}/indicators/eid_adoption_pct",
            json={"value": value, "time": iso(T0 + HOUR_MS)},
            headers={"X-API-Key": ADMIN_KEY},
        )
        assert entered.status_code == 200, entered.text
    assert run(capsys, "verify", "--config", str(config), *window)[0] == 0
    last_ms = int(datetime.fromisoformat(entered.json()["entered"].replace("Z", "+00:00")).timestamp() * 1000)
    influx.query(f"DELETE FROM indicator_entry WHERE time >= {last_ms}ms AND time <= {last_ms}ms")
    code, out = run(capsys, "verify", "--config", str(config), *window)
    assert code == 1 and "deleted_entry      manual" in out, out
