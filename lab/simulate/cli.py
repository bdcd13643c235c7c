"""``thonminh simulate --scenario FILE --out DIR``: run a whole simulated village until its duration or a signal."""

from __future__ import annotations

import asyncio
import json
import signal
from pathlib import Path
from typing import Any

import click

__all__ = ["simulate"]


@click.command(name="simulate")
@click.option(
    "--scenario",
    "scenario_path",
    required=True,
    type=click.Path(dir_okay=False, exists=True),
    help="scenario TOML (see lab/simulate/scenarios/demo.toml)",
)
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(file_okay=False),
    help="where gateway.toml, ground_truth.json, the modem pty link and the fake AP commands go",
)
@click.option("--mqtt-host", default="127.0.0.1", show_default=True, help="broker the lights publish to")
@click.option("--mqtt-port", default=1883, show_default=True, type=click.IntRange(1, 65535))
@click.option(
    "--mqtt-username",
    envvar="THONMINH_MQTT__USERNAME",
    default=None,
    help="broker user of every simulated device (or THONMINH_MQTT__USERNAME)",
)
@click.option(
    "--mqtt-password",
    envvar="THONMINH_MQTT__PASSWORD",
    default=None,
    help="its password (or THONMINH_MQTT__PASSWORD)",
)
@click.option(
    "--influx-url",
    default="http://127.0.0.1:8086",
    show_default=True,
    help="InfluxDB the generated gateway.toml writes to",
)
@click.option("--database", default="thonminh", show_default=True, help="InfluxDB database for gateway.toml")
@click.option(
    "--duration",
    "duration_s",
    type=click.FloatRange(min=0),
    default=None,
    help="seconds to run (default: the scenario's duration_s; 0 = until SIGTERM/SIGINT)",
)
@click.option(
    "--lead",
    "lead_s",
    type=click.FloatRange(min=0, max=600),
    default=5.0,
    show_default=True,
    help="seconds from writing gateway.toml to the scenario's time 0 (for a gateway to start)",
)
@click.option("--log-level", default="info", type=click.Choice(["debug", "info", "warning", "error"]))
def simulate(
    scenario_path: str,
    out_dir: str,
    mqtt_host: str,
    mqtt_port: int,
    mqtt_username: str | None,
    mqtt_password: str | None,
    influx_url: str,
    database: str,
    duration_s: float | None,
    lead_s: float,
    log_level: str,
) -> None:
    """A whole simulated village: street lights on the broker, uplink targets with outages on loopback, a 4G
    modem on a pseudo-terminal and a Wi-Fi access point, from a scenario file. Writes the gateway config that
    measures it and the ground truth to compare with."""
    from lab.simulate.scenario import load_scenario
    from lab.simulate.village import Village
    from thonminh.logs import setup_logging

    setup_logging(log_level)
    scenario = load_scenario(scenario_path)
    village = Village(
        scenario,
        out_dir,
        mqtt_host=mqtt_host,
        mqtt_port=mqtt_port,
        influx_url=influx_url,
        database=database,
        duration_s=duration_s,
        lead_s=lead_s,
        mqtt_username=mqtt_username,
        mqtt_password=mqtt_password,
    )

    async def main() -> dict[str, Any]:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        run = asyncio.create_task(village.run(stop))
        ready = asyncio.create_task(village.ready.wait())
        await asyncio.wait({run, ready}, return_when=asyncio.FIRST_COMPLETED)
        if village.ready.is_set():
            click.echo(f"ready: gateway config {village.gateway_config_path}", err=True)
            click.echo(f"ready: ground truth {village.ground_truth_path}", err=True)
        return await run

    truth = asyncio.run(main())
    faults = ", ".join(f"{f['light']} {f['fault']}" for f in truth["light_faults"]) or "none"
    outages = ", ".join(f"{link} {len(spans)}" for link, spans in truth["outages"].items()) or "none"
    click.echo(
        f"done after {truth['horizon_s']:.0f} s: outages {outages}; light faults {faults}; "
        f"ground truth in {Path(out_dir) / 'ground_truth.json'}",
        err=True,
    )
    click.echo(json.dumps({"ground_truth": str(village.ground_truth_path)}))
