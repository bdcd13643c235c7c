"""Unique users and sessions per local day; the salt rotates at local midnight and stays private."""

from __future__ import annotations

import json
import stat
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from edge.sources.wifi.users import STATE_FILE, DailyUsers, Sighting

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
A, B, C = "a8:96:75:f0:3b:c4", "0e:ed:c0:e3:59:0e", "8c:be:be:f5:8f:59"


def ms(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=TZ).timestamp() * 1000)


def see(*macs: str, conn: int | None = None) -> list[Sighting]:
    return [Sighting(m, conn) for m in macs]


def test_users_and_sessions_in_a_day(tmp_path: Path):
    u = DailyUsers(tmp_path, TZ)
    c = u.observe(see(A, B), ms("2024-06-03T08:00"), None)
    assert (c.unique_users, c.sessions) == (2, 2)
    assert c.time_ms == ms("2024-06-03T00:00")  # local midnight = 17:00 UTC the day before
    assert datetime.fromtimestamp(c.time_ms / 1000, TZ).hour == 0
    c = u.observe(see(A, B), ms("2024-06-03T08:01"), 60)
    assert (c.unique_users, c.sessions) == (2, 2)  # same sessions go on
    c = u.observe(see(A), ms("2024-06-03T08:02"), 60)
    c = u.observe(see(A, B), ms("2024-06-03T08:03"), 60)
    assert (c.unique_users, c.sessions) == (2, 3)  # B came back: a new session, the same user
    c = u.observe(see(A, B, C, conn=5), ms("2024-06-03T08:04"), 60)
    assert (c.unique_users, c.sessions) == (3, 6)  # A and B re-associated within the interval, C is new


def test_restart_the_same_day_resumes(tmp_path: Path):
    u = DailyUsers(tmp_path, TZ)
    u.observe(see(A, B), ms("2024-06-03T08:00"), None)
    again = DailyUsers(tmp_path, TZ)
    c = again.observe(see(A, B, conn=4000), ms("2024-06-03T09:00"), None)
    assert (c.unique_users, c.sessions) == (2, 2)  # neither reset nor double-counted


def test_midnight_rotates_the_salt_and_starts_a_new_day(tmp_path: Path):
    u = DailyUsers(tmp_path, TZ)
    u.observe(see(A, B), ms("2024-06-03T23:59"), None)
    before = json.loads((tmp_path / STATE_FILE).read_text())
    c = u.observe(see(A), ms("2024-06-04T00:00:30"), 60)
    after = json.loads((tmp_path / STATE_FILE).read_text())
    assert c.time_ms == ms("2024-06-04T00:00")
    assert (c.unique_users, c.sessions) == (1, 0)  # A's session began yesterday
    assert before["salt"] != after["salt"]
    assert not set(before["users"]) & set(after["users"])  # days cannot be linked
    c = u.observe(see(A, B), ms("2024-06-04T00:01:30"), 60)
    assert (c.unique_users, c.sessions) == (2, 1)


def test_state_file_is_private_and_holds_no_address(tmp_path: Path):
    u = DailyUsers(tmp_path / "state", TZ)
    u.observe(see(A, B, C), ms("2024-06-03T08:00"), None)
    path = tmp_path / "state" / STATE_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    text = path.read_text().lower()
    for mac in (A, B, C):
        for form in (mac, mac.replace(":", ""), mac.replace(":", "-")):
            assert form not in text
    assert "Sighting(connected_s=None)" == repr(Sighting(A))


def test_damaged_state_file_starts_the_day_afresh(tmp_path: Path):
    (tmp_path / STATE_FILE).write_text("{not json")
    c = DailyUsers(tmp_path, TZ).observe(see(A), ms("2024-06-03T08:00"), None)
    assert (c.unique_users, c.sessions) == (1, 1)


def test_with_a_ram_copy_the_new_day_and_its_salt_reach_the_sd_card_at_once(tmp_path: Path):
    mono = [0.0]
    ram = tmp_path / "shm" / "thonminh-test" / "wifi-users-x.json"
    u = DailyUsers(tmp_path / "state", TZ, ram=ram, monotonic=lambda: mono[0])
    u.observe(see(A), ms("2024-06-03T23:58"), None)
    mono[0] += 60
    u.observe(see(A, B), ms("2024-06-03T23:59"), 60)
    stored = tmp_path / "state" / STATE_FILE
    assert len(json.loads(stored.read_text())["users"]) == 1  # a minute's change stays in RAM
    mono[0] += 60
    u.observe(see(A), ms("2024-06-04T00:00:30"), 60)
    on_card, in_ram = json.loads(stored.read_text()), json.loads(ram.read_text())
    assert on_card == in_ram and on_card["day"] == "2024-06-04"  # yesterday's salt is gone from the card too
    assert stat.S_IMODE(ram.stat().st_mode) == 0o600 and stat.S_IMODE(ram.parent.stat().st_mode) == 0o700
