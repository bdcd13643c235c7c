"""Connectivity: availability per day and link, outages, RTT and loss, the 4G modem's radio, the active link."""

from __future__ import annotations

from dashboards.boards.common import village_variables
from dashboards.criteria import per_tag_thresholds
from dashboards.figures import FigureQuery
from dashboards.influxql import VILLAGE_SCOPE, Select, agg, field_ref, field_value
from dashboards.model import Annotation, Dashboard, Row, Text
from dashboards.panels import (
    ACTIVE_MAP,
    PERCENT,
    REGISTERED_MAP,
    UP_MAP,
    bars,
    grafana_unit,
    stat,
    state_timeline,
    table,
    timeseries,
)
from thonminh.contract import MODEM, UPLINK, UPLINK_EVENT
from thonminh.figures import FIGURES

__all__ = ["build", "outage_annotations"]

S = VILLAGE_SCOPE
BY_LINK = ("village", "link")


def outage_annotations() -> tuple[Annotation, ...]:
    """Down and up transitions from ``uplink_event`` as annotations on every time-series panel."""
    cols = (field_ref(UPLINK_EVENT, "reason"), field_ref(UPLINK_EVENT, "previous_state_s"))

    def events(value: str) -> Select:
        return Select(
            UPLINK_EVENT,
            cols,
            where=(field_value(UPLINK_EVENT, "state", "=", value),),
            group_tags=BY_LINK,
            scope=S,
        )

    return (
        Annotation(
            Text("Mất kết nối", "Uplink down"), events("down").query(table=True), "red", "reason", "link"
        ),
        Annotation(
            Text("Có kết nối lại", "Uplink up"), events("up").query(table=True), "green", "reason", "link"
        ),
    )


def build() -> Dashboard:
    fq = FigureQuery(FIGURES["uplink.availability"], scope=S, by=("link",))
    by_link = per_tag_thresholds(fq.desc.key, "link")
    coverage_row = Row(
        Text("Tỷ lệ hoạt động", "Availability"),
        (
            stat(
                Text("Tỷ lệ hoạt động trong khoảng thời gian", "Availability in the selected range"),
                fq.query(fq.value("availability")),
                overrides=by_link,
                description=Text(
                    "Thời gian hoạt động / thời gian quan sát của từng đường truyền; màu theo mức của tiêu chí.",
                    f"{fq.desc.description.en}, per link, coloured by its criterion's level.",
                ),
                width=8,
                height=8,
                **PERCENT,
            ),
            bars(
                Text("Tỷ lệ hoạt động theo ngày", "Availability per day and link"),
                fq.query(fq.per_day("availability")),
                description=Text("Mỗi cột là một ngày (giờ Việt Nam).", "One bar per local day."),
                overrides=by_link,
                width=16,
                **PERCENT,
            ),
        ),
    )
    up = Select(
        UPLINK, (agg("last", UPLINK, "up"),), group_tags=BY_LINK, time="$__interval", fill="null", scope=S
    )
    active = Select(
        UPLINK, (agg("last", UPLINK, "active"),), group_tags=BY_LINK, time="$__interval", fill="null", scope=S
    )
    events = Select(
        UPLINK_EVENT,
        tuple(field_ref(UPLINK_EVENT, f) for f in ("state", "reason", "previous_state_s")),
        group_tags=BY_LINK,
        scope=S,
        newest_first=True,
        limit=200,
    )
    state_row = Row(
        Text("Trạng thái và sự cố", "State and outages"),
        (
            state_timeline(Text("Trạng thái từng đường truyền", "Link state"), up.query(), mappings=UP_MAP),
            state_timeline(
                Text("Đường truyền đang dùng", "Active link"), active.query(), mappings=ACTIVE_MAP
            ),
            table(
                Text("Các lần chuyển trạng thái", "State transitions"),
                events.query(table=True),
                description=Text(
                    "Mỗi dòng là một lần mất hoặc có lại kết nối; previous_state_s là thời gian của trạng thái trước.",
                    "Each row is a transition; previous_state_s is how long the previous state lasted "
                    "(on an 'up' row: the outage's length).",
                ),
                overrides=(
                    {
                        "matcher": {"id": "byName", "options": "previous_state_s"},
                        "properties": [
                            {"id": "unit", "value": grafana_unit(UPLINK_EVENT, "previous_state_s")}
                        ],
                    },
                ),
                renames=(
                    ("state", Text("Trạng thái", "State")),
                    ("reason", Text("Lý do", "Reason")),
                    ("previous_state_s", Text("Trạng thái trước kéo dài", "Previous state lasted")),
                ),
                width=24,
            ),
        ),
    )

    def mean_series(field: str) -> Select:
        return Select(
            UPLINK,
            (agg("mean", UPLINK, field),),
            group_tags=BY_LINK,
            time="$__interval",
            fill="none",
            scope=S,
        )

    quality_row = Row(
        Text("Chất lượng đường truyền", "Link quality"),
        (
            timeseries(
                Text("Độ trễ (RTT)", "Round-trip time"),
                mean_series("rtt_ms").query(),
                unit=grafana_unit(UPLINK, "rtt_ms"),
            ),
            timeseries(
                Text("Tỷ lệ mất gói", "Packet loss"),
                mean_series("loss_pct").query(),
                unit="percent",
                min=0,
                max=100,
            ),
        ),
    )
    by_modem = ("village", "modem")

    def radio(*fields: str) -> Select:
        return Select(
            MODEM,
            tuple(agg("mean", MODEM, f, f) for f in fields),
            group_tags=by_modem,
            time="$__interval",
            fill="none",
            scope=S,
        )

    registered = Select(
        MODEM,
        (agg("last", MODEM, "registered"),),
        group_tags=by_modem,
        time="$__interval",
        fill="null",
        scope=S,
    )
    modem_state = Select(
        MODEM,
        tuple(agg("last", MODEM, f, f) for f in ("reg_state", "operator", "access_tech", "sim")),
        group_tags=by_modem,
        scope=S,
    )
    modem_row = Row(
        Text("Modem 4G", "4G modem"),
        (
            timeseries(
                Text("RSRP", "RSRP"), radio("rsrp_dbm").query(), unit=grafana_unit(MODEM, "rsrp_dbm"), width=8
            ),
            timeseries(
                Text("RSRQ và SINR", "RSRQ and SINR"),
                radio("rsrq_db", "sinr_db").query(),
                unit=grafana_unit(MODEM, "sinr_db"),
                width=8,
            ),
            timeseries(
                Text("RSSI", "RSSI"), radio("rssi_dbm").query(), unit=grafana_unit(MODEM, "rssi_dbm"), width=8
            ),
            state_timeline(
                Text("Đăng ký mạng", "Network registration"), registered.query(), mappings=REGISTERED_MAP
            ),
            table(
                Text("Trạng thái modem", "Modem state"),
                modem_state.query(table=True),
                renames=(
                    ("reg_state", Text("Đăng ký", "Registration")),
                    ("operator", Text("Nhà mạng", "Operator")),
                    ("access_tech", Text("Công nghệ", "Access technology")),
                    ("sim", Text("SIM", "SIM")),
                ),
            ),
        ),
    )
    return Dashboard(
        uid="thonminh-connectivity",
        title=Text("Kết nối Internet", "Connectivity"),
        description=Text(
            "Cáp quang và 4G: tỷ lệ hoạt động, sự cố, chất lượng, sóng di động.",
            "Fiber and 4G uplinks: availability, outages, quality, the modem's radio.",
        ),
        rows=(coverage_row, state_row, quality_row, modem_row),
        variables=village_variables(),
        annotations=outage_annotations(),
    )
