"""Panel factories shared by the dashboards: stat, time series, bars, state timeline, table, geomap.

Units come from the contract's field descriptors (``grafana_unit``), so a field's unit is declared once.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dashboards.model import Panel, Query, Text, Threshold, ValueMap
from thonminh.contract import Measurement
from thonminh.display import LIGHT_FAULTS

__all__ = [
    "FAULT_MAP",
    "LIT_MAP",
    "UP_MAP",
    "bars",
    "geomap",
    "grafana_unit",
    "stat",
    "state_timeline",
    "table",
    "timeseries",
]

#: contract unit -> Grafana unit id
_UNITS = {
    "ms": "ms",
    "%": "percent",
    "dBm": "dBm",
    "dB": "dB",
    "s": "s",
    "B": "decbytes",
    "W": "watt",
    "V": "volt",
    "A": "amp",
    "kWh": "kwatth",
    "°C": "celsius",
}


def grafana_unit(m: Measurement, field: str) -> str | None:
    """The Grafana unit of a contract field, from the field's declared unit."""
    return _UNITS.get(m.field(field).unit)


UP_MAP = (
    ValueMap("1", Text("Hoạt động", "Up"), "green"),
    ValueMap("0", Text("Mất kết nối", "Down"), "red"),
)
ACTIVE_MAP = (
    ValueMap("1", Text("Đang dùng", "Active"), "blue"),
    ValueMap("0", Text("Dự phòng", "Standby"), "transparent"),
)
LIT_MAP = (
    ValueMap("1", Text("Sáng", "Lit"), "yellow"),
    ValueMap("0", Text("Tắt", "Dark"), "dark-blue"),
)
SYNC_MAP = (
    ValueMap("1", Text("Đã đồng bộ", "Synchronised"), "green"),
    ValueMap("0", Text("Chưa đồng bộ", "Not synchronised"), "orange"),
)
REGISTERED_MAP = (
    ValueMap("1", Text("Đã đăng ký mạng", "Registered"), "green"),
    ValueMap("0", Text("Chưa đăng ký", "Not registered"), "red"),
)
#: each light fault in the words and colour of thonminh/display.py, as the pages and the dossier name it
FAULT_MAP = tuple(
    ValueMap(fault, Text(f.title.vi, f.title.en), f.colour) for fault, f in LIGHT_FAULTS.items()
)

PERCENT = {"unit": "percent", "min": 0, "max": 100, "decimals": 2}


def stat(title: Text, *queries: Query, description: Text | None = None, **kw: Any) -> Panel:
    """One big number per series, coloured by thresholds or value mappings."""
    options = {
        "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
        "colorMode": "background",
        "graphMode": "none",
        "justifyMode": "auto",
        "orientation": "auto",
        "textMode": "value_and_name",
        "wideLayout": True,
        "showPercentChange": False,
    }
    kw.setdefault("width", 6)
    kw.setdefault("height", 5)
    return Panel("stat", title, tuple(queries), description, options=options, **kw)


def timeseries(
    title: Text,
    *queries: Query,
    description: Text | None = None,
    custom: Mapping[str, Any] | None = None,
    **kw: Any,
) -> Panel:
    base = {"drawStyle": "line", "lineWidth": 1, "fillOpacity": 10, "spanNulls": False, "showPoints": "never"}
    base.update(custom or {})
    options = {
        "legend": {"displayMode": "list", "placement": "bottom", "showLegend": True, "calcs": []},
        "tooltip": {"mode": "multi", "sort": "none"},
    }
    kw.setdefault("width", 12)
    kw.setdefault("height", 8)
    return Panel("timeseries", title, tuple(queries), description, custom=base, options=options, **kw)


def bars(title: Text, *queries: Query, description: Text | None = None, **kw: Any) -> Panel:
    """A time series drawn as bars (one bar per day)."""
    return timeseries(
        title, *queries, description=description, custom={"drawStyle": "bars", "fillOpacity": 80}, **kw
    )


def state_timeline(title: Text, *queries: Query, description: Text | None = None, **kw: Any) -> Panel:
    options = {
        "mergeValues": True,
        "showValue": "never",
        "alignValue": "left",
        "rowHeight": 0.9,
        "legend": {"displayMode": "list", "placement": "bottom", "showLegend": True},
        "tooltip": {"mode": "single", "sort": "none"},
    }
    kw.setdefault("width", 12)
    kw.setdefault("height", 8)
    return Panel(
        "state-timeline",
        title,
        tuple(queries),
        description,
        custom={"fillOpacity": 80, "lineWidth": 0},
        options=options,
        color={"mode": "thresholds"},
        **kw,
    )


def table(
    title: Text, *queries: Query, description: Text | None = None, sort_by: str | None = None, **kw: Any
) -> Panel:
    options: dict[str, Any] = {
        "showHeader": True,
        "cellHeight": "sm",
        "footer": {"show": False, "reducer": ["sum"]},
    }
    if sort_by:
        options["sortBy"] = [{"displayName": sort_by, "desc": False}]
    kw.setdefault("width", 12)
    kw.setdefault("height", 8)
    return Panel(
        "table",
        title,
        tuple(queries),
        description,
        custom={"align": "auto", "filterable": True, "cellOptions": {"type": "auto"}},
        options=options,
        **kw,
    )


def geomap(
    title: Text,
    lights: Query,
    faulty: Query,
    *,
    latitude: str,
    longitude: str,
    description: Text | None = None,
    **kw: Any,
) -> Panel:
    """Every light at its coordinates, coloured by lit/dark, and faulty lights as red markers on top."""

    def layer(name: str, ref_id: str, color: dict[str, Any], size: int) -> dict[str, Any]:
        return {
            "type": "markers",
            "name": name,
            "filterData": {"id": "byRefId", "options": ref_id},
            "location": {"mode": "coords", "latitude": latitude, "longitude": longitude},
            "config": {
                "showLegend": True,
                "style": {
                    "color": color,
                    "opacity": 0.9,
                    "size": {"fixed": size},
                    "symbol": {"fixed": "img/icons/marker/circle.svg", "mode": "fixed"},
                },
            },
            "tooltip": True,
        }

    options = {
        "view": {"id": "fit", "lat": 0, "lon": 0, "zoom": 16, "allLayers": True},
        "controls": {"showZoom": True, "mouseWheelZoom": True, "showAttribution": True},
        "basemap": {"type": "default", "name": "Basemap"},
        "layers": [
            layer("lights", "A", {"field": "on", "fixed": "green"}, 8),
            layer("faults", "B", {"fixed": "red"}, 12),
        ],
        "tooltip": {"mode": "details"},
    }
    kw.setdefault("width", 12)
    kw.setdefault("height", 12)
    return Panel(
        "geomap",
        title,
        (lights, faulty),
        description,
        options=options,
        thresholds=(Threshold(None, "dark-blue"), Threshold(1, "yellow")),
        color={"mode": "thresholds"},
        **kw,
    )
