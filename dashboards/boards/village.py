"""Village overview: the criteria verdicts, the state of each uplink, the lights, Wi-Fi users today."""

from __future__ import annotations

from dashboards.boards.common import village_variables
from dashboards.criteria import CRITERIA, coverage_panel, per_tag_thresholds, verdict_panel, verified_panel
from dashboards.figures import FigureQuery
from dashboards.influxql import VILLAGE_SCOPE, Select, agg, grouped_target
from dashboards.lightfaults import LOOKBACK, faulty_lights, panel_window
from dashboards.model import Dashboard, Panel, Row, Text, Threshold
from dashboards.panels import ACTIVE_MAP, PERCENT, UP_MAP, bars, stat
from thonminh.contract import STREETLIGHT, UPLINK, WIFI_DAILY
from thonminh.figures import FIGURES

__all__ = ["UID", "build", "criteria_rows", "lights_lit", "lights_faulty", "wifi_users_today"]

UID = "thonminh-village"


def criteria_rows(scope: tuple[str, ...]) -> tuple[Row, Row]:
    """A verdict stat and a coverage stat per criterion of ``thonminh/criteria.yaml``, over its window."""
    return (
        Row(
            Text(
                "Tiêu chí (mỗi tiêu chí theo khoảng thời gian của nó)", "Criteria (each over its own window)"
            ),
            tuple(verdict_panel(c, scope) for c in CRITERIA.criteria),
        ),
        Row(
            Text("Độ phủ dữ liệu của từng tiêu chí", "Data coverage of each criterion"),
            (*(coverage_panel(c, scope) for c in CRITERIA.criteria), verified_panel(scope)),
        ),
    )


def uplink_state(scope: tuple[str, ...]) -> Panel:
    q = Select(UPLINK, (agg("last", UPLINK, "up"),), group_tags=("village", "link"), scope=scope)
    return stat(
        Text("Trạng thái đường truyền", "Uplink state"),
        q.query(),
        description=Text("Kết quả đo gần nhất của từng đường truyền.", "Latest probe result of each uplink."),
        mappings=UP_MAP,
        time_from="1h",
    )


def uplink_active(scope: tuple[str, ...]) -> Panel:
    q = Select(UPLINK, (agg("last", UPLINK, "active"),), group_tags=("village", "link"), scope=scope)
    return stat(
        Text("Đường truyền đang dùng", "Active uplink"),
        q.query(),
        description=Text("Đường truyền mang tuyến mặc định.", "The link that carries the default route now."),
        mappings=ACTIVE_MAP,
        time_from="1h",
    )


def _per_light(expr: str, scope: tuple[str, ...]) -> Select:
    return Select(STREETLIGHT, (expr,), group_tags=("village", "light"), scope=scope)


def lights_lit(scope: tuple[str, ...]) -> Panel:
    inner = _per_light(agg("last", STREETLIGHT, "on", "on"), scope)
    q = Select(STREETLIGHT, ('sum("on")',), group_tags=("village",), subquery=inner)
    return stat(
        Text("Đèn đang sáng", "Lights lit"),
        q.query(),
        description=Text("Số đèn đang sáng theo báo cáo gần nhất.", "Lights lit in their latest sample."),
        thresholds=(Threshold(None, "yellow"),),
        time_from="1h",
        width=4,
    )


def lights_faulty(scope: tuple[str, ...]) -> Panel:
    """How many lights have a current fault: the rows of the lighting board's faults table and the API's
    ``by_fault``, by the same rule (``dashboards.lightfaults``), so a lamp failure seen last night counts by day
    too. The panel's range is the table's: the last ``LOOKBACK`` of the dashboard's range."""
    q = faulty_lights(scope, panel_window())
    return stat(
        Text("Đèn đang lỗi", "Faulty lights"),
        grouped_target(q, ("village",)),
        description=Text(
            "Số đèn đang lỗi, như danh sách sửa chữa và bảng đèn đang lỗi: lỗi của báo cáo gần nhất, hoặc lỗi "
            f"thấy lúc trời tối gần nhất trong {LOOKBACK} (đèn hỏng bóng ban ngày không báo lỗi).",
            "Lights with a current fault, as the API's by_fault and the faulty-lights table count them: the "
            f"fault of a light's latest sample, else of its latest sample in the dark, within the last {LOOKBACK} "
            "(a failed lamp reports nothing wrong by day).",
        ),
        thresholds=(Threshold(None, "green"), Threshold(1, "red")),
        width=4,
    )


def wifi_users_today(scope: tuple[str, ...]) -> Panel:
    # wifi_daily is stamped at local midnight: within the last 24 h the latest point per AP is today's.
    inner = Select(
        WIFI_DAILY,
        (agg("last", WIFI_DAILY, "unique_users", "users"),),
        group_tags=("village", "ap"),
        scope=scope,
    )
    q = Select(WIFI_DAILY, ('sum("users")',), group_tags=("village",), subquery=inner)
    return stat(
        Text("Người dùng Wi-Fi hôm nay", "Wi-Fi users today"),
        q.query(),
        description=Text(
            "Số người dùng khác nhau trong ngày.", "Distinct users today (all APs of the village)."
        ),
        thresholds=(Threshold(None, "blue"),),
        time_from="24h",
        width=4,
    )


def availability_per_day(scope: tuple[str, ...]) -> Panel:
    fq = FigureQuery(FIGURES["uplink.availability"], scope=scope, by=("link",))
    return bars(
        Text("Tỷ lệ hoạt động theo ngày", "Availability per day"),
        fq.query(fq.per_day("availability")),
        description=Text(
            "Mỗi cột là một ngày (giờ Việt Nam).",
            f"One bar per local day, per link: {fq.desc.description.en}.",
        ),
        overrides=per_tag_thresholds("uplink.availability", "link"),
        width=24,
        **PERCENT,
    )


def build() -> Dashboard:
    scope = VILLAGE_SCOPE
    verdicts, coverage = criteria_rows(scope)
    now = Row(
        Text("Hiện trạng", "Now"),
        (
            uplink_state(scope),
            uplink_active(scope),
            lights_lit(scope),
            lights_faulty(scope),
            wifi_users_today(scope),
        ),
    )
    trends = Row(Text("Xu hướng", "Trends"), (availability_per_day(scope),))
    return Dashboard(
        uid=UID,
        title=Text("Tổng quan thôn", "Village overview"),
        description=Text(
            "Các tiêu chí thôn thông minh và hiện trạng hạ tầng số của thôn.",
            "Smart-village criteria verdicts and the current state of the village's digital infrastructure.",
        ),
        rows=(verdicts, coverage, now, trends),
        variables=village_variables(),
    )
