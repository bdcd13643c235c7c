"""The light inventory: which device (and relay channel) is which light, where, and how strong.

CSV (header ``id,device,channel,format,zone,latitude,longitude,rated_w[,report_s]``) or TOML (``[[lights]]``
tables with the same keys). ``channel`` empty means "the device's only output". Every error names the file
and the row (CSV line) or key (``lights[3].rated_w``), and all rows are checked before anything is reported.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Final, Literal

from pydantic import Field, ValidationError, field_validator

from thonminh.config import StrictModel, parse_toml
from thonminh.errors import ConfigError

__all__ = ["FORMATS", "Inventory", "LightSpec", "load_inventory", "parse_inventory"]

FORMATS: Final = ("tasmota", "esphome", "json")
_ID: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_CHANNEL: Final = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
_MAX_LIGHTS: Final = 100_000


class LightSpec(StrictModel):
    """One light of the inventory."""

    id: str = Field(description="light id: the `light` tag")
    device: str = Field(description="MQTT device: Tasmota topic, ESPHome node name, or our own device id")
    channel: str | None = Field(None, description="relay/output of the device; empty = its only output")
    format: Literal["tasmota", "esphome", "json"]
    zone: str = Field(description="the `zone` tag, e.g. a hamlet or street")
    latitude: float = Field(ge=-90, le=90)
    longitude: float = Field(ge=-180, le=180)
    rated_w: float = Field(gt=0, le=100_000, description="rated lamp power, W")
    report_s: float | None = Field(None, gt=0, le=86_400, description="the device's report period, s")

    @field_validator("id", "zone")
    @classmethod
    def _tag_safe(cls, value: str) -> str:
        if not _ID.match(value):
            raise ValueError(f"{value!r}: use 1-64 letters, digits, '.', '_' or '-'")
        return value

    @field_validator("device")
    @classmethod
    def _topic_level(cls, value: str) -> str:
        if not 1 <= len(value) <= 128 or any(c in "/+#" or c.isspace() or ord(c) < 32 for c in value):
            raise ValueError(
                f"{value!r}: a device must be one MQTT topic level without '/', '+', '#' or spaces"
            )
        return value

    @field_validator("channel", mode="before")
    @classmethod
    def _channel(cls, value: Any) -> Any:
        if value is None or value == "":
            return None
        value = str(value)
        if not _CHANNEL.match(value):
            raise ValueError(f"{value!r}: use 1-32 letters, digits, '_' or '-'")
        return value


class Inventory:
    """The validated inventory with lookups by device and channel."""

    def __init__(self, lights: Sequence[LightSpec], *, source: str = "inventory") -> None:
        self.lights = tuple(lights)
        self.source = source
        by_device: dict[str, list[LightSpec]] = {}
        for light in self.lights:
            by_device.setdefault(light.device, []).append(light)
        self._by_device = {k: tuple(v) for k, v in by_device.items()}
        self._by_id = {light.id: light for light in self.lights}

    def __len__(self) -> int:
        return len(self.lights)

    def __iter__(self) -> Iterator[LightSpec]:
        return iter(self.lights)

    def light(self, light_id: str) -> LightSpec:
        return self._by_id[light_id]

    def of_device(self, device: str) -> tuple[LightSpec, ...]:
        """The device's lights in inventory order (empty for a device not in the inventory)."""
        return self._by_device.get(device, ())

    def resolve(self, device: str, channel: str) -> LightSpec | None:
        """The light on ``channel`` of ``device``: the row naming that channel, else the device's catch-all row."""
        catch_all = None
        for light in self.of_device(device):
            if light.channel == channel:
                return light
            if light.channel is None:
                catch_all = light
        return catch_all

    def devices(self) -> Mapping[str, tuple[LightSpec, ...]]:
        return self._by_device


def load_inventory(path: str | Path) -> Inventory:
    """Read and validate ``path`` (``.csv`` or ``.toml``); ``ConfigError`` lists every problem."""
    path = Path(path)
    try:
        content = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(f"{path}: cannot read the light inventory: {err}") from err
    kind: Literal["csv", "toml"] = "toml" if path.suffix.lower() == ".toml" else "csv"
    return parse_inventory(content, kind=kind, name=path.name)


def parse_inventory(content: str, *, kind: Literal["csv", "toml"], name: str = "inventory") -> Inventory:
    """Validate inventory text; see ``load_inventory``."""
    rows = _csv_rows(content, name) if kind == "csv" else _toml_rows(content, name)
    if len(rows) > _MAX_LIGHTS:
        raise ConfigError(f"{name}: {len(rows)} lights; at most {_MAX_LIGHTS} are supported")
    problems: list[str] = []
    lights: list[tuple[str, LightSpec]] = []
    for where, data in rows:
        try:
            lights.append((where, LightSpec.model_validate(data)))
        except ValidationError as err:
            for e in err.errors(include_url=False):
                key = ".".join(str(p) for p in e["loc"]) or "(row)"
                msg = (
                    "unknown column"
                    if e["type"] == "extra_forbidden"
                    else e["msg"].removeprefix("Value error, ")
                )
                if e["type"] == "missing":
                    msg = "required value is missing"
                path = f"{where}.{key}" if where.startswith("lights[") else f"{where}: {key}"
                problems.append(f"{name}: {path}: {msg}")
    problems += _cross_check(name, lights)
    if problems:
        raise ConfigError("\n".join(problems))
    if not lights:
        raise ConfigError(f"{name}: the light inventory is empty")
    return Inventory([light for _, light in lights], source=name)


def _csv_rows(content: str, name: str) -> list[tuple[str, dict[str, Any]]]:
    # Comment lines ("# ...") become blank lines, which the csv reader skips, so line numbers stay true.
    lines = ["\n" if line.lstrip().startswith("#") else line for line in content.splitlines(keepends=True)]
    skipped = 0
    while skipped < len(lines) and not lines[skipped].strip():
        skipped += 1
    reader = csv.DictReader(io.StringIO("".join(lines[skipped:])), skipinitialspace=True)
    if not reader.fieldnames:
        raise ConfigError(f"{name}: the light inventory is empty (no header line)")
    header = [h.strip() for h in reader.fieldnames]
    reader.fieldnames = header
    rows = []
    for record in reader:
        line = reader.line_num + skipped
        if None in record:
            raise ConfigError(f"{name}: line {line}: more cells than the header has columns")
        data = {k: (v.strip() if isinstance(v, str) else v) for k, v in record.items()}
        if all(not v for v in data.values()):
            continue
        rows.append(
            (f"line {line}", {k: v for k, v in data.items() if v not in ("", None) or k == "channel"})
        )
    return rows


def _toml_rows(content: str, name: str) -> list[tuple[str, dict[str, Any]]]:
    data = parse_toml(content, name)
    extra = set(data) - {"lights"}
    if extra:
        raise ConfigError(f"{name}: unknown key(s) {', '.join(sorted(extra))}; expected [[lights]] tables")
    lights = data.get("lights", [])
    if not isinstance(lights, list) or not all(isinstance(x, dict) for x in lights):
        raise ConfigError(f"{name}: lights: expected [[lights]] tables")
    return [(f"lights[{i}]", row) for i, row in enumerate(lights)]


def _cross_check(name: str, lights: Sequence[tuple[str, LightSpec]]) -> list[str]:
    problems = []
    ids: dict[str, str] = {}
    outputs: dict[tuple[str, str | None], str] = {}
    formats: dict[str, tuple[str, str]] = {}
    for where, light in lights:
        if light.id in ids:
            problems.append(f"{name}: {where}: id: {light.id!r} already used at {ids[light.id]}")
        ids.setdefault(light.id, where)
        key = (light.device, light.channel)
        if key in outputs:
            problems.append(
                f"{name}: {where}: channel: device {light.device!r} channel "
                f"{light.channel or '(only output)'} already used at {outputs[key]}"
            )
        outputs.setdefault(key, where)
        if light.device in formats and formats[light.device][0] != light.format:
            problems.append(
                f"{name}: {where}: format: device {light.device!r} is "
                f"{formats[light.device][0]} at {formats[light.device][1]}"
            )
        formats.setdefault(light.device, (light.format, where))
    by_device: dict[str, list[tuple[str, LightSpec]]] = {}
    for where, light in lights:
        by_device.setdefault(light.device, []).append((where, light))
    for device, rows in by_device.items():
        if len(rows) > 1 and any(light.channel is None for _, light in rows):
            where = next(w for w, light in rows if light.channel is None)
            problems.append(
                f"{name}: {where}: channel: device {device!r} has {len(rows)} lights, so each "
                "needs its channel"
            )
    return problems
