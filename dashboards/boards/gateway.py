"""Gateway health: buffer depth and lag, drops, dead letters, clock sync, last seen, temperature."""

from __future__ import annotations

from dashboards.boards.common import village_variables
from dashboards.influxql import VILLAGE_SCOPE, Select, agg, field_ref
from dashboards.model import Dashboard, Panel, Row, Text, Threshold
from dashboards.panels import SYNC_MAP, grafana_unit, state_timeline, table, timeseries
from thonminh.contract import GATEWAY

__all__ = ["build", "last_seen"]

S = VILLAGE_SCOPE
BY_GW = ("village", "gateway")


def _series(fn: str, field: str, fill: str = "none") -> Select:
    return Select(
        GATEWAY, (agg(fn, GATEWAY, field),), group_tags=BY_GW, time="$__interval", fill=fill, scope=S
    )


def _increase(field: str) -> Select:
    # counters since the buffer was created: per-interval increase, restarts (counter resets) dropped
    return Select(
        GATEWAY,
        (f"non_negative_difference(max({field_ref(GATEWAY, field)}))",),
        group_tags=BY_GW,
        time="$__interval",
        fill="none",
        scope=S,
    )


def last_seen(scope: tuple[str, ...]) -> Panel:
    """When each gateway last reported (the time column), its version and uptime."""
    q = Select(GATEWAY, (agg("last", GATEWAY, "uptime_s", "uptime_s"),), group_tags=BY_GW, scope=scope)
    version = Select(GATEWAY, (agg("last", GATEWAY, "version", "version"),), group_tags=BY_GW, scope=scope)
    return table(
        Text("Lần cuối liên lạc", "Last seen"),
        q.query(table=True),
        version.query(table=True),
        description=Text(
            "Cột thời gian của truy vấn A là lần cuối gateway gửi số liệu.",
            "The time column of query A is when each gateway last reported; query B its version.",
        ),
        overrides=(
            {
                "matcher": {"id": "byName", "options": "uptime_s"},
                "properties": [{"id": "unit", "value": grafana_unit(GATEWAY, "uptime_s")}],
            },
        ),
        transformations=({"id": "joinByField", "options": {"byField": "gateway", "mode": "outer"}},),
        renames=(("uptime_s", Text("Thời gian chạy", "Uptime")), ("version", Text("Phiên bản", "Version"))),
    )


def build() -> Dashboard:
    buffer_row = Row(
        Text("Bộ đệm", "Buffer"),
        (
            timeseries(
                Text("Số điểm chờ gửi", "Points waiting"),
                _series("max", "buffer_points").query(),
                min=0,
                decimals=0,
            ),
            timeseries(
                Text("Độ trễ gửi", "Forwarding lag"),
                _series("max", "lag_s").query(),
                unit=grafana_unit(GATEWAY, "lag_s"),
                description=Text(
                    "Tuổi của điểm cũ nhất chưa gửi.", "Age of the oldest unsent point; alert above 1 h."
                ),
                thresholds=(Threshold(None, "green"), Threshold(3600, "red")),
                min=0,
                custom={"thresholdsStyle": {"mode": "line"}},
            ),
            timeseries(
                Text("Dung lượng bộ đệm", "Buffer size"),
                _series("max", "buffer_bytes").query(),
                unit=grafana_unit(GATEWAY, "buffer_bytes"),
                min=0,
            ),
            timeseries(
                Text("Điểm bị bỏ và bị từ chối", "Dropped and rejected points"),
                _increase("dropped_total").query(alias="$tag_village $tag_gateway dropped"),
                _increase("rejected_total").query(alias="$tag_village $tag_gateway rejected / dead letters"),
                description=Text(
                    "Bỏ: vượt giới hạn ổ đĩa; từ chối: dữ liệu sai hoặc thư chết.",
                    "Dropped by the disk budget; rejected as malformed or dead-lettered (per interval).",
                ),
                min=0,
                decimals=0,
            ),
        ),
    )
    health_row = Row(
        Text("Tình trạng", "Health"),
        (
            state_timeline(
                Text("Đồng bộ đồng hồ", "Clock synchronised"),
                _series("last", "clock_synced", "null").query(),
                mappings=SYNC_MAP,
            ),
            last_seen(S),
            timeseries(
                Text("Nhiệt độ CPU", "CPU temperature"),
                _series("mean", "cpu_temp_c").query(),
                unit=grafana_unit(GATEWAY, "cpu_temp_c"),
            ),
            timeseries(
                Text("Thời gian chạy", "Uptime"),
                _series("last", "uptime_s").query(),
                unit=grafana_unit(GATEWAY, "uptime_s"),
            ),
        ),
    )
    return Dashboard(
        uid="thonminh-gateway",
        title=Text("Tình trạng gateway", "Gateway health"),
        description=Text(
            "Gateway tại nhà văn hóa: bộ đệm, đồng hồ, liên lạc.",
            "The village gateway: buffer, clock, last seen.",
        ),
        rows=(buffer_row, health_row),
        variables=village_variables(),
        time_from="now-24h",
    )
