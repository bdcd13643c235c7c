"""Each figure and manual indicator described once, as data (Home Assistant's ``EntityDescription``).

A figure is a few named sums over a measurement and how they make a value: the criteria service reads the
sums through its hourly rollups, the Grafana panels from the raw samples, and both turn them into the value
and its coverage by the rules written here. Adding a criterion on an existing figure is a change to
``criteria.yaml``; a new figure is one description below (and its test).

Kinds of value:

- ``ratio``: ``100 * numerator / denominator``, time-weighted (sums of interval seconds) or a share of
  readings (counts). ``fallback`` is used instead when the window holds no denominator of the first ratio
  (Wi-Fi: opening hours when the gateway reports them, else all hours).
- ``daily_mean``: the mean, over the local days that have a point, of the day's sum over the village's
  members (Wi-Fi users per day over its access points).
- ``latest``: the last value in the window (a manual indicator).

Coverage, how much of the window the value stands on (0..1):

- ``observed``: ``sum(observed_s) / window``, capped at 1, and the mean over members when ``member_tag``
  is set (each light, each access point covers the window on its own);
- ``hours``: hours with a reading (``presence_field``) / hours of the window, the best-covered member;
- ``days``: local days with a point / local days the window touches;
- ``present``: 1 when the window holds a value (manual indicators).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Final

from thonminh.contract import INDICATOR, MODEM, STREETLIGHT, UPLINK, WIFI, WIFI_DAILY, Measurement

__all__ = [
    "FIGURES",
    "INDICATORS",
    "OBSERVED",
    "LIGHT_FAULT_LOOKBACK_S",
    "PER_DAY",
    "RSRP_LADDER",
    "SAMPLES",
    "UNIT_WORDS",
    "Coverage",
    "FigureDescription",
    "IndicatorDescription",
    "Kind",
    "Param",
    "Ratio",
    "Sum",
    "Title",
    "coverage_of_observed",
    "percent",
]

#: RSRP thresholds (dBm) counted per hour by the rollups, so "share of readings at or above X" is exact.
RSRP_LADDER: Final = tuple(range(-125, -70, 5))
#: how far back a light's current fault is looked for (the API's ``by_fault``, Grafana's faults and alert): its
#: newest sample's, else its newest in the dark: long enough to hold last night, so a lamp failure seen in the
#: dark stays listed through the next day
LIGHT_FAULT_LOOKBACK_S: Final = 48 * 3600
#: a figure's value per day, on every surface (the pages' and the dossier's daily charts, Grafana's bars per day):
#: a local calendar day of ``thonminh.contract.DAILY_TZ``, midnight to midnight, as InfluxDB's ``time(1d)`` with
#: ``tz()`` buckets it. No figure is described per night: a night's lighting is split at midnight on all of them.
PER_DAY: Final = "1d"
SLUG_PATTERN: Final = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"


@dataclass(frozen=True, slots=True)
class Title:
    vi: str
    en: str


#: each unit's words where a value or a threshold is written for people (pages, dossier, Grafana): one spelling
UNIT_WORDS: Final = {"%": Title("%", "%"), "users/day": Title("người dùng/ngày", "users/day")}


class Kind(StrEnum):
    RATIO = "ratio"
    DAILY_MEAN = "daily_mean"
    LATEST = "latest"


class Coverage(StrEnum):
    OBSERVED = "observed"
    HOURS = "hours"
    DAYS = "days"
    PRESENT = "present"


@dataclass(frozen=True, slots=True)
class Sum:
    """A named sum over a window: ``func(field)`` of the raw samples, counting only values ``>=`` the figure
    parameter ``at_least_param`` when set. The name is the hourly rollup's output name too."""

    name: str
    func: str
    field: str
    at_least_param: str | None = None

    def name_for(self, params: Mapping[str, Any]) -> str:
        """The rollup output holding this sum for these parameters (``rsrp_ge_110`` for -110 dBm)."""
        if self.at_least_param is None:
            return self.name
        return f"{self.name}_{-int(params[self.at_least_param])}"

    def at_least(self, params: Mapping[str, Any]) -> float | None:
        return None if self.at_least_param is None else float(params[self.at_least_param])


@dataclass(frozen=True, slots=True)
class Ratio:
    numerator: Sum
    denominator: Sum
    #: what the evidence's ``detail.basis`` calls this ratio where a figure has a fallback, in the API's words
    basis: str = "ratio"


@dataclass(frozen=True, slots=True)
class Param:
    """A parameter a criterion gives its figure; ``tag`` when it selects one value of that tag."""

    name: str
    kind: type
    required: bool = True
    choices: tuple[Any, ...] | None = None
    pattern: str | None = None
    tag: str | None = None


@dataclass(frozen=True, slots=True)
class FigureDescription:
    key: str
    title: Title
    measurement: Measurement
    kind: Kind
    unit: str
    coverage: Coverage
    #: the formula in words, for people (the dossier, Grafana's panel descriptions)
    description: Title
    ratio: Ratio | None = None
    fallback: Ratio | None = None
    #: the field a ``daily_mean`` or ``latest`` figure reads
    value_field: str | None = None
    #: members that each cover the window on their own (lights, access points, modems)
    member_tag: str | None = None
    params: tuple[Param, ...] = ()
    #: the sum whose count of readings is the evidence's ``samples``
    samples: Sum | None = None
    #: the field every reading of the measurement carries: an hour with one counts for ``hours`` coverage
    presence_field: str | None = None

    def param(self, name: str) -> Param:
        for p in self.params:
            if p.name == name:
                return p
        raise KeyError(f"{self.key} has no parameter {name!r}")

    def sums(self) -> tuple[Sum, ...]:
        """Every sum the value, its fallback, the samples and the coverage need, each once."""
        found: dict[str, Sum] = {}
        for ratio in (self.ratio, self.fallback):
            if ratio is not None:
                found.setdefault(ratio.numerator.name, ratio.numerator)
                found.setdefault(ratio.denominator.name, ratio.denominator)
        if self.samples is not None:
            found.setdefault(self.samples.name, self.samples)
        if self.coverage is Coverage.OBSERVED:
            found.setdefault(OBSERVED.name, OBSERVED)
        return tuple(found.values())

    def tag_filters(self, params: Mapping[str, Any]) -> dict[str, str]:
        """``{tag: value}`` for the parameters that select one value of a tag (``link = fiber``)."""
        return {p.tag: str(params[p.name]) for p in self.params if p.tag and params.get(p.name) is not None}


def percent(part: float, whole: float) -> float | None:
    """``part / whole`` in percent, ``None`` when there is nothing to divide by."""
    return 100.0 * part / whole if whole > 0 else None


def coverage_of_observed(observed_s: float, window_s: float) -> float:
    # A sample belongs to the window holding its timestamp, so the first one can reach back past the window's
    # start: coverage is capped at 1, as unknown time is at 0.
    return min(1.0, observed_s / window_s) if window_s > 0 else 0.0


OBSERVED: Final = Sum("observed_s", "sum", "observed_s")
SAMPLES: Final = Sum("samples", "count", "observed_s")


def _seconds(name: str) -> Sum:
    return Sum(name, "sum", name)


FIGURES: Final[Mapping[str, FigureDescription]] = {
    f.key: f
    for f in (
        FigureDescription(
            "uplink.availability",
            Title("Tỷ lệ hoạt động của đường truyền", "Uplink availability"),
            UPLINK,
            Kind.RATIO,
            "%",
            Coverage.OBSERVED,
            Title(
                "sum(up_s) / sum(observed_s) của một đường truyền", "sum(up_s) / sum(observed_s) of one link"
            ),
            ratio=Ratio(_seconds("up_s"), OBSERVED),
            samples=SAMPLES,
            params=(Param("link", str, pattern=SLUG_PATTERN, tag="link"),),
        ),
        FigureDescription(
            "wifi.service",
            Title("Wi-Fi công cộng hoạt động", "Public Wi-Fi service"),
            WIFI,
            Kind.RATIO,
            "%",
            Coverage.OBSERVED,
            Title(
                "sum(up_open_s) / sum(open_s) khi gateway báo giờ mở cửa trong khoảng thời gian, "
                "nếu không thì sum(up_s) / sum(observed_s)",
                "sum(up_open_s) / sum(open_s) when the gateway reports opening hours in the window, "
                "else sum(up_s) / sum(observed_s)",
            ),
            ratio=Ratio(_seconds("up_open_s"), _seconds("open_s"), "opening_hours"),
            fallback=Ratio(_seconds("up_s"), OBSERVED, "all_hours"),
            samples=SAMPLES,
            member_tag="ap",
            params=(Param("ap", str, required=False, pattern=SLUG_PATTERN, tag="ap"),),
        ),
        FigureDescription(
            "wifi.daily_users",
            Title("Người dùng Wi-Fi mỗi ngày", "Wi-Fi users per day"),
            WIFI_DAILY,
            Kind.DAILY_MEAN,
            "users/day",
            Coverage.DAYS,
            Title(
                "trung bình trên các ngày (giờ địa phương) có dữ liệu của số người dùng khác nhau trong ngày, "
                "cộng mọi điểm phát",
                "mean over local days with data of the day's unique users, summed over the access points",
            ),
            value_field="unique_users",
            member_tag="ap",
            params=(Param("ap", str, required=False, pattern=SLUG_PATTERN, tag="ap"),),
        ),
        FigureDescription(
            "lighting.availability",
            Title("Đèn sáng đúng lịch", "Street lights lit when scheduled"),
            STREETLIGHT,
            Kind.RATIO,
            "%",
            Coverage.OBSERVED,
            Title(
                "sum(lit_when_expected_s) / sum(expected_on_s) trên mọi đèn",
                "sum(lit_when_expected_s) / sum(expected_on_s) over all lights",
            ),
            ratio=Ratio(_seconds("lit_when_expected_s"), _seconds("expected_on_s")),
            samples=SAMPLES,
            member_tag="light",
        ),
        FigureDescription(
            "modem.registered_share",
            Title("Modem 4G đăng ký mạng", "4G modem registered"),
            MODEM,
            Kind.RATIO,
            "%",
            Coverage.HOURS,
            Title(
                "tỷ lệ số lần đọc modem đã đăng ký mạng (mạng nhà hoặc chuyển vùng)",
                "share of modem readings registered (home or roaming)",
            ),
            ratio=Ratio(Sum("registered", "sum", "registered"), Sum("samples", "count", "registered")),
            samples=Sum("samples", "count", "registered"),
            member_tag="modem",
            presence_field="registered",
        ),
        FigureDescription(
            "modem.rsrp_share",
            Title("Tín hiệu 4G đạt mức", "4G signal at level"),
            MODEM,
            Kind.RATIO,
            "%",
            Coverage.HOURS,
            Title(
                "tỷ lệ số lần đọc RSRP từ rsrp_min_dbm trở lên",
                "share of RSRP readings at or above rsrp_min_dbm",
            ),
            ratio=Ratio(
                Sum("rsrp_ge", "count", "rsrp_dbm", at_least_param="rsrp_min_dbm"),
                Sum("rsrp_samples", "count", "rsrp_dbm"),
            ),
            samples=Sum("rsrp_samples", "count", "rsrp_dbm"),
            member_tag="modem",
            presence_field="registered",
            params=(Param("rsrp_min_dbm", int, choices=RSRP_LADDER),),
        ),
        FigureDescription(
            "indicator.value",
            Title("Chỉ số nhập tay", "Manual indicator"),
            INDICATOR,
            Kind.LATEST,
            "",
            Coverage.PRESENT,
            Title(
                "giá trị nhập tay mới nhất trong khoảng thời gian",
                "the latest manual indicator value in the window",
            ),
            value_field="value",
            params=(Param("indicator", str, pattern=r"^[a-z][a-z0-9_]{0,63}$", tag="indicator"),),
        ),
    )
}


@dataclass(frozen=True, slots=True)
class IndicatorDescription:
    """A figure no gateway measures: entered by an official, with its fixed unit and valid range."""

    key: str
    title: Title
    unit: str
    minimum: float
    maximum: float
    description: str = ""
    aliases: tuple[str, ...] = field(default_factory=tuple)


INDICATORS: Final[Mapping[str, IndicatorDescription]] = {
    i.key: i
    for i in (
        IndicatorDescription(
            "eid_adoption_pct",
            Title(
                "Tỷ lệ người dân kích hoạt định danh điện tử (VNeID)",
                "Share of residents with an activated e-ID (VNeID)",
            ),
            "%",
            0.0,
            100.0,
            "share of the village's residents with an activated level-2 electronic ID",
        ),
    )
}
