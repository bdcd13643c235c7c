"""Simulated street-light controllers: Tasmota, ESPHome and our own JSON, publishing what the real ones do.

``LightDevice`` builds a device's messages (pure; deterministic for a seed): the birth and will (LWT /
availability), relay changes and periodic telemetry with energy readings, in the layouts of the real captures
in ``tests/sources/lights/fixtures/payloads.toml``; ``lightlink`` puts them on a broker. Behaviours per
output: ``normal`` (follows the schedule), ``lamp_failure`` (follows it, but the lamp draws almost nothing),
``day_burning`` (always on), ``dark`` (always off), and per device ``offline`` (reports once, then its
connection dies and the broker publishes its will).
"""

from __future__ import annotations

import datetime as dt
import json
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal
from zoneinfo import ZoneInfo

from thonminh.contract import DAILY_TZ

__all__ = ["Behaviour", "LightDevice", "Output", "SimMessage", "village_from_inventory"]

Behaviour = Literal["normal", "lamp_failure", "day_burning", "dark", "offline"]
Format = Literal["tasmota", "esphome", "json"]


@dataclass(frozen=True, slots=True)
class SimMessage:
    topic: str
    payload: bytes
    qos: int = 1
    retain: bool = False


@dataclass(frozen=True, slots=True)
class Output:
    """One relay and its lamp. ``channel`` as in the inventory (``None``: the device's only output)."""

    channel: str | None
    rated_w: float
    behaviour: Behaviour = "normal"


def _uptime(seconds: int) -> str:
    days, rest = divmod(seconds, 86_400)
    return f"{days}T{rest // 3600:02d}:{rest % 3600 // 60:02d}:{rest % 60:02d}"


class LightDevice:
    """One controller with one or more outputs, publishing in ``format``."""

    def __init__(
        self,
        device: str,
        format: Format,
        outputs: Sequence[Output],
        *,
        seed: int = 0,
        tz: str = DAILY_TZ,
        qos: int = 1,
        esphome_prefix: str = "esphome",
        json_base: str = "thonminh/light",
    ) -> None:
        self.device = device
        self.format = format
        self.outputs = tuple(outputs)
        self.tz = ZoneInfo(tz)
        self.qos = qos
        self._esphome = f"{esphome_prefix}/{device}"
        self._json = f"{json_base}/{device}"
        self.rng = random.Random(f"{seed}/{device}")
        self.on = [False] * len(self.outputs)
        self.level = [100] * len(self.outputs)
        self.energy_kwh = round(self.rng.uniform(5, 500), 3)
        self.voltage = self.rng.uniform(220, 232)
        self.signal = self.rng.randint(-82, -55)
        self.boot = self.rng.randint(1, 999_999)
        self.seq = 0
        self.started_ms: int | None = None
        self._metered_ms: int | None = None

    @property
    def behaviour(self) -> Behaviour:
        return "offline" if any(o.behaviour == "offline" for o in self.outputs) else "normal"

    # -- availability ----------------------------------------------------------------------------------------

    @property
    def status_topic(self) -> str:
        return {
            "tasmota": f"tele/{self.device}/LWT",
            "esphome": f"{self._esphome}/status",
            "json": f"{self._json}/status",
        }[self.format]

    def will(self) -> SimMessage:
        """What the broker publishes for the device when its connection dies."""
        return SimMessage(self.status_topic, b"Offline" if self.format == "tasmota" else b"offline", 1, True)

    def birth(self, now_ms: int) -> list[SimMessage]:
        self.started_ms = now_ms
        self._metered_ms = now_ms
        online = b"Online" if self.format == "tasmota" else b"online"
        return [SimMessage(self.status_topic, online, self.qos, True)]

    # -- behaviour -------------------------------------------------------------------------------------------

    def _wants(self, output: Output, expected_on: bool) -> bool:
        if output.behaviour == "day_burning":
            return True
        if output.behaviour == "dark":
            return False
        return expected_on

    def step(self, now_ms: int, expected_on: bool) -> list[SimMessage]:
        """Switch the relays the way this device behaves; the messages that announce the changes."""
        messages = []
        for i, output in enumerate(self.outputs):
            wanted = self._wants(output, expected_on)
            if wanted != self.on[i]:
                messages += self.switch(i, wanted, now_ms)
        return messages

    def switch(self, i: int, on: bool, now_ms: int) -> list[SimMessage]:
        self._accumulate(now_ms)
        self.on[i] = on
        word = "ON" if on else "OFF"
        if self.format == "tasmota":
            key = "POWER" if len(self.outputs) == 1 else f"POWER{i + 1}"
            return [
                SimMessage(
                    f"stat/{self.device}/RESULT",
                    json.dumps({key: word}, separators=(",", ":")).encode(),
                    self.qos,
                ),
                SimMessage(f"stat/{self.device}/{key}", word.encode(), self.qos),
            ]
        if self.format == "esphome":
            return [self._esphome_light(i)]
        return [self._json_state(i, now_ms)]

    def power(self, i: int) -> float:
        if not self.on[i]:
            return 0.0
        output = self.outputs[i]
        if output.behaviour == "lamp_failure":
            return round(self.rng.uniform(0.2, 0.8), 1)
        return round(output.rated_w * self.level[i] / 100 * self.rng.uniform(0.96, 1.03), 1)

    def _accumulate(self, now_ms: int) -> None:
        if self._metered_ms is not None and now_ms > self._metered_ms:
            watts = sum(self.power(i) for i in range(len(self.outputs)))
            self.energy_kwh += watts * (now_ms - self._metered_ms) / 3_600_000_000
        self._metered_ms = now_ms

    def report(self, now_ms: int) -> list[SimMessage]:
        """Periodic telemetry (Tasmota TelePeriod, ESPHome update_interval, our report period)."""
        self._accumulate(now_ms)
        self.voltage = min(245.0, max(205.0, self.voltage + self.rng.uniform(-1.5, 1.5)))
        if self.format == "tasmota":
            return [self._tasmota_state(now_ms), self._tasmota_sensor(now_ms)]
        if self.format == "esphome":
            return [*(self._esphome_light(i) for i in range(len(self.outputs))), *self._esphome_sensors()]
        return [self._json_state(i, now_ms) for i in range(len(self.outputs))]

    # -- payloads --------------------------------------------------------------------------------------------

    def _local(self, now_ms: int) -> str:
        return dt.datetime.fromtimestamp(now_ms / 1000, self.tz).strftime("%Y-%m-%dT%H:%M:%S")

    def _uptime_s(self, now_ms: int) -> int:
        return max(0, (now_ms - (self.started_ms or now_ms)) // 1000)

    def _tasmota_state(self, now_ms: int) -> SimMessage:
        up = self._uptime_s(now_ms)
        power = ",".join(
            f'"{"POWER" if len(self.outputs) == 1 else f"POWER{i + 1}"}":"{"ON" if on else "OFF"}"'
            for i, on in enumerate(self.on)
        )
        rssi = max(0, min(100, 2 * (self.signal + 100)))
        payload = (
            f'{{"Time":"{self._local(now_ms)}","Uptime":"{_uptime(up)}","UptimeSec":{up},"Heap":26,'
            f'"SleepMode":"Dynamic","Sleep":50,"LoadAvg":19,"MqttCount":1,{power},"Wifi":{{"AP":1,'
            f'"SSId":"klt-den-duong","BSSId":"A4:2B:B0:1E:0C:6D","Channel":6,"Mode":"11n","RSSI":{rssi},'
            f'"Signal":{self.signal},"LinkCount":1,"Downtime":"0T00:00:04"}}}}'
        )
        return SimMessage(f"tele/{self.device}/STATE", payload.encode(), self.qos)

    def _tasmota_sensor(self, now_ms: int) -> SimMessage:
        watts = [self.power(i) for i in range(len(self.outputs))]
        factor = [0.95 if w else 0.0 for w in watts]
        volts = round(self.voltage)
        amps = [w / volts / f if f else 0.0 for w, f in zip(watts, factor, strict=True)]

        def many(values: list[float], fmt: str) -> str:
            items = [format(v, fmt) for v in values]
            return items[0] if len(items) == 1 else "[" + ",".join(items) + "]"

        payload = (
            f'{{"Time":"{self._local(now_ms)}","ENERGY":{{"TotalStartTime":"2024-01-01T00:00:00",'
            f'"Total":{self.energy_kwh:.3f},"Yesterday":0.512,"Today":0.210,"Period":0,'
            f'"Power":{many([round(w) for w in watts], "d")},'
            f'"ApparentPower":{many([round(w / f) if f else 0 for w, f in zip(watts, factor, strict=True)], "d")},'
            f'"ReactivePower":{many([round(w * 0.33) for w in watts], "d")},"Factor":{many(factor, ".2f")},'
            f'"Voltage":{volts},"Current":{many(amps, ".3f")}}}}}'
        )
        return SimMessage(f"tele/{self.device}/SENSOR", payload.encode(), self.qos)

    def _esphome_object(self, i: int) -> str:
        channel = self.outputs[i].channel
        return "street_light" if channel is None else channel

    def _esphome_light(self, i: int) -> SimMessage:
        state = "ON" if self.on[i] else "OFF"
        return SimMessage(
            f"{self._esphome}/light/{self._esphome_object(i)}/state",
            f'{{"color_mode":"onoff","state":"{state}","color":{{}}}}'.encode(),
            self.qos,
            True,
        )

    def _esphome_sensors(self) -> list[SimMessage]:
        watts = sum(self.power(i) for i in range(len(self.outputs)))
        amps = watts / self.voltage / 0.95 if watts else 0.0
        values = {
            "power": f"{watts:.1f}",
            "voltage": f"{self.voltage:.1f}",
            "current": f"{amps:.3f}",
            "energy": f"{self.energy_kwh:.3f}",
        }
        return [
            SimMessage(f"{self._esphome}/sensor/{name}/state", value.encode(), self.qos, True)
            for name, value in values.items()
        ]

    def _json_state(self, i: int, now_ms: int) -> SimMessage:
        self.seq += 1
        watts = self.power(i)
        faults = ["lamp_failure"] if self.on[i] and self.outputs[i].behaviour == "lamp_failure" else []
        data: dict[str, object] = {"v": 1, "seq": self.seq, "boot": self.boot}
        if len(self.outputs) > 1:
            data["channel"] = self.outputs[i].channel or str(i + 1)
        data.update(
            {
                "on": self.on[i],
                "level": self.level[i],
                "power_w": watts,
                "voltage_v": round(self.voltage, 1),
                "current_a": round(watts / self.voltage / 0.95, 3) if watts else 0.0,
                "energy_kwh": round(self.energy_kwh, 3),
                "faults": faults,
                "uptime_s": self._uptime_s(now_ms),
                "rssi_dbm": self.signal,
            }
        )
        return SimMessage(f"{self._json}/state", json.dumps(data, separators=(",", ":")).encode(), self.qos)


def village_from_inventory(
    inventory: Sequence[object],
    *,
    seed: int = 0,
    behaviours: Mapping[str, Behaviour] | None = None,
    tz: str = DAILY_TZ,
    qos: int = 1,
) -> list[LightDevice]:
    """One simulated device per inventory device (rows with ``id, device, channel, format, rated_w``)."""
    behaviours = behaviours or {}
    by_device: dict[str, list[object]] = {}
    for light in inventory:
        by_device.setdefault(light.device, []).append(light)  # type: ignore[attr-defined]
    devices = []
    for device, lights in by_device.items():
        outputs = [
            Output(light.channel, light.rated_w, behaviours.get(light.id, "normal"))  # type: ignore[attr-defined]
            for light in lights
        ]
        devices.append(LightDevice(device, lights[0].format, outputs, seed=seed, tz=tz, qos=qos))  # type: ignore[attr-defined]
    return devices
