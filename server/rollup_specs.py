"""What the rollups hold, as data: for each rolled measurement, its hourly rollup's outputs (sums and counts of
the raw samples, one statement per condition) and its daily rollup. ``server.rollups`` writes them;
``server.reader`` and ``server.plan`` read them.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from server.queries import Agg
from thonminh.contract import MODEM, STREETLIGHT, UPLINK, WIFI, FieldType, Measurement
from thonminh.figures import FIGURES
from thonminh.influx import quote_ident

__all__ = ["SPECS", "Output", "RollupSpec", "specs_version"]


@dataclass(frozen=True, slots=True)
class Output:
    """One rollup field: ``func(field)`` of the raw samples, optionally only those matching ``condition``."""

    name: str
    func: str
    field: str
    condition: str | None = None
    integer: bool = False


@dataclass(frozen=True, slots=True)
class RollupSpec:
    """Hourly rollup ``name`` of ``source``; the daily rollup ``daily`` sums the hourly one per UTC day and
    adds ``hours``, the number of hourly points (hours with samples)."""

    source: Measurement
    name: str
    outputs: tuple[Output, ...]

    @property
    def daily(self) -> str:
        return self.name.removesuffix("_1h") + "_1d"

    def daily_aggs(self) -> list[Agg]:
        return [Agg("sum", o.name, o.name) for o in self.outputs] + [Agg("count", "samples", "hours")]

    def groups(self, names: Iterable[str] | None = None) -> dict[str | None, list[Output]]:
        """Outputs by condition: one statement per condition."""
        wanted = set(names) if names is not None else None
        grouped: dict[str | None, list[Output]] = defaultdict(list)
        for out in self.outputs:
            if wanted is None or out.name in wanted:
                grouped[out.condition].append(out)
        return dict(grouped)


def _interval_spec(m: Measurement) -> RollupSpec:
    """Every interval field of the contract (e.g. Wi-Fi ``open_s``/``up_open_s``) summed, and the samples."""
    seconds = [f.name for f in m.fields.values() if f.interval_seconds or f.name == "observed_s"]
    outputs = [Output(name, "sum", name) for name in seconds]
    outputs.append(Output("samples", "count", "observed_s", integer=True))
    return RollupSpec(m, f"{m.name}_1h", tuple(outputs))


def _figures_spec(m: Measurement) -> RollupSpec:
    """The sums the core's figure descriptions need from ``m``, one output per value of a threshold parameter
    (``rsrp_ge_110`` for RSRP >= -110 dBm), so every figure on ``m`` is exact from the rollups."""
    outputs: dict[str, Output] = {}
    for desc in FIGURES.values():
        if desc.measurement is not m:
            continue
        for s in desc.sums():
            integer = s.func == "count" or m.fields[s.field].type is FieldType.INT
            if s.at_least_param is None:
                outputs.setdefault(s.name, Output(s.name, s.func, s.field, integer=integer))
                continue
            for choice in desc.param(s.at_least_param).choices or ():
                name = s.name_for({s.at_least_param: choice})
                outputs.setdefault(
                    name,
                    Output(name, s.func, s.field, f"{quote_ident(s.field)} >= {choice}", integer=integer),
                )
    return RollupSpec(m, f"{m.name}_1h", tuple(outputs.values()))


SPECS: dict[str, RollupSpec] = {
    UPLINK.name: _interval_spec(UPLINK),
    WIFI.name: _interval_spec(WIFI),
    STREETLIGHT.name: _interval_spec(STREETLIGHT),
    MODEM.name: _figures_spec(MODEM),
}


def specs_version() -> str:
    """Changes whenever an output changes: stored rollups made by other definitions are rebuilt."""
    text = repr(sorted((s.name, s.daily, s.outputs) for s in SPECS.values()))
    return hashlib.sha256(text.encode()).hexdigest()[:12]
