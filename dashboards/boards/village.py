"""Village overview: the criteria verdicts, the state of each uplink, the lights, Wi-Fi users today."""

from __future__ import annotations

from dashboards.boards.common import village_variables
from dashboards.criteria import DEFAULT_CRITERIA
from dashboards.influxql import VILLAGE_SCOPE, Select, agg, field_ref, ratio_pct
from dashboards.model import Dashboard, Panel, Row, Text, Threshold
from dashboards.panels import ACTIVE_MAP, PERCENT, UP_MAP, bars, stat
from thonminh.contract import STREETLIGHT, UPLINK, WIFI_DAILY

__all__ = ["build", "criteria_rows", "lights_lit", "lights_faulty", "wifi_users_today"]


def criteria_rows(scope: tuple[str, ...]) -> tuple[Row, Row]:
    """A verdict stat and a coverage stat per criterion, over the criterion's window."""
    verdicts, coverage = [], []
    for c in DEFAULT_CRITERIA:
        verdicts.append(
            stat(
                c.title, c.value_query(scope),
                description=Text(
                    f"Đạt khi ≥ {c.threshold_pct:g}% trong {c.window_days} ngày gần nhất (màu xanh).",
                    f"Pass at >= {c.threshold_pct:g}% over the last {c.window_days} days (green); "
                    f"criterion {c.id}, computed as the criteria service does: "
                    f"sum({c.numerator}) / sum({c.denominator}).",
                ),
                thresholds=c.thresholds(), time_from=c.window, **PERCENT,
            )
        )
        coverage.append(
            stat(
                Text(f"Độ phủ dữ liệu: {c.title.vi}", f"Coverage: {c.title.en}"), c.coverage_query(scope),
                description=Text(
                    f"Dưới {c.min_coverage_pct:g}% thì chưa đủ dữ liệu để kết luận (màu cam).",
                    f"Below {c.min_coverage_pct:g}% the verdict is insufficient_data (orange): "
                    "sum(observed_s) / window.",
                ),
                thresholds=c.coverage_thresholds(), time_from=c.window, height=4, **PERCENT,
            )
        )
    return (
        Row(Text("Tiêu chí (30 ngày gần nhất)", "Criteria (last 30 days)"), tuple(verdicts)),
        Row(Text("Độ phủ dữ liệu của từng tiêu chí", "Data coverage of each criterion"), tuple(coverage)),
    )


def uplink_state(scope: tuple[str, ...]) -> Panel:
    q = Select(UPLINK, (agg("last", UPLINK, "up"),), group_tags=("village", "link"), scope=scope)
    return stat(
        Text("Trạng thái đường truyền", "Uplink state"), q.query(),
        description=Text("Kết quả đo gần nhất của từng đường truyền.", "Latest probe result of each uplink."),
        mappings=UP_MAP, time_from="1h",
    )


def uplink_active(scope: tuple[str, ...]) -> Panel:
    q = Select(UPLINK, (agg("last", UPLINK, "active"),), group_tags=("village", "link"), scope=scope)
    return stat(
        Text("Đường truyền đang dùng", "Active uplink"), q.query(),
        description=Text("Đường truyền mang tuyến mặc định.", "The link that carries the default route now."),
        mappings=ACTIVE_MAP, time_from="1h",
    )


def _per_light(expr: str, scope: tuple[str, ...]) -> Select:
    return Select(STREETLIGHT, (expr,), group_tags=("village", "light"), scope=scope)


def lights_lit(scope: tuple[str, ...]) -> Panel:
    inner = _per_light(agg("last", STREETLIGHT, "on", "on"), scope)
    q = Select(STREETLIGHT, ('sum("on")',), group_tags=("village",), subquery=inner)
    return stat(
        Text("Đèn đang sáng", "Lights lit"), q.query(),
        description=Text("Số đèn đang sáng theo báo cáo gần nhất.", "Lights lit in their latest sample."),
        thresholds=(Threshold(None, "yellow"),), time_from="1h", width=4,
    )


def lights_faulty(scope: tuple[str, ...]) -> Panel:
    # A light is faulty when its latest interval was not fully as scheduled (ok_s < observed_s); computed
    # numerically so a village without faults shows 0, not "No data".
    obs, ok = field_ref(STREETLIGHT, "observed_s"), field_ref(STREETLIGHT, "ok_s")
    inner = _per_light(f'ceil((last({obs}) - last({ok})) / last({obs})) AS "faulty"', scope)
    q = Select(STREETLIGHT, ('sum("faulty")',), group_tags=("village",), subquery=inner)
    return stat(
        Text("Đèn không đúng lịch", "Lights not as scheduled"), q.query(),
        description=Text(
            "Số đèn mà chu kỳ gần nhất không hoạt động đúng lịch (sáng khi cần sáng, tắt khi cần tắt).",
            "Lights whose latest interval was not fully as scheduled (ok_s < observed_s).",
        ),
        thresholds=(Threshold(None, "green"), Threshold(1, "red")), time_from="1h", width=4,
    )


def wifi_users_today(scope: tuple[str, ...]) -> Panel:
    # wifi_daily is stamped at local midnight: within the last 24 h the latest point per AP is today's.
    inner = Select(
        WIFI_DAILY, (agg("last", WIFI_DAILY, "unique_users", "users"),), group_tags=("village", "ap"), scope=scope
    )
    q = Select(WIFI_DAILY, ('sum("users")',), group_tags=("village",), subquery=inner)
    return stat(
        Text("Người dùng Wi-Fi hôm nay", "Wi-Fi users today"), q.query(),
        description=Text("Số người dùng khác nhau trong ngày.", "Distinct users today (all APs of the village)."),
        thresholds=(Threshold(None, "blue"),), time_from="24h", width=4,
    )


def availability_per_day(scope: tuple[str, ...]) -> Panel:
    q = Select(
        UPLINK, (ratio_pct(UPLINK, "up_s", "observed_s", "availability"),),
        group_tags=("village", "link"), time="1d", fill="none", tz=True, scope=scope,
    )
    return bars(
        Text("Tỷ lệ hoạt động theo ngày", "Availability per day"), q.query(),
        description=Text("Mỗi cột là một ngày (giờ Việt Nam).", "One bar per local day, per link."),
        thresholds=(Threshold(None, "red"), Threshold(95, "green")), width=24, **PERCENT,
    )


def build() -> Dashboard:
    scope = VILLAGE_SCOPE
    verdicts, coverage = criteria_rows(scope)
    now = Row(
        Text("Hiện trạng", "Now"),
        (uplink_state(scope), uplink_active(scope), lights_lit(scope), lights_faulty(scope), wifi_users_today(scope)),
    )
    trends = Row(Text("Xu hướng", "Trends"), (availability_per_day(scope),))
    return Dashboard(
        uid="thonminh-village",
        title=Text("Tổng quan thôn", "Village overview"),
        description=Text(
            "Các tiêu chí thôn thông minh và hiện trạng hạ tầng số của thôn.",
            "Smart-village criteria verdicts and the current state of the village's digital infrastructure.",
        ),
        rows=(verdicts, coverage, now, trends),
        variables=village_variables(),
    )
