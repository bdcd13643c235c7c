"""A small, fast village for the simulator tests (the demo's shape, compressed to about fifteen seconds)."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "lab" / "simulate" / "scenarios" / "demo.toml"

#: Six lights of both firmwares; a night that ends at 9 s; a lamp failure, a day-burner, an offline light;
#: two fiber outages; a modem whose signal drops; visitors every couple of seconds.
SMALL = """
name = "test village"
seed = 11
duration_s = 15
speed = 600

[site]
village = "kha-ly-thuong"
gateway = "klt-sim"
latitude = 21.38
longitude = 106.57

[lights]
count = 6
formats = { tasmota = 0.5, esphome = 0.5 }
zones = ["xom-dinh", "xom-chua"]
report_period_s = 1
interval_s = 1
night = { start_s = -600, end_s = 9 }

[[lights.faults]]
light = "klt-002"
kind = "lamp_failure"
start_s = 4

[[lights.faults]]
light = "klt-003"
kind = "offline"
start_s = 6

[[lights.faults]]
light = "klt-005"
kind = "day_burning"

[uplinks]
interval_s = 0.5
timeout_s = 0.3
down_after = 2
up_after = 2

[[uplinks.links]]
link = "fiber"
host = "127.0.0.2"
outages = [{ start_s = 4, end_s = 7 }, { start_s = 9.5, end_s = 11.5 }]

[[uplinks.links]]
link = "4g"
host = "127.0.0.3"
targets = ["tcp", "dns"]

[modem]
interval_s = 1
jitter_db = 0
signal = [{ at_s = 0, rsrp_dbm = -92 }, { at_s = 5, rsrp_dbm = -115, sinr_db = 0 }]

[ap]
interval_s = 1.5
timeout_s = 1.2
devices = 12
randomised_share = 0.5
initial_clients = 2
arrivals_per_hour = 3
stay_min_s = 3000
stay_max_s = 4800

[indicators]
eid_adoption_pct = 31.5
"""


@pytest.fixture
def small_scenario(tmp_path: Path) -> Path:
    path = tmp_path / "small.toml"
    path.write_text(SMALL)
    return path
