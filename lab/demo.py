"""``thonminh demo``: the whole village in one command, and its criteria report next to what really happened.

Starts InfluxDB 1.x and Mosquitto on free loopback ports (or uses ``THONMINH_DEMO_INFLUX_URL`` and
``THONMINH_DEMO_MQTT_HOST`` / ``THONMINH_DEMO_MQTT_PORT``), then ``thonminh simulate`` (the demo village),
``thonminh edge run`` (a gateway measuring it) and ``thonminh server`` (the criteria service, with generated
API keys), each as a subprocess in its own process group. After ``--duration`` seconds it prints the criteria
report fetched from the API, the scenario's ground truth beside what was measured, and the URLs. ``--once``
then stops; otherwise everything keeps running until Ctrl-C. On Ctrl-C, SIGTERM or any error every process
it started is stopped (SIGTERM to its group, SIGKILL after a grace period).

The core never imports ``edge`` or ``server``: they are driven as subprocesses and read over HTTP.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
import httpx

from lab.demoprocs import ROOT, DemoError, Processes, check_free, wait_for, wait_own_server
from lab.demoreport import iso_utc, render_report
from lab.demosetup import gateway_key, register, server_toml
from lab.localservices import InfluxDBServer, MosquittoServer, ServiceError, free_port
from lab.simulate.scenario import load_scenario
from server.urls import API_PREFIX
from thonminh.config import parse_toml
from thonminh.contract import UPLINK
from thonminh.evidencekeys import grouped
from thonminh.figures import INDICATORS
from thonminh.influx import InfluxClient
from thonminh.influxql import Select, agg, from_ref, tag_equals

__all__ = ["demo"]

DEMO_SCENARIO = Path(__file__).resolve().parent / "simulate" / "scenarios" / "demo.toml"
DATABASE = "thonminh_demo"
_CADENCE_MS = 5_000  # the demo village's tracker interval
_FORWARD_LAG_MS = 1_500


@dataclass
class Services:
    influx_url: str
    mqtt_host: str
    mqtt_port: int


def _services(procs: Processes, work: Path, echo: Callable[[str], None]) -> Services:
    url = os.environ.get("THONMINH_DEMO_INFLUX_URL")
    if url:
        echo(f"using InfluxDB at {url} (THONMINH_DEMO_INFLUX_URL)")
    else:
        influx = InfluxDBServer(work / "influxdb")
        procs.services.append(influx)
        influx.start(timeout=60)
        url = influx.url
        echo(f"started InfluxDB 1.x at {url}")
    host = os.environ.get("THONMINH_DEMO_MQTT_HOST")
    if host:
        port = int(os.environ.get("THONMINH_DEMO_MQTT_PORT", "1883"))
        echo(f"using Mosquitto at {host}:{port} (THONMINH_DEMO_MQTT_HOST/PORT)")
    else:
        broker = MosquittoServer(work / "mosquitto")
        procs.services.append(broker)
        broker.start(timeout=30)
        host, port = broker.host, broker.port
        echo(f"started Mosquitto at {host}:{port}")
    return Services(url, host, port)


def run_demo(
    *,
    duration_s: float,
    once: bool,
    scenario: Path,
    work: Path,
    api_port: int | None,
    echo: Callable[[str], None],
    keep_work: bool = True,
) -> None:
    """Everything between starting the services and the report (and, without ``once``, until Ctrl-C)."""
    if api_port is not None:
        check_free(api_port)  # before the services: a port taken is told at once
    logs = work / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    procs = Processes(logs)
    try:
        svc = _services(procs, work, echo)
        InfluxClient(svc.influx_url, database=DATABASE).create_database(DATABASE)
        village = work / "village"
        procs.start(
            "simulator",
            "simulate",
            "--scenario",
            str(scenario),
            "--out",
            str(village),
            "--mqtt-host",
            svc.mqtt_host,
            "--mqtt-port",
            str(svc.mqtt_port),
            "--influx-url",
            svc.influx_url,
            "--database",
            DATABASE,
            "--duration",
            "0",
        )
        config = village / "gateway.toml"
        wait_for("the simulator to write gateway.toml", config.exists, procs, 90)
        echo(f"simulator running: {scenario.name}; gateway config {config}")
        signing = gateway_key(config)
        procs.start("gateway", "edge", "run", "--config", str(config))
        read_key, admin_key = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
        port = api_port or free_port()
        check_free(port)
        site = parse_toml(config.read_text(), config.name)["site"]
        server_toml(
            work / "server.toml", svc.influx_url, DATABASE, port, site, load_scenario(scenario).places
        )
        server = procs.start(
            "server",
            "server",
            "--config",
            str(work / "server.toml"),
            env={
                "THONMINH_SERVER_AUTH__READ_KEYS__DEMO": read_key,
                "THONMINH_SERVER_AUTH__ADMIN_KEYS__DEMO_OFFICER": admin_key,
            },
        )
        base = f"http://127.0.0.1:{port}{API_PREFIX}"
        echo(
            "processes (each its own process group): "
            + ", ".join(f"{name} {pid}" for name, pid in procs.pids().items())
        )
        with httpx.Client(base_url=base, headers={"X-API-Key": read_key}, timeout=30) as api:
            wait_own_server(api, server, port, procs)
            echo(f"criteria service up at {base}")
            problem = register(signing, base.removesuffix(API_PREFIX), admin_key)
            if problem:
                raise DemoError(problem)
            echo(
                f"gateway {signing.gateway}'s key {grouped(signing.fingerprint)} registered (thonminh keys add)"
            )
            truth = json.loads((village / "ground_truth.json").read_text())
            first_ms = wait_for(
                "the gateway's first samples", lambda: _first_sample_ms(svc.influx_url, truth), procs, 90
            )
            start_ms = max(first_ms, truth["t0_ms"])  # the village's time 0, or later if the gateway was late
            village_id = truth["village"]
            # entered once the village's time has begun, so that they fall inside the report's window
            time.sleep(max(0.0, truth["t0_ms"] / 1000 + 0.5 - time.time()))
            for indicator, value in truth.get("indicators", {}).items():
                api.put(
                    f"/villages/{village_id}/indicators/{indicator}",
                    headers={"X-API-Key": admin_key},
                    json={
                        "value": value,
                        "unit": INDICATORS[indicator].unit,
                        "note": "entered by thonminh demo",
                    },
                ).raise_for_status()
            report_at = truth["t0_ms"] / 1000 + duration_s
            while time.time() < report_at:
                procs.check()
                left = report_at - time.time()
                echo(f"measuring the village: {left:.0f} s to the report")
                time.sleep(min(10.0, max(0.1, left)))
            # end at the last whole tracker interval, once the gateway has had time to forward it
            end_ms = (int(time.time() * 1000) - _FORWARD_LAG_MS) // _CADENCE_MS * _CADENCE_MS
            data = _fetch(api, village_id, start_ms, end_ms)
        echo(
            render_report(
                truth=truth,
                api=data,
                start_ms=start_ms,
                end_ms=end_ms,
                base=base,
                read_key=read_key,
                admin_key=admin_key,
                work=work,
                work_kept=keep_work,
                influx_url=svc.influx_url,
                database=DATABASE,
                commune=site.get("commune", ""),
            )
        )
        if once:
            return
        echo("Everything keeps running: press Ctrl-C to stop it all.")
        while True:
            procs.check()
            time.sleep(1.0)
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):  # a second Ctrl-C must not cut the clean-up short
            signal.signal(sig, signal.SIG_IGN)
        procs.stop_all()
        echo("stopped: " + ", ".join(f"{name} {pid}" for name, pid in procs.pids().items()))


def _first_sample_ms(influx_url: str, truth: dict[str, Any]) -> int | None:
    """When the gateway started measuring: the start of its first uplink interval in this run."""
    client = InfluxClient(influx_url, database=DATABASE, timeout=5)
    try:
        statement = Select(
            [agg("first", UPLINK.field("observed_s").name, "first")],
            [from_ref(UPLINK.name)],
            where=[tag_equals("village", truth["village"]), f"time >= {truth['t0_ms'] - 5000}ms"],
        )
        rows = client.select(statement.render()).rows()
    finally:
        client.close()
    if not rows:
        return None
    return int(rows[0]["time"] - rows[0]["first"] * 1000)


def _fetch(api: httpx.Client, village: str, start_ms: int, end_ms: int) -> dict[str, Any]:
    """The API's answers for the demo window (daily figures count the point of each local day it touches)."""
    window = {"start": iso_utc(start_ms), "end": iso_utc(end_ms)}
    out: dict[str, Any] = {}
    for path in ("criteria", "outages", "lighting", "wifi", "modem"):
        asked_ms = time.time() * 1000
        response = api.get(f"/villages/{village}/{path}", params=window)
        response.raise_for_status()
        out[path] = response.json()
        # today's Wi-Fi count holds what the gateway had forwarded between the two (demoreport._wifi)
        out[f"{path}_read_ms"] = (asked_ms, time.time() * 1000)
    return out


@click.command(name="demo")
@click.option(
    "--duration",
    "duration_s",
    type=click.FloatRange(min=5),
    default=60.0,
    show_default=True,
    help="seconds of simulated village before the report",
)
@click.option("--once", is_flag=True, help="print the report, stop everything and exit")
@click.option(
    "--scenario",
    "scenario_path",
    type=click.Path(dir_okay=False, exists=True),
    default=None,
    help=f"scenario TOML (default: {DEMO_SCENARIO.relative_to(ROOT)})",
)
@click.option(
    "--workdir",
    type=click.Path(file_okay=False),
    default=None,
    help="keep databases, configs and logs here (default: a temporary directory, removed at the end)",
)
@click.option(
    "--port",
    "api_port",
    type=click.IntRange(1, 65535),
    default=None,
    help="port of the criteria service (default: a free one)",
)
def demo(
    duration_s: float, once: bool, scenario_path: str | None, workdir: str | None, api_port: int | None
) -> None:
    """The whole village in one command: services, simulator, gateway, criteria service, and a report."""
    scenario = Path(scenario_path) if scenario_path else DEMO_SCENARIO
    if not scenario.exists():
        raise click.ClickException(f"scenario {scenario} not found (run from a full checkout)")
    work = Path(workdir).resolve() if workdir else Path(tempfile.mkdtemp(prefix="thonminh-demo-"))
    work.mkdir(parents=True, exist_ok=True)

    def terminated(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    # SIGINT explicitly too: started from a script's background job, Python inherits it ignored
    previous = {sig: signal.signal(sig, terminated) for sig in (signal.SIGTERM, signal.SIGINT)}
    keep = workdir is not None
    try:
        run_demo(
            duration_s=duration_s,
            once=once,
            scenario=scenario.resolve(),
            work=work,
            api_port=api_port,
            echo=lambda line: click.echo(line, nl=True),
            keep_work=keep,
        )
    except KeyboardInterrupt:
        click.echo("stopped by signal", err=True)
    except (DemoError, ServiceError, httpx.HTTPError, OSError) as err:
        keep = True
        raise click.ClickException(f"{err}\n(logs and configs kept in {work})") from err
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if not keep:
            shutil.rmtree(work, ignore_errors=True)
