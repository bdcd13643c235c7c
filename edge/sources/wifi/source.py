"""The public Wi-Fi source: is the cultural house's access point up, and how is it used, privacy first.

Each poll asks the configured back end for the station list and writes one ``wifi`` interval sample and
the running ``wifi_daily`` counts. The rule for a poll that goes wrong (see README.md):

* **down** (``ap_up=0``, ``up_s=0``): the AP's management plane answered that the BSS is off (ubus has no
  ``hostapd.<iface>``, hostapd says DISABLED, iw shows no AP interface or no SSID);
* **unknown** (no ``wifi`` sample, so the interval is not observed): no usable answer (command missing,
  timeout, SSH or HTTP failure, login refused, garbage or cut-short output), unless
  ``unreachable_as_down`` says to count it as down.

MAC addresses are used in memory to hash and to track counters, and never leave this module.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from edge.sources.base import PolledSource, SourceContext
from edge.sources.wifi.backends import (
    ApAbsent,
    Backend,
    BackendError,
    HostapdCliBackend,
    IwBackend,
    RawReading,
    UbusBackend,
)
from edge.sources.wifi.config import WifiConfig
from edge.sources.wifi.counters import ByteCounters, Reading
from edge.sources.wifi.hours import open_seconds
from edge.sources.wifi.parsers import (
    ParseError,
    Station,
    parse_dnsmasq_leases,
    parse_hostapd_all_sta,
    parse_hostapd_status,
    parse_iw_info,
    parse_iw_station_dump,
    parse_ubus_clients,
    redact,
)
from edge.sources.wifi.ubushttp import UbusHttpBackend
from edge.sources.wifi.users import STATE_FILE, DailyUsers, Sighting, ram_path
from thonminh.contract import WIFI, WIFI_DAILY, FieldValue, Measurement, Point
from thonminh.logs import Episode

__all__ = ["SOURCE", "Snapshot", "WifiSource", "interpret"]

#: Fields proposed for the contract; written only once ``thonminh.contract.WIFI`` declares them.
OPTIONAL_FIELDS = ("open_s", "up_open_s", "dhcp_leases")


def make_backend(config: WifiConfig) -> Backend:
    """The back end ``config.backend`` names (here, not in ``backends``: ``ubushttp`` builds on that module)."""
    if config.backend in ("ubus", "ubus_ssh"):
        return UbusBackend(config)
    if config.backend == "ubus_http":
        return UbusHttpBackend(config)
    if config.backend == "hostapd_cli":
        return HostapdCliBackend(config)
    return IwBackend(config)


@dataclass(frozen=True, slots=True)
class Snapshot:
    up: bool
    stations: tuple[Station, ...]
    reason: str

    def __repr__(self) -> str:
        return f"Snapshot(up={self.up}, clients={len(self.stations)}, reason={self.reason!r})"


def interpret(raw: RawReading) -> Snapshot:
    """What a back end's raw answer says: up or down, and who is associated. ``ParseError`` on garbage."""
    if raw.format == "ubus":
        # The hostapd.<iface> object exists only while hostapd runs that BSS, so an answer means up.
        return Snapshot(True, tuple(parse_ubus_clients(raw.stations_text)), "get_clients answered")
    if raw.format == "hostapd_cli":
        status = parse_hostapd_status(raw.status_text or "")
        stations = parse_hostapd_all_sta(raw.stations_text) if status.up else []
    else:
        status = parse_iw_info(raw.status_text or "")
        stations = parse_iw_station_dump(raw.stations_text) if status.up else []
    return Snapshot(status.up, tuple(stations), status.reason)


def _fields(m: Measurement, values: dict[str, FieldValue | None]) -> dict[str, FieldValue]:
    """``values`` without the Nones, each name checked against the contract."""
    unknown = set(values) - set(m.fields)
    if unknown:
        raise KeyError(f"{m.name} has no field(s) {sorted(unknown)}")
    return {k: v for k, v in values.items() if v is not None}


class WifiSource(PolledSource):
    """One access point; see the module docstring for what a poll writes."""

    kind = "wifi"
    Config = WifiConfig
    config: WifiConfig

    def __init__(self, config: WifiConfig, ctx: SourceContext) -> None:
        super().__init__(config, ctx)
        self.tags = {WIFI.tags[0]: config.ap}
        self.tz = ZoneInfo(ctx.timezone)
        self.backend: Backend = make_backend(config)
        self.counters = ByteCounters()
        self.users: DailyUsers | None = None
        # Counters are keyed by an HMAC under a key that lives only as long as this process.
        self._key = secrets.token_bytes(16)
        self._last_poll: float | None = None
        what = {"ap": config.ap, "backend": config.backend}
        self._unknown = Episode(self.log, f"wifi {config.ap}: no usable answer from the access point", **what)
        self._down = Episode(self.log, f"wifi {config.ap}: access point down", **what)
        self._leases = Episode(self.log, f"wifi {config.ap}: DHCP leases unreadable", **what)
        self._optional = {name for name in OPTIONAL_FIELDS if name in WIFI.fields}

    async def init(self) -> None:
        # The salt lives here: only the gateway's service user may read it.
        self.ctx.state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.ctx.state_dir.chmod(0o700)
        self.users = DailyUsers(
            self.ctx.state_dir,
            self.tz,
            ram=ram_path(self.ctx.state_dir / STATE_FILE),
            monotonic=self.ctx.monotonic,
        )

    async def close(self) -> None:
        if self.users is not None:
            self.users.close()  # the day's counts on the SD card: the next start may follow a reboot
        await self.backend.close()

    # -- one poll ---------------------------------------------------------------------------------------------

    def _observed(self, since: float | None) -> float:
        if since is None:
            return 0.0  # the first poll knows nothing of the time before it
        # After a long stall (suspended machine, blocked loop) claim one interval, not the whole gap.
        return since if since <= 2 * self.config.interval_s else self.config.interval_s

    async def sample(self) -> Sequence[Point]:
        if self.users is None:
            await self.init()
        now = self.ctx.monotonic()
        now_ms = self.ctx.now_ms()
        since = None if self._last_poll is None else max(0.0, now - self._last_poll)
        self._last_poll = now
        observed = self._observed(since)
        deadline = max(self.config.timeout_s, 0.9 * self.config.interval_s)
        raw: RawReading | None = None
        try:
            raw = await asyncio.wait_for(self.backend.read(), deadline)
            snapshot = interpret(raw)
        except ApAbsent as absent:
            snapshot = Snapshot(False, (), str(absent))
        except BackendError as err:
            if err.sample is not None:
                self.ctx.reject(f"wifi {self.config.ap}: {err}", err.sample)
            return self._unknown_poll(str(err), observed, now_ms)
        except TimeoutError:
            return self._unknown_poll(f"no answer within {deadline:g} s", observed, now_ms)
        except ParseError as err:
            assert raw is not None
            self.ctx.reject(
                f"wifi {self.config.ap}: {raw.format} output: {err}",
                redact((raw.status_text or "") + raw.stations_text),
            )
            return self._unknown_poll(f"unreadable {raw.format} output: {err}", observed, now_ms)
        self._unknown.ok()
        if snapshot.up:
            self._down.ok()
        else:
            self._down.problem(snapshot.reason)
        self.ctx.health(
            "ok" if snapshot.up else "down",
            {"clients": len(snapshot.stations), "reason": None if snapshot.up else snapshot.reason},
        )
        return self._points(snapshot, raw, observed, since, now_ms)

    def _unknown_poll(self, reason: str, observed: float, now_ms: int) -> list[Point]:
        self._unknown.problem(reason)
        self.ctx.health("unknown", {"reason": reason})
        self.counters.invalidate()
        if not self.config.unreachable_as_down:
            return []
        return [self._wifi_point(False, 0, 0, 0, observed, now_ms, None)]

    def _points(
        self, snapshot: Snapshot, raw: RawReading | None, observed: float, since: float | None, now_ms: int
    ) -> list[Point]:
        assert self.users is not None
        readings = [
            Reading(
                hmac.new(self._key, s.mac.encode(), hashlib.sha256).digest(),
                s.rx_bytes,
                s.tx_bytes,
                s.connected_s,
            )
            for s in snapshot.stations
        ]
        rx, tx = self.counters.update(readings, observed)
        leases = self._count_leases(raw, now_ms) if raw is not None else None
        wifi = self._wifi_point(snapshot.up, len(snapshot.stations), rx, tx, observed, now_ms, leases)
        if not self.ctx.clock_synced():
            # An unsynchronised clock names the wrong day: counting now would rotate the salt and
            # restart the day's count, and the pipeline cannot correct a midnight timestamp. Wait.
            return [wifi]
        counts = self.users.observe(
            (Sighting(s.mac, s.connected_s) for s in snapshot.stations), now_ms, since
        )
        daily = self.ctx.point(
            WIFI_DAILY.name,
            self.tags,
            _fields(WIFI_DAILY, {"unique_users": counts.unique_users, "sessions": counts.sessions}),
            counts.time_ms,
        )
        return [wifi, daily]

    def _wifi_point(
        self, up: bool, clients: int, rx: int, tx: int, observed: float, now_ms: int, leases: int | None
    ) -> Point:
        values: dict[str, FieldValue | None] = {
            "ap_up": int(up),
            "up_s": observed if up else 0.0,
            "observed_s": observed,
            "clients": clients,
            "rx_bytes": rx,
            "tx_bytes": tx,
        }
        if self.config.opening_hours and {"open_s", "up_open_s"} <= self._optional:
            end_s = now_ms / 1000
            open_s = min(observed, open_seconds(self.config.opening_hours, end_s - observed, end_s, self.tz))
            values["open_s"] = open_s
            values["up_open_s"] = open_s if up else 0.0
        if "dhcp_leases" in self._optional:
            values["dhcp_leases"] = leases
        return self.ctx.point(WIFI.name, self.tags, _fields(WIFI, values), now_ms)

    def _count_leases(self, raw: RawReading, now_ms: int) -> int | None:
        if self.config.leases_file is None:
            return None
        if raw.leases_text is None:
            self._leases.problem(raw.leases_error or "not read", level=logging.INFO)
            return None
        try:
            count = parse_dnsmasq_leases(raw.leases_text, now_ms / 1000)
        except ParseError as err:
            self.ctx.reject(f"wifi {self.config.ap}: leases: {err}", redact(raw.leases_text))
            self._leases.problem(str(err), level=logging.INFO)
            return None
        self._leases.ok()
        return count.active


SOURCE = WifiSource
