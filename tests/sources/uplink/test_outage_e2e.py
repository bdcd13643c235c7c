"""End to end: the real agent probes two uplinks while the fiber goes down on a schedule; InfluxDB has it right.

Fiber's target (127.0.0.2) is switched off twice while 4G's (127.0.0.3) stays up. The outages read back from
``uplink_event`` match the schedule to within one probe interval, each event sits between the last sample
that saw the old state and the first that saw the new one, 4G shows no outage, and the samples' ``up_s``
account for the same downtime. The 4G modem (an emulator on a pty) is read by the same agent.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from edge.agent import Agent
from edge.config import gateway_config_model
from lab.simulate.modem_emulator import ModemEmulator
from lab.simulate.targets import Outage, OutageSchedule, TcpTarget
from thonminh.influx import InfluxClient

INTERVAL = 0.5
OUTAGES = [Outage(1.6, 3.6), Outage(5.1, 6.9)]
SLACK_S = 0.25  # event-loop lateness on a loaded two-core machine


def link(name: str, port: int, host: str) -> dict:
    return {
        "link": name,
        "interface": "lo",
        "interval_s": INTERVAL,
        "timeout_s": 0.3,
        "down_after": 2,
        "up_after": 2,
        "targets": [{"kind": "tcp", "host": host, "port": port}],
    }


async def test_scheduled_fiber_outages_are_recorded_exactly(tmp_path: Path, influx: InfluxClient):
    with (
        TcpTarget("127.0.0.2") as fiber,
        TcpTarget("127.0.0.3") as lte,
        ModemEmulator("quectel", link_dir=tmp_path / "by-id") as modem,
    ):
        config = gateway_config_model().model_validate(
            {
                "site": {
                    "village": "kha-ly-thuong",
                    "gateway": "gw1",
                    "latitude": 21.38,
                    "longitude": 106.57,
                },
                "influxdb": {"url": influx.url, "database": influx.database, "timeout_s": 5.0},
                "buffer": {"path": str(tmp_path / "buffer.sqlite"), "commit_interval_ms": 20},
                "forwarder": {
                    "backoff_initial_s": 0.05,
                    "backoff_max_s": 0.5,
                    "flush_deadline_s": 5.0,
                    "live_interval_s": 0.05,
                },
                "clock": {"check": "always"},
                "state_dir": str(tmp_path / "state"),
                "sources": {
                    "gateway": {"enabled": False},
                    "uplink": [link("fiber", fiber.port, "127.0.0.2"), link("4g", lte.port, "127.0.0.3")],
                    "modem": {"port": modem.path, "interval_s": 1.0, "command_timeout_s": 0.5, "id": "ec25"},
                },
            }
        )
        agent = Agent(config)
        stop = asyncio.Event()
        run = asyncio.create_task(agent.run(stop))
        await asyncio.wait_for(agent.started.wait(), 30)
        schedule = OutageSchedule([fiber], OUTAGES)
        schedule.start()
        await asyncio.get_running_loop().run_in_executor(None, schedule.wait, 30)
        await asyncio.sleep(4 * INTERVAL)  # the last recovery needs up_after good cycles
        stop.set()
        await asyncio.wait_for(run, 30)

    events = influx.select("SELECT state, reason, previous_state_s FROM uplink_event GROUP BY link").rows()
    fiber_events = [(e["time"], e["state"]) for e in events if e["link"] == "fiber"]
    lte_events = [(e["time"], e["state"]) for e in events if e["link"] == "4g"]
    assert [s for _, s in fiber_events] == ["up", "down", "up", "down", "up"], events
    assert [s for _, s in lte_events] == ["up"]  # the start event only: 4G never went down
    switches = schedule.actual  # (state, wall ms, monotonic) of each real switch
    assert [s for s, _, _ in switches] == ["down", "up", "down", "up"]

    samples = influx.select("SELECT up, up_s, observed_s FROM uplink WHERE link = 'fiber'").rows()
    for (event_ms, state), (switch_state, switch_ms, _) in zip(fiber_events[1:], switches, strict=True):
        assert state == switch_state
        # recorded within one probe interval of the real switch (never before it, but for the probe's own delay)
        assert -150 <= event_ms - switch_ms <= (INTERVAL + SLACK_S) * 1000, (state, event_ms - switch_ms)
        # and exactly at the first sample that saw the new state, right after the last one that saw the old
        before = [s for s in samples if s["time"] < event_ms]
        at = [s for s in samples if s["time"] == event_ms]
        assert at and at[0]["up"] == (state == "up") and before[-1]["up"] == (state == "down")

    recorded = [(fiber_events[i][0], fiber_events[i + 1][0]) for i in (1, 3)]
    for (down_ms, up_ms), outage in zip(recorded, OUTAGES, strict=True):
        assert abs((up_ms - down_ms) / 1000 - (outage.end_s - outage.start_s)) <= INTERVAL + SLACK_S
    downtime = sum(s["observed_s"] - s["up_s"] for s in samples)
    planned = sum(o.end_s - o.start_s for o in OUTAGES)
    assert abs(downtime - planned) <= 2 * INTERVAL + SLACK_S

    [radio] = influx.select("SELECT LAST(*) FROM modem WHERE modem = 'ec25' AND link = '4g'").rows()
    assert (radio["last_registered"], radio["last_reg_state"], radio["last_operator"]) == (
        1,
        "home",
        "Viettel",
    )
    assert (radio["last_rsrp_dbm"], radio["last_sinr_db"], radio["last_sim"]) == (-95.0, 12.0, "ready")
