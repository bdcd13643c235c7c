"""Unique users and sessions per local day, from salted hashes of MAC addresses.

A user is ``HMAC-SHA256(salt, mac)`` cut to 64 bits. The salt is random, made at the first poll of each
local day and kept only in this process and in one state file (mode 0600), which holds the day, the salt,
the day's hashes, the sessions so far and the hashes of the stations present at the last poll; never an
address. When the day changes the salt is replaced and the old one is gone, so hashes of two days cannot be
linked, by us or by anyone who takes the gateway.

The state file is written at every poll that changed it to a copy in RAM (``ram_path``: tmpfs, in the
buffer's intake directory, 0700), which survives the agent (a crash, SIGKILL) but not a reboot, and stored
on the SD card (``<state_dir>/wifi-users.json``, fsynced) at most every ``SYNC_INTERVAL_S``, at once when
the day (and so the salt) changes, at the first poll after a start and when the source closes. Written at
every poll, the SD card's copy cost ~11 MB a day of flash writes (docs/pipeline.md, "Flash writes"). So an
agent crash loses nothing; a power cut loses at most the last ``SYNC_INTERVAL_S`` of the day's counting
(users and sessions first seen then; the stations present are as of that store). A start prefers the RAM
copy (always at least as new) and falls back to the SD card's after a reboot. A clean stop leaves nothing in
RAM.

A session is an association that began this day: a station not present at the previous poll, or one
whose connected time says it re-associated since. One that spans midnight counts on the day it began.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import os
import secrets
import time as clock
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from edge.bufferschema import intake_path
from edge.filemodes import own_private_dir

__all__ = ["SYNC_INTERVAL_S", "DailyUsers", "DayCounts", "Sighting", "local_midnight_ms", "ram_path"]

STATE_FILE = "wifi-users.json"
#: The SD card's copy of the day's counts is at most this old (seconds): what a power cut can lose.
SYNC_INTERVAL_S = 900.0


def ram_path(path: Path) -> Path:
    """Where the RAM copy of the state file ``path`` lives: the buffer's intake directory on tmpfs, by the
    intake's own rule (``intake_path``; a source is given no buffer settings, so a configured
    ``buffer.intake_dir`` is not seen and the default ``/dev/shm/thonminh-<uid>`` is used), named after
    ``path`` so two sources or agents never share one."""
    intake = intake_path(path)
    return intake.with_name(f"{path.stem}-{intake.stem.removeprefix('intake-')}.json")


@dataclass(frozen=True, slots=True)
class Sighting:
    """One station at one poll: its address (used here, then forgotten) and connected time if known."""

    mac: str
    connected_s: int | None = None

    def __repr__(self) -> str:
        return f"Sighting(connected_s={self.connected_s})"


@dataclass(frozen=True, slots=True)
class DayCounts:
    day: date
    #: UTC milliseconds of the local midnight that starts ``day``: the time of the ``wifi_daily`` point.
    time_ms: int
    unique_users: int
    sessions: int


def local_midnight_ms(day: date, tz: ZoneInfo) -> int:
    return int(datetime.combine(day, time(0), tzinfo=tz).timestamp() * 1000)


class DailyUsers:
    """The day's users and sessions; restarts the same day resume from the state file.

    ``ram`` is the RAM copy's path (see the module docstring); None stores every change on the SD card.
    ``monotonic`` times ``sync_interval_s``."""

    def __init__(
        self,
        state_dir: Path,
        tz: ZoneInfo,
        *,
        ram: Path | None = None,
        sync_interval_s: float = SYNC_INTERVAL_S,
        monotonic: Callable[[], float] = clock.monotonic,
    ) -> None:
        self.tz = tz
        self.path = Path(state_dir) / STATE_FILE
        self.ram = ram
        self.sync_interval_s = sync_interval_s if ram is not None else 0.0
        self.monotonic = monotonic
        self.day: date | None = None
        self._salt = b""
        self._users: set[str] = set()
        self._present: set[str] = set()
        self.sessions = 0
        #: What each copy holds now (None: unknown, so the next change writes it) and when the SD card's was stored.
        self._in_ram: str | None = None
        self._stored: str | None = None
        self._stored_day: date | None = None
        self._stored_at: float | None = None
        self._load()

    # -- persistence ------------------------------------------------------------------------------------------

    def _load(self) -> None:
        # the RAM copy, when there is one, is never older than the SD card's (that one is a copy of it)
        data = (self._read(self.ram) if self.ram is not None else None) or self._read(self.path)
        if data is None:
            return
        try:
            day, salt = date.fromisoformat(data["day"]), bytes.fromhex(data["salt"])
            users, present, sessions = set(data["users"]), set(data["present"]), int(data["sessions"])
        except (ValueError, KeyError, TypeError):
            return  # a damaged file only costs the day's counts so far; start the day afresh
        self.day, self._salt, self._users, self._present, self.sessions = day, salt, users, present, sessions

    @staticmethod
    def _read(path: Path) -> Any:
        try:
            return json.loads(path.read_text())
        except (OSError, ValueError):
            return None

    def _save(self) -> None:
        assert self.day is not None
        data = json.dumps(
            {
                "day": self.day.isoformat(),
                "salt": self._salt.hex(),
                "users": sorted(self._users),
                "present": sorted(self._present),
                "sessions": self.sessions,
            }
        )
        if self.ram is not None and data != self._in_ram:
            own_private_dir(self.ram.parent)  # tmpfs is open to every user: the directory must be ours, 0700
            _replace(self.ram, data, fsync=False)  # RAM: nothing to sync, and it survives the agent
            self._in_ram = data
        now = self.monotonic()
        due = (
            self._stored_at is None
            or self.day != self._stored_day  # a start; a new day's salt at once
            or now - self._stored_at >= self.sync_interval_s
        )
        if due and data != self._stored:
            self._store(data, now)

    def _store(self, data: str, now: float) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        _replace(self.path, data, fsync=True)
        self._stored, self._stored_day, self._stored_at = data, self.day, now

    def close(self) -> None:
        """Store the day's counts on the SD card and remove the RAM copy (a clean stop leaves nothing in RAM);
        if storing fails the RAM copy stays for the next start of this boot."""
        if self.day is None:
            return
        data = self._in_ram if self._in_ram is not None else self._stored
        if data is not None and data != self._stored:
            self._store(data, self.monotonic())
        if self.ram is not None:
            self.ram.unlink(missing_ok=True)
            self._in_ram = None

    # -- counting ---------------------------------------------------------------------------------------------

    def _hash(self, salt: bytes, mac: str) -> str:
        return hmac.new(salt, mac.encode(), hashlib.sha256).hexdigest()[:16]

    def today(self, now_ms: int) -> date:
        return datetime.fromtimestamp(now_ms / 1000, tz=UTC).astimezone(self.tz).date()

    def counts(self) -> DayCounts | None:
        if self.day is None:
            return None
        return DayCounts(self.day, local_midnight_ms(self.day, self.tz), len(self._users), self.sessions)

    def observe(self, sightings: Iterable[Sighting], now_ms: int, since_last_s: float | None) -> DayCounts:
        """Count this poll's stations; ``since_last_s`` is the time since the previous poll, if any."""
        day = self.today(now_ms)
        previous_salt, previous_present = self._salt, self._present
        if day != self.day:
            self.day, self._salt = day, secrets.token_bytes(32)
            self._users, self.sessions = set(), 0
        present = set()
        for s in sightings:
            digest = self._hash(self._salt, s.mac)
            was_here = bool(previous_salt) and self._hash(previous_salt, s.mac) in previous_present
            rejoined = s.connected_s is not None and since_last_s is not None and s.connected_s < since_last_s
            if not was_here or rejoined:
                self.sessions += 1
            self._users.add(digest)
            present.add(digest)
        self._present = present
        self._save()
        counts = self.counts()
        assert counts is not None
        return counts


def _replace(path: Path, data: str, *, fsync: bool) -> None:
    """Replace ``path`` by ``data`` atomically (temp file, rename), mode 0600."""
    tmp = path.with_name(path.name + ".tmp")
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(data)
        if fsync:
            f.flush()
            os.fsync(f.fileno())
    os.replace(tmp, path)
