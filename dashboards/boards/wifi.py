"""Public Wi-Fi: service availability, clients, unique users per day and week, traffic."""

from __future__ import annotations

from dashboards.boards.common import village_variables
from dashboards.boards.village import wifi_users_today
from dashboards.criteria import figure_thresholds
from dashboards.figures import FigureQuery
from dashboards.influxql import VILLAGE_SCOPE, Select, agg, field_ref
from dashboards.model import Dashboard, Row, Text, Threshold
from dashboards.panels import PERCENT, bars, grafana_unit, stat, timeseries
from thonminh.contract import WIFI, WIFI_DAILY
from thonminh.figures import FIGURES

__all__ = ["build"]

S = VILLAGE_SCOPE


def _daily_users() -> Select:
    # stamped at local midnight: ``daily`` reaches back to the first day's point, which is before the range
    return Select(
        WIFI_DAILY,
        (agg("last", WIFI_DAILY, "unique_users", "users"),),
        group_tags=("village", "ap"),
        time="1d",
        fill="none",
        tz=True,
        scope=S,
        daily=True,
    )


def build() -> Dashboard:
    service = FigureQuery(FIGURES["wifi.service"], scope=S)
    daily_users = FigureQuery(FIGURES["wifi.daily_users"], scope=S)
    traffic = Select(
        WIFI,
        (agg("sum", WIFI, "rx_bytes", "rx"), agg("sum", WIFI, "tx_bytes", "tx")),
        group_tags=("village",),
        scope=S,
    )
    summary = Row(
        Text("Tóm tắt", "Summary"),
        (
            stat(
                Text("Tỷ lệ phục vụ Wi-Fi", "Wi-Fi service"),
                service.query(service.value("service")),
                description=Text(
                    "Thời gian điểm phát hoạt động trong giờ mở cửa / giờ mở cửa (khi gateway báo giờ mở cửa), "
                    "nếu không thì trên mọi giờ; cộng mọi điểm phát của thôn.",
                    f"{service.desc.description.en}; all access points of the village.",
                ),
                thresholds=figure_thresholds(service.desc.key),
                width=6,
                **PERCENT,
            ),
            stat(
                Text("Người dùng Wi-Fi trung bình mỗi ngày", "Wi-Fi users per day (mean)"),
                daily_users.query(daily_users.value("users")),
                description=Text(
                    "Trung bình theo ngày (giờ Việt Nam) của số người dùng khác nhau, cộng mọi điểm phát.",
                    f"{daily_users.desc.description.en}; every local day the range touches counts.",
                ),
                thresholds=figure_thresholds(daily_users.desc.key),
                decimals=1,
                width=6,
            ),
            wifi_users_today(S),
            stat(
                Text("Lưu lượng trong khoảng thời gian", "Traffic in the selected range"),
                traffic.query(),
                description=Text(
                    "rx: từ người dùng, tx: tới người dùng.", "rx: received from stations, tx: sent to them."
                ),
                unit=grafana_unit(WIFI, "rx_bytes"),
                thresholds=(Threshold(None, "blue"),),
                width=8,
            ),
        ),
    )
    clients = Select(
        WIFI,
        (agg("mean", WIFI, "clients"),),
        group_tags=("village", "ap"),
        time="$__interval",
        fill="none",
        scope=S,
    )
    # bytes per interval -> bits per second, whatever the zoom: $__interval_ms is the bucket length
    rx, tx = field_ref(WIFI, "rx_bytes"), field_ref(WIFI, "tx_bytes")
    rate = Select(
        WIFI,
        (f'sum({rx}) * 8000 / $__interval_ms AS "rx"', f'sum({tx}) * 8000 / $__interval_ms AS "tx"'),
        group_tags=("village",),
        time="$__interval",
        fill="0",
        scope=S,
    )
    use = Row(
        Text("Sử dụng", "Use"),
        (
            timeseries(
                Text("Thiết bị đang kết nối", "Connected clients"), clients.query(), decimals=0, min=0
            ),
            timeseries(Text("Tốc độ truyền", "Throughput"), rate.query(), unit="bps", min=0),
        ),
    )
    weekly = Select(
        WIFI_DAILY,
        ('sum("users") AS "user_days"',),
        group_tags=("village",),
        time="7d",
        offset="4d",
        fill="none",
        tz=True,
        subquery=_daily_users(),
        daily=True,
    )
    users = Row(
        Text("Người dùng", "Users"),
        (
            bars(
                Text("Người dùng khác nhau mỗi ngày", "Unique users per day"),
                _daily_users().query(),
                description=Text(
                    "Mỗi cột là một ngày (giờ Việt Nam).", "One bar per local day and access point."
                ),
                decimals=0,
                min=0,
            ),
            bars(
                Text("Lượt người dùng mỗi tuần", "User-days per week"),
                weekly.query(),
                description=Text(
                    "Tổng số người dùng khác nhau của các ngày trong tuần (thứ Hai đến Chủ nhật); "
                    "một người dùng nhiều ngày được tính nhiều lần.",
                    "Sum of the daily unique users over each Monday-Sunday week: an upper bound of weekly unique "
                    "users (the contract has no weekly distinct count; see docs/dashboards.md).",
                ),
                decimals=0,
                min=0,
            ),
        ),
    )
    return Dashboard(
        uid="thonminh-wifi",
        title=Text("Wi-Fi công cộng", "Public Wi-Fi"),
        description=Text("Wi-Fi miễn phí tại nhà văn hóa.", "Free public Wi-Fi at the cultural house."),
        rows=(summary, use, users),
        variables=village_variables(),
    )
