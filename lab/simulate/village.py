"""A whole village from a scenario: street lights on the broker, uplink targets, a 4G modem and an access point.

``Village(scenario, out_dir, ...)`` plays a ``Plan`` with the simulator's parts: ``LightDevice`` /
``DeviceLink`` (one MQTT connection per controller, real Tasmota and ESPHome payloads and wills), ``TcpTarget``
/ ``DnsTarget`` / ``HttpTarget`` on loopback switched by ``OutageSchedule``, ``ModemEmulator`` on a pty, and
``SimulatedAp`` with its fake ``ubus`` on disk. Before anything happens it writes into ``out_dir``:

- ``gateway.toml``: a gateway config pointing at all of it (and ``inventory.csv`` for the lights);
- ``ground_truth.json``: what the plan says will happen; rewritten at the end with what did, including the
  moments the targets really switched (``outage_switches``).

A light whose fault changes publishes its telemetry at once, as Tasmota does with ``PowerDelta`` (so the
gateway can see a fault within one tracker interval); otherwise lights report every ``report_period_s``.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import dataclasses
import io
import json
import logging
import os
import random
import time
from pathlib import Path
from typing import Any

import aiomqtt

from lab.simulate.ap import SimulatedAp, install_fake_commands
from lab.simulate.gatewayconf import Endpoints, dump_toml, gateway_config
from lab.simulate.lightlink import DeviceLink
from lab.simulate.lights import LightDevice, Output
from lab.simulate.modem_emulator import ModemEmulator, RadioState
from lab.simulate.plan import Plan, PlannedLight
from lab.simulate.scenario import Scenario
from lab.simulate.targets import DnsTarget, HttpTarget, Outage, OutageSchedule, Target, TcpTarget
from thonminh.logs import Episode

__all__ = ["Village", "write_atomic"]

_TARGETS: dict[str, type[Target]] = {"tcp": TcpTarget, "dns": DnsTarget, "http": HttpTarget}
_MODEM_LINKS = {
    "quectel": "usb-Quectel_EC25-if02-port0",
    "simcom": "usb-SimTech_SIM7600G-H-if02-port0",
    "generic": "usb-Generic_LTE_Modem-if02-port0",
}
#: Ground truth of an endless run is planned this far ahead (and rewritten with the real end when it stops).
_ENDLESS_HORIZON_S = 3600.0
#: Controllers switch on their own clocks, a little ahead of the gateway's schedule: a light that switched in
#: the very millisecond of dusk or dawn would otherwise be caught by a tracker sample at that instant.
_SWITCH_LEAD_MS = 300


def write_atomic(path: Path, text: str) -> None:
    """Readers never see half a file: write beside it, then rename."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


class Village:
    """Runs one scenario; ``ready`` is set once ``gateway.toml`` and ``ground_truth.json`` are written."""

    def __init__(
        self,
        scenario: Scenario,
        out_dir: str | os.PathLike[str],
        *,
        mqtt_host: str = "127.0.0.1",
        mqtt_port: int = 1883,
        influx_url: str = "http://127.0.0.1:8086",
        database: str = "thonminh",
        duration_s: float | None = None,
        lead_s: float = 1.0,
        logger: logging.Logger | None = None,
        mqtt_username: str | None = None,
        mqtt_password: str | None = None,
    ) -> None:
        self.scenario = scenario
        self.out = Path(out_dir).resolve()
        self.mqtt_host, self.mqtt_port = mqtt_host, mqtt_port
        # one broker user for every simulated device (a secured broker: the compose demo's "simulator" user)
        self.mqtt_auth = {"username": mqtt_username, "password": mqtt_password}
        self.influx_url, self.database = influx_url, database
        self.duration_s = scenario.duration_s if duration_s is None else duration_s
        self.lead_s = lead_s
        self.log = logger or logging.getLogger("lab.simulate")
        self.ready = asyncio.Event()
        self.plan: Plan | None = None
        self.gateway_config_path = self.out / "gateway.toml"
        self.ground_truth_path = self.out / "ground_truth.json"
        self._t0_mono = 0.0
        self._broker = Episode(self.log, "simulated lights cannot reach the broker", port=mqtt_port)

    def elapsed(self) -> float:
        return time.monotonic() - self._t0_mono

    # -- the run -----------------------------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event | None = None) -> dict[str, Any]:
        """Run until ``duration_s`` has passed (0: until ``stop``); returns the final ground truth."""
        stop = stop or asyncio.Event()
        s = self.scenario
        self.out.mkdir(parents=True, exist_ok=True)
        with contextlib.ExitStack() as stack:
            targets = {
                link.link: [stack.enter_context(_TARGETS[kind](link.host, 0)) for kind in link.targets]
                for link in s.uplinks.links
            }
            modem = None
            if s.modem.enabled:
                modem = ModemEmulator(
                    s.modem.personality,
                    link_dir=self.out / "dev",
                    link_name=_MODEM_LINKS[s.modem.personality],
                    state=RadioState(operator=s.modem.operator),
                )
                stack.enter_context(modem)
            ap = ubus = None
            if s.ap.enabled:
                ap = SimulatedAp.create(
                    self.out / "ap.json",
                    seed=s.seed,
                    pool=0,
                    live=True,
                    ssid=s.ap.ssid,
                    leases_file=self.out / "dhcp.leases",
                )
                ubus = str(Path(install_fake_commands(self.out / "bin", ap.path)) / "ubus")
            # t0 is a moment ahead (lead_s), so that writing the files and starting a gateway on them does not
            # eat into the first scheduled seconds
            self._t0_mono = time.monotonic() + self.lead_s
            plan = self.plan = Plan(s, _now_ms() + int(self.lead_s * 1000))
            self._write_files(plan, targets, modem, ubus)
            self.ready.set()  # a gateway may start on the files now, during the lead
            # the devices start during the lead too (lights connect and report), so that at time 0 the village
            # is there to be measured; everything scheduled happens at its offset from t0
            tasks = [asyncio.create_task(self._light(plan, light, stop)) for light in plan.lights]
            if modem is not None:
                tasks.append(asyncio.create_task(self._modem(modem, stop)))
            if ap is not None:
                tasks.append(asyncio.create_task(self._ap(plan, ap, stop)))
            schedules: dict[str, OutageSchedule] = {}
            try:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), max(0.0, self._t0_mono - time.monotonic()))
                schedules = {
                    link.link: OutageSchedule(
                        targets[link.link], [Outage(o.start_s, o.end_s) for o in link.outages]
                    )
                    for link in s.uplinks.links
                    if link.outages
                }
                for schedule in schedules.values():
                    schedule.start()
                    stack.callback(schedule.stop)
                self.log.info(
                    "village running",
                    extra={
                        "scenario": s.name,
                        "lights": len(plan.lights),
                        "config": str(self.gateway_config_path),
                    },
                )
                await self._until_done(stop)
            finally:
                stop.set()
                await asyncio.gather(*tasks, return_exceptions=True)
                truth = self._final_truth(plan, schedules)
                write_atomic(self.ground_truth_path, json.dumps(truth, indent=2, ensure_ascii=False) + "\n")
        return truth

    async def _until_done(self, stop: asyncio.Event) -> None:
        timeout = None if self.duration_s <= 0 else max(0.0, self.duration_s - self.elapsed())
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout)

    def _final_truth(self, plan: Plan, schedules: dict[str, OutageSchedule]) -> dict[str, Any]:
        truth = plan.ground_truth(self.elapsed())
        truth["outage_switches"] = {
            link: [
                {"state": state, "time_ms": wall_ms, "offset_s": round(mono - self._t0_mono, 3)}
                for state, wall_ms, mono in schedule.actual
            ]
            for link, schedule in schedules.items()
        }
        return truth

    def _write_files(
        self, plan: Plan, targets: dict[str, list[Target]], modem: ModemEmulator | None, ubus: str | None
    ) -> None:
        inventory = self.out / "inventory.csv"
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(
            ["id", "device", "channel", "format", "zone", "latitude", "longitude", "rated_w", "report_s"]
        )
        for light in plan.lights:
            writer.writerow(
                [
                    light.id,
                    light.device,
                    "",
                    light.format,
                    light.zone,
                    light.latitude,
                    light.longitude,
                    light.rated_w,
                    "",
                ]
            )
        write_atomic(inventory, buf.getvalue())
        endpoints = Endpoints(
            mqtt_host=self.mqtt_host,
            mqtt_port=self.mqtt_port,
            influx_url=self.influx_url,
            database=self.database,
            targets={link: [(t.kind, t.host, t.port) for t in ts] for link, ts in targets.items()},
            modem_path=modem.path if modem else None,
            ubus_command=ubus,
            leases_file=str(self.out / "dhcp.leases") if ubus else None,
        )
        config = gateway_config(plan, self.out, inventory, endpoints)
        horizon = self.duration_s if self.duration_s > 0 else _ENDLESS_HORIZON_S
        truth = plan.ground_truth(horizon)
        write_atomic(self.ground_truth_path, json.dumps(truth, indent=2, ensure_ascii=False) + "\n")
        write_atomic(
            self.gateway_config_path,
            dump_toml(
                config,
                comment=f"Written by `thonminh simulate` for the scenario {plan.scenario.name!r}.\n"
                "Run it with: thonminh edge run --config <this file>",
            ),
        )

    # -- street lights ----------------------------------------------------------------------------------------

    async def _light(self, plan: Plan, light: PlannedLight, stop: asyncio.Event) -> None:
        s = self.scenario
        device = LightDevice(
            light.device,
            light.format,  # type: ignore[arg-type]
            [Output(None, light.rated_w)],
            seed=s.seed,
            tz=s.site.timezone,
        )
        changes = [
            (plan.t0_ms + offset * 1000, behaviour) for offset, behaviour in plan.behaviour_changes(light.id)
        ]
        period_ms = s.lights.report_period_s * 1000
        next_report = plan.t0_ms + device.rng.uniform(0, period_ms)
        link: DeviceLink | None = None
        offline = False
        try:
            while not stop.is_set():
                now = _now_ms()
                report = False
                while changes and changes[0][0] <= now:
                    _, behaviour = changes.pop(0)
                    if behaviour == "offline":
                        if link is not None:
                            await _drop(link)
                            link = None
                        offline = True
                        continue
                    offline = False
                    device.outputs = (dataclasses.replace(device.outputs[0], behaviour=behaviour),)
                    report = True
                if not offline:
                    try:
                        if link is None:
                            link = await _open(device, self.mqtt_host, self.mqtt_port, **self.mqtt_auth)
                            await link.publish(device.birth(now))
                            report = True
                        messages = device.step(now, plan.schedule.expected(now + _SWITCH_LEAD_MS))
                        if report or now >= next_report:
                            messages += device.report(now)
                            next_report = now + period_ms * device.rng.uniform(0.95, 1.05)
                        await link.publish(messages)
                        self._broker.ok()
                    except (aiomqtt.MqttError, OSError) as err:
                        self._broker.problem(str(err) or type(err).__name__)
                        if link is not None:
                            await _close(link)
                        link = None
                        next_report = now + 1000  # retry soon
                switch = plan.schedule.span(now + _SWITCH_LEAD_MS)[1] - _SWITCH_LEAD_MS
                wake = min([next_report, switch] + [t for t, _ in changes[:1]])
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), max(0.01, (wake - _now_ms()) / 1000))
        finally:
            if link is not None:
                await _close(link)

    # -- modem ------------------------------------------------------------------------------------------------

    async def _modem(self, modem: ModemEmulator, stop: asyncio.Event) -> None:
        spec = self.scenario.modem
        rng = random.Random(f"{self.scenario.seed}/modem")
        while not stop.is_set():
            t = max(0.0, self.elapsed())
            step = [x for x in spec.signal if x.at_s <= t][-1]

            def wobble(value: float) -> int:
                return round(value + rng.uniform(-spec.jitter_db, spec.jitter_db))

            state = modem.state
            state.stat = 1 if step.registered else 2
            state.rsrp_dbm, state.rsrq_db = wobble(step.rsrp_dbm), min(-3, wobble(step.rsrq_db))
            state.sinr_db, state.rssi_dbm = wobble(step.sinr_db), wobble(step.rssi_dbm)
            state.csq = max(0, min(31, round((state.rssi_dbm + 113) / 2)))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 1.0)

    # -- access point -----------------------------------------------------------------------------------------

    async def _ap(self, plan: Plan, ap: SimulatedAp, stop: asyncio.Event) -> None:
        rng = random.Random(f"{self.scenario.seed}/traffic")
        visits = plan.visits()
        upcoming = next(visits, None)
        leaving: list[tuple[float, str]] = []
        next_traffic = 0.0
        while not stop.is_set():
            t = self.elapsed()
            while upcoming is not None and upcoming.arrive_s <= t:
                ap.join(upcoming.mac)
                leaving.append((upcoming.leave_s, upcoming.mac))
                upcoming = next(visits, None)
            leaving.sort()
            while leaving and leaving[0][0] <= t:
                ap.leave(leaving.pop(0)[1])
            if t >= next_traffic:
                for station in ap.stations:  # phones browse: bytes move every second
                    station["rx_bytes"] += rng.randrange(2_000, 60_000)
                    station["tx_bytes"] += rng.randrange(10_000, 400_000)
                ap.save()
                next_traffic = t + 1.0
            arriving = [upcoming.arrive_s] if upcoming is not None else []
            wake = min([next_traffic, *arriving] + [x for x, _ in leaving[:1]])
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), max(0.01, wake - self.elapsed()))


async def _open(
    device: LightDevice, host: str, port: int, *, username: str | None = None, password: str | None = None
) -> DeviceLink:
    return await DeviceLink(device, host, port, username=username, password=password).open()


async def _drop(link: DeviceLink) -> None:
    """The connection dies without a DISCONNECT (power cut): the broker publishes the device's will."""
    link.drop()
    await asyncio.sleep(0.3)  # let the client notice, so closing it does not touch the dead socket
    await _close(link)


async def _close(link: DeviceLink) -> None:
    with contextlib.suppress(Exception):
        await asyncio.wait_for(link.close(), 5)
