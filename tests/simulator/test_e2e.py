"""End to end, accelerated: the simulated village, the real agent, a real Mosquitto and a real InfluxDB.

What the gateway wrote must match what the simulator says happened: every fiber outage within one probe
interval of the moment its targets really went down and came back, every light fault within one tracker
interval of its planned start (and end), one unique Wi-Fi user per MAC address that visited, and the modem's
signal.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from edge.agent import Agent
from edge.config import load_gateway_config
from lab.localservices import InfluxDBServer, MosquittoServer
from lab.simulate.scenario import load_scenario
from lab.simulate.village import Village
from thonminh.influx import InfluxClient

SLACK_MS = 600  # message delivery, commit and event-loop lateness on a loaded two-core machine


async def _run(
    tmp_path: Path, scenario_path: Path, mosquitto: MosquittoServer, influxdb: InfluxDBServer, database: str
) -> tuple[dict[str, Any], float]:
    """Village and agent in one event loop; the agent stops first, so the end of the village is not measured."""
    scenario = load_scenario(scenario_path)
    village = Village(
        scenario,
        tmp_path / "village",
        mqtt_port=mosquitto.port,
        influx_url=influxdb.url,
        database=database,
        duration_s=0,
        lead_s=3.0,
    )
    stop = asyncio.Event()
    sim = asyncio.create_task(village.run(stop))
    await asyncio.wait_for(village.ready.wait(), 30)
    agent = Agent(load_gateway_config(village.gateway_config_path))
    agent_stop = asyncio.Event()
    run = asyncio.create_task(agent.run(agent_stop))
    try:
        await asyncio.wait_for(agent.started.wait(), 30)
        # the whole scenario, then the last tracker interval and probe cycles
        await asyncio.sleep(max(0.0, scenario.duration_s + 1.5 - village.elapsed()))
    finally:
        stopped_at = village.elapsed()
        agent_stop.set()
        await asyncio.wait_for(run, 30)
        stop.set()
    return await asyncio.wait_for(sim, 30), stopped_at


def _rows(influx: InfluxClient, query: str) -> list[dict[str, Any]]:
    return influx.select(query).rows()


async def test_measurements_match_the_ground_truth(
    tmp_path: Path,
    small_scenario: Path,
    mosquitto: MosquittoServer,
    influxdb: InfluxDBServer,
    influx: InfluxClient,
) -> None:
    truth, stopped_at = await _run(tmp_path, small_scenario, mosquitto, influxdb, influx.database)
    scenario = load_scenario(small_scenario)

    # uplinks: each switch of the targets is an event, dated within one probe cycle after it
    interval_ms = scenario.uplinks.interval_s * 1000
    events = _rows(influx, "SELECT state FROM uplink_event GROUP BY link")
    fiber = [(e["time"], e["state"]) for e in events if e["link"] == "fiber"]
    assert [s for _, s in fiber] == ["up", "down", "up", "down", "up"], fiber
    assert [e["state"] for e in events if e["link"] == "4g"] == ["up"]
    switches = truth["outage_switches"]["fiber"]
    assert [s["state"] for s in switches] == ["down", "up", "down", "up"]
    for (event_ms, state), switch in zip(fiber[1:], switches, strict=True):
        assert state == switch["state"]
        assert -50 <= event_ms - switch["time_ms"] <= interval_ms + SLACK_MS, (
            state,
            event_ms - switch["time_ms"],
        )

    # lights: each planned fault shows from the first tracker sample after it starts, and stops after it ends
    t0, cadence_ms = truth["t0_ms"], scenario.lights.interval_s * 1000
    samples = _rows(influx, 'SELECT "fault", "online" FROM "streetlight" GROUP BY "light"')
    assert {s["light"] for s in samples} == {f"klt-00{i}" for i in range(1, 7)}
    assert len(truth["light_faults"]) == 3
    for fault in truth["light_faults"]:
        mine = [s for s in samples if s["light"] == fault["light"] and s["time"] > t0]
        start = t0 + fault["start_s"] * 1000
        first = next(s["time"] for s in mine if s["fault"] == fault["fault"])
        assert start - 50 <= first <= start + cadence_ms + SLACK_MS, (fault, first - start)
        assert all(s["fault"] != fault["fault"] for s in mine if s["time"] < start - 50), fault
        if fault["end_s"] is not None:
            end = t0 + fault["end_s"] * 1000
            cleared = next(s["time"] for s in mine if s["time"] > first and s["fault"] != fault["fault"])
            assert end - 50 <= cleared <= end + cadence_ms + SLACK_MS, (fault, cleared - end)
        else:
            assert mine[-1]["fault"] == fault["fault"], fault
    healthy = [
        s for s in samples if s["light"] in ("klt-001", "klt-004", "klt-006") and s["time"] > t0 + 3000
    ]
    assert healthy and all(s["fault"] == "" for s in healthy)

    # Wi-Fi: every MAC address that visited while the gateway watched is one unique user, and no more
    daily = _rows(influx, "SELECT unique_users FROM wifi_daily")
    measured = sum(r["unique_users"] for r in daily)
    visits = truth["wifi"]["visits"]
    surely_seen = {v["mac"] for v in visits if v["arrive_s"] < stopped_at - 2 * scenario.ap.interval_s}
    maybe_seen = {v["mac"] for v in visits if v["arrive_s"] < stopped_at}
    assert len(surely_seen) >= 6 and len(surely_seen) <= measured <= len(maybe_seen), (measured, visits)

    # the modem: what it was told to report, read back through the AT port
    [radio] = _rows(influx, "SELECT LAST(rsrp_dbm) AS rsrp, LAST(registered) AS registered FROM modem")
    assert (radio["rsrp"], radio["registered"]) == (-115.0, 1)
    [first] = _rows(influx, "SELECT FIRST(rsrp_dbm) AS rsrp FROM modem")
    assert first["rsrp"] == -92.0
