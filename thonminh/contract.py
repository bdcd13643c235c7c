"""The data contract: measurements, tags, fields, units and their line-protocol encoding.

This is the one place the names live. The gateway writes them, the criteria service and the dashboards read
them; everything imports from here. See ``docs/data-model.md`` for the prose version.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import Final

from thonminh.slugs import SLUG_MAX, SLUG_PATTERN, check_slug, slugify

__all__ = [
    "DAILY_TZ",
    "MEASUREMENTS",
    "SITE_TAGS",
    "SLUG_MAX",
    "SLUG_PATTERN",
    "CRITERION_VERDICT",
    "VERIFICATION_HOURLY",
    "VERIFICATION_RP",
    "Field",
    "FieldType",
    "Measurement",
    "Point",
    "check_slug",
    "slugify",
    "measurement",
    "site_tags",
]

#: Day boundaries of daily figures (``wifi_daily``) and of the criteria service's per-day steps.
DAILY_TZ: Final = "Asia/Ho_Chi_Minh"

#: Tags every point carries. ``village`` and ``gateway`` are required; the rest are set when configured.
SITE_TAGS: Final = ("village", "gateway", "commune", "district", "province")
REQUIRED_SITE_TAGS: Final = ("village", "gateway")


class FieldType(StrEnum):
    INT = "int"
    FLOAT = "float"
    STRING = "string"


@dataclass(frozen=True, slots=True)
class Field:
    """One field of a measurement: its type, unit and meaning."""

    name: str
    type: FieldType
    unit: str = ""
    description: str = ""
    #: Interval seconds: summed over a window by the readers; must lie in ``0..observed_s``.
    interval_seconds: bool = False


@dataclass(frozen=True, slots=True)
class Measurement:
    """A measurement: its extra tags and fields. ``interval`` marks interval samples (see the contract)."""

    name: str
    tags: tuple[str, ...]
    fields: Mapping[str, Field]
    description: str
    interval: bool = False

    @property
    def all_tags(self) -> tuple[str, ...]:
        return SITE_TAGS + self.tags

    def field(self, name: str) -> Field:
        return self.fields[name]


def _m(
    name: str, tags: tuple[str, ...], description: str, *fields: Field, interval: bool = False
) -> Measurement:
    return Measurement(
        name=name,
        tags=tags,
        fields=MappingProxyType({f.name: f for f in fields}),
        description=description,
        interval=interval,
    )


INT, FLT, STR = FieldType.INT, FieldType.FLOAT, FieldType.STRING


def _secs(name: str, description: str) -> Field:
    return Field(name, FLT, "s", description, interval_seconds=True)


_OBSERVED = Field("observed_s", FLT, "s", "length of the interval this sample stands for")

UPLINK = _m(
    "uplink",
    ("link",),
    "one probe cycle of one uplink",
    Field("up", INT, "", "1 when at least min_ok targets answered in this cycle"),
    _secs("up_s", "seconds of the interval the link was up"),
    _OBSERVED,
    Field("rtt_ms", FLT, "ms", "median round-trip time of the answering targets; omitted when down"),
    Field("loss_pct", FLT, "%", "share of targets that did not answer, 0..100"),
    Field("targets_ok", INT, "", "targets that answered"),
    Field("targets_total", INT, "", "targets probed"),
    Field("active", INT, "", "1 when this link carries the default route now"),
    interval=True,
)
UPLINK_EVENT = _m(
    "uplink_event",
    ("link",),
    "a state transition of an uplink; time = the start of the first cycle in the new state",
    Field("state", STR, "", "'up' or 'down'"),
    Field("reason", STR, "", "why, e.g. 'targets unreachable', 'start'"),
    Field("previous_state_s", FLT, "s", "how long the previous state lasted"),
)
MODEM = _m(
    "modem",
    ("link", "modem"),
    "radio state of a cellular modem; unknown values are omitted, never written as 0",
    Field("registered", INT, "", "1 when registered (home or roaming)"),
    Field("reg_state", STR, "", "home, roaming, searching, denied, not_registered, unknown"),
    Field("operator", STR, "", "operator name as the modem reports it"),
    Field("access_tech", STR, "", "LTE, NR5G, WCDMA, GSM, ..."),
    Field("rssi_dbm", FLT, "dBm", "received signal strength"),
    Field("rsrp_dbm", FLT, "dBm", "LTE/NR reference signal received power"),
    Field("rsrq_db", FLT, "dB", "LTE/NR reference signal received quality"),
    Field("sinr_db", FLT, "dB", "signal to interference plus noise ratio"),
    Field("sim", STR, "", "ready, absent, pin, error"),
    Field(
        "available",
        INT,
        "",
        "1 when the modem answered this poll; 0 when its port was missing, silent or garbled",
    ),
)
WIFI = _m(
    "wifi",
    ("ap",),
    "public Wi-Fi access point, one interval sample per poll",
    Field("ap_up", INT, "", "1 when the AP answered and its SSID is up"),
    _secs("up_s", "seconds of the interval the AP was up"),
    _OBSERVED,
    Field("clients", INT, "", "associated stations now"),
    Field("rx_bytes", INT, "B", "bytes received from stations during this interval"),
    Field("tx_bytes", INT, "B", "bytes sent to stations during this interval"),
    _secs("open_s", "seconds of the interval inside the cultural house's opening hours (when configured)"),
    _secs("up_open_s", "seconds of the interval the AP was up inside opening hours (when configured)"),
    Field("dhcp_leases", INT, "", "active DHCP leases of the AP's dnsmasq now (a second sign of use)"),
    interval=True,
)
WIFI_DAILY = _m(
    "wifi_daily",
    ("ap",),
    "Wi-Fi use per local day; time = local midnight (Asia/Ho_Chi_Minh), rewritten as the day goes on",
    Field(
        "unique_users",
        INT,
        "",
        "distinct salted MAC hashes seen this day (the salt changes daily, so a "
        "week's use is a sum of user-days, not distinct people)",
    ),
    Field("sessions", INT, "", "associations started this day"),
)
STREETLIGHT = _m(
    "streetlight",
    ("light", "zone"),
    "one street light, one interval sample per light per tracker cadence",
    Field("on", INT, "", "1 when lit at the end of the interval"),
    Field("online", INT, "", "1 when the device is reachable"),
    Field("expected_on", INT, "", "1 when the schedule wants it lit at the end of the interval"),
    _OBSERVED,
    _secs("expected_on_s", "seconds the schedule wanted it lit"),
    _secs("lit_when_expected_s", "seconds it was lit while expected lit"),
    _secs("ok_s", "seconds it behaved as scheduled"),
    Field("power_w", FLT, "W", "latest active power"),
    Field("voltage_v", FLT, "V", "latest supply voltage"),
    Field("current_a", FLT, "A", "latest current"),
    Field("energy_kwh", FLT, "kWh", "latest energy counter"),
    Field("fault", STR, "", "'', lamp_failure, day_burning, dark, offline, stale"),
    Field("latitude", FLT, "°", "pole position from the light inventory (for maps)"),
    Field("longitude", FLT, "°", "pole position from the light inventory (for maps)"),
    Field("rated_w", FLT, "W", "rated lamp power from the light inventory"),
    interval=True,
)
GATEWAY = _m(
    "gateway",
    (),
    "self-metrics of the gateway agent",
    Field("uptime_s", FLT, "s", "agent uptime"),
    Field("buffer_points", INT, "", "points waiting in the buffer"),
    Field("buffer_bytes", INT, "B", "bytes of points waiting in the buffer"),
    Field("forwarded_total", INT, "", "points written to InfluxDB since the buffer was created"),
    Field("dropped_total", INT, "", "points dropped by the disk budget"),
    Field(
        "rejected_total",
        INT,
        "",
        "inputs refused (malformed, from an unknown device, on a topic no format "
        "reads) and points dead-lettered, since the buffer was created: the sum of the rejected_* fields and "
        "dead_letter_total",
    ),
    Field("rejected_unknown_device", INT, "", "light messages from devices not in the light inventory"),
    Field(
        "rejected_ignored_topic",
        INT,
        "",
        "light messages on a topic no format reads (commands, firmware topics)",
    ),
    Field("rejected_topic_too_long", INT, "", "light messages whose topic is longer than the lights' limit"),
    Field("rejected_bad_topic", INT, "", "light messages with an empty topic or one that is not UTF-8"),
    Field("rejected_payload_too_large", INT, "", "light messages longer than max_payload_bytes"),
    Field("rejected_bad_payload", INT, "", "light messages that are not what their topic promises"),
    Field("rejected_adapter_error", INT, "", "light messages an adapter failed on (a bug of ours)"),
    Field("rejected_other", INT, "", "other refused inputs: a modem's or an AP's output that does not parse"),
    Field("dead_letter_total", INT, "", "points that could not be encoded or that InfluxDB refused"),
    Field("lag_s", FLT, "s", "age of the oldest unsent point"),
    Field("clock_synced", INT, "", "1 when the system clock is synchronised"),
    Field("cpu_temp_c", FLT, "°C", "SoC temperature where the board has a sensor"),
    Field("version", STR, "", "thonminh version"),
)
INDICATOR = _m(
    "indicator",
    ("indicator",),
    "a manual indicator entered by an official",
    Field("value", FLT, "", "the value"),
    Field("unit", STR, "", "its unit, e.g. '%'"),
    Field("source", STR, "", "who entered it"),
    Field("entered_ms", INT, "ms", "when it was entered (its indicator_entry point's time)"),
    Field("key", STR, "", "fingerprint of the criteria service's key that signed it (docs/evidence.md)"),
    Field("sig", STR, "", "base64 Ed25519 signature of the point's indicator message"),
)
INDICATOR_ENTRY = _m(
    "indicator_entry",
    ("indicator",),
    "the record of every manual indicator entry, never overwritten; time = when it was entered",
    Field("value", FLT, "", "the value entered"),
    Field("unit", STR, "", "its unit, fixed per indicator"),
    Field("source", STR, "", "who entered it (the note and the admin key's name)"),
    Field("note", STR, "", "the official's note"),
    Field("as_of_ms", INT, "ms", "the time the value stands for (the indicator point's time)"),
    Field("corrects", STR, "", "the entry this one corrects (its entry time, ISO 8601), or ''"),
    Field("seq", INT, "", "the entry's number among the village's entries, from 1: the record's chain"),
    Field("prev", STR, "", "SHA-256 (hex) of the previous entry's indicator message, '' for the first"),
    Field("key", STR, "", "fingerprint of the criteria service's key that signed it"),
    Field("sig", STR, "", "base64 Ed25519 signature of the point's indicator message"),
)

EVIDENCE = _m(
    "evidence",
    ("slot",),
    "a gateway's signed manifest of one batch (thonminh/evidence.py); time = its points' UTC hour + seq ms; tag "
    "slot = epoch % 16; every point it signs carries the int field evidence_seq = epoch * 2**32 + seq",
    Field("epoch", INT, "", "starts again after each start that lost the gateway's RAM state (a power cut)"),
    Field("seq", INT, "", "the manifest's number in its epoch, consecutive"),
    Field("prev", STR, "", "SHA-256 (hex) of the previous manifest's signed message: the chain"),
    Field("count", INT, "", "points signed"),
    Field("first_ms", INT, "ms", "time of the first point signed"),
    Field("last_ms", INT, "ms", "time of the last point signed"),
    Field(
        "signed_ms",
        INT,
        "ms",
        "when the gateway signed it (its clock): the key's validity period is held against it",
    ),
    Field("points_sha256", STR, "", "SHA-256 (hex) of the digests"),
    Field(
        "digests",
        STR,
        "",
        "base64 of 12 bytes per point, sorted: CRC-32 of series and time, then 8 bytes of "
        "SHA-256 of the canonical point",
    ),
    Field("key", STR, "", "fingerprint of the signing key (16 hex digits of SHA-256 of the raw public key)"),
    Field("sig", STR, "", "base64 Ed25519 signature of the manifest's message"),
)

#: Not a gateway's measurement, so not in ``MEASUREMENTS`` (nothing signs it, nothing verifies it): the criteria
#: service's display copy of its own verification results, per village and UTC hour, for Grafana, which reads
#: InfluxDB only (server/evidence_display.py). Its points live in the retention policy ``VERIFICATION_RP``
#: under the verified measurement's own name (``"thonminh_verified"."uplink"``): InfluxQL merges a subquery's
#: series by measurement name, so one statement can put a figure's value beside its verified share. The API
#: never reads it back: whoever can forge data can forge this too (docs/evidence.md).
VERIFICATION_RP: Final = "thonminh_verified"
VERIFICATION_HOURLY = _m(
    "verification_hourly",
    (),
    "the criteria service's verification of one village's hour of one measurement; a display copy for "
    "Grafana, written as VERIFICATION_RP.<the measurement>",
    Field("points", INT, "", "points of the measurement in the hour"),
    Field("verified_points", INT, "", "of them, points covered by a valid signed manifest"),
    Field("faults", INT, "", "faults found that may touch the measurement"),
)

#: The other display copy in ``VERIFICATION_RP`` (server/verdict_display.py), for Grafana's verdict panels,
#: province table and criterion alerts: the service's own verdicts, so Grafana never reads a month of raw points
#: to show one. A point per village and criterion, stamped at the end of the default windows it was evaluated
#: over (the last whole hour); trusted no more than the rollups, never read back by the API.
CRITERION_VERDICT = _m(
    "criterion_verdict",
    ("criterion",),
    "the criteria service's verdict of one village on one criterion over the criterion's default window, which "
    "ends at the point's time; a display copy for Grafana, written in VERIFICATION_RP",
    Field("verdict", STR, "", "pass, fail, insufficient_data or unverified, as the API answers"),
    Field("value", FLT, "", "the figure over the window, in the criterion's unit; absent when there is none"),
    Field("coverage", FLT, "", "the figure's coverage of the window, 0 to 1"),
    Field(
        "verified_pct", FLT, "%", "share of the figure's samples signed evidence covers; absent when unknown"
    ),
    Field("village_name", STR, "", "the village's name as server.toml gives it, else its slug"),
)

MEASUREMENTS: Final[Mapping[str, Measurement]] = MappingProxyType(
    {
        m.name: m
        for m in (
            UPLINK,
            UPLINK_EVENT,
            MODEM,
            WIFI,
            WIFI_DAILY,
            STREETLIGHT,
            GATEWAY,
            INDICATOR,
            INDICATOR_ENTRY,
            EVIDENCE,
        )
    }
)


def measurement(name: str) -> Measurement:
    """The descriptor of a contract measurement; ``KeyError`` names unknown ones."""
    try:
        return MEASUREMENTS[name]
    except KeyError:
        raise KeyError(f"unknown measurement {name!r}; known: {', '.join(MEASUREMENTS)}") from None


FieldValue = int | float | str | bool


@dataclass(frozen=True, slots=True)
class Point:
    """One point: measurement, tags, fields and a UTC timestamp in milliseconds."""

    measurement: str
    tags: Mapping[str, str]
    fields: Mapping[str, FieldValue]
    time_ms: int
    #: Not part of the line: set by the pipeline when the timestamp could not be corrected.
    meta: Mapping[str, str] = field(default_factory=dict, compare=False)

    def with_time(self, time_ms: int) -> Point:
        return Point(self.measurement, self.tags, self.fields, time_ms, self.meta)


def site_tags(
    village: str,
    gateway: str,
    *,
    commune: str | None = None,
    district: str | None = None,
    province: str | None = None,
) -> dict[str, str]:
    """The site tags for every point of one gateway, leaving out the ones not configured."""
    tags = {
        "village": village,
        "gateway": gateway,
        "commune": commune,
        "district": district,
        "province": province,
    }
    return {k: v for k, v in tags.items() if v}
