"""Unique users and sessions per local day, from salted hashes of MAC addresses.

A user is ``HMAC-SHA256(salt, mac)`` cut to 64 bits. The salt is random, made at the first poll of each
local day and kept only in this process and in one state file (mode 0600) under the source's state
directory, which holds the day, the salt, the day's hashes, the sessions so far and the hashes of the
stations present at the last poll; never an address. When the day changes the salt is replaced and the
old one is gone, so hashes of two days cannot be linked, by us or by anyone who takes the gateway.

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
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

__all__ = ["DailyUsers", "DayCounts", "Sighting", "local_midnight_ms"]

STATE_FILE = "wifi-users.json"


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
    """The day's users and sessions; restarts the same day resume from the state file."""

    def __init__(self, state_dir: Path, tz: ZoneInfo) -> None:
        self.tz = tz
        self.path = Path(state_dir) / STATE_FILE
        self.day: date | None = None
        self._salt = b""
        self._users: set[str] = set()
        self._present: set[str] = set()
        self.sessions = 0
        self._load()

    # -- persistence ------------------------------------------------------------------------------------------

    def _load(self) -> None:
        try:
            data = json.loads(self.path.read_text())
            self.day = date.fromisoformat(data["day"])
            self._salt = bytes.fromhex(data["salt"])
            self._users = set(data["users"])
            self._present = set(data["present"])
            self.sessions = int(data["sessions"])
        except FileNotFoundError:
            return
        except (OSError, ValueError, KeyError, TypeError):
            # A damaged file only costs the day's counts so far; start the day afresh.
            self.day, self._salt, self._users, self._present, self.sessions = None, b"", set(), set(), 0

    def _save(self) -> None:
        assert self.day is not None
        data = {"day": self.day.isoformat(), "salt": self._salt.hex(), "users": sorted(self._users),
                "present": sorted(self._present), "sessions": self.sessions}
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = self.path.with_name(self.path.name + ".tmp")
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(data, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path)

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
