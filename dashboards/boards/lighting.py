"""Street lighting: a map of the poles by state and fault, current faults, availability per day, energy."""

from __future__ import annotations

from dashboards.boards.common import village_variables
from dashboards.boards.village import lights_faulty, lights_lit
from dashboards.criteria import figure_thresholds
from dashboards.figures import FigureQuery
from dashboards.influxql import VILLAGE_SCOPE, Select, agg, field_ref, field_value
from dashboards.lightfaults import LOOKBACK, current_faults, panel_window
from dashboards.model import Dashboard, Panel, Query, Row, Text, Threshold
from dashboards.panels import FAULT_MAP, PERCENT, bars, geomap, grafana_unit, stat, table
from thonminh.contract import STREETLIGHT, Measurement
from thonminh.figures import FIGURES

__all__ = ["COORDINATES", "build", "light_map"]

S = VILLAGE_SCOPE
BY_LIGHT = ("village", "zone", "light")
#: the fields a Geomap needs; proposed for the contract (see docs/dashboards.md)
COORDINATES = ("latitude", "longitude")


def light_map(m: Measurement) -> Panel:
    """The Geomap when the contract gives each light its coordinates, else a table of the same states."""
    state_fields = ("on", "online", "fault")
    if all(f in m.fields for f in COORDINATES):
        lat, lon = COORDINATES
        lights = Select(
            m,
            tuple(agg("last", m, f, f) for f in (*COORDINATES, *state_fields)),
            group_tags=BY_LIGHT,
            scope=S,
        )
        faulty = Query(
            current_faults(S, panel_window(), BY_LIGHT, COORDINATES).render(),
            table=True,
            group_tags=BY_LIGHT,
            problems_only=True,
        )
        return geomap(
            Text("Bản đồ đèn", "Map of the lights"),
            lights.query(table=True),
            faulty,
            latitude=lat,
            longitude=lon,
            description=Text(
                "Vàng: đang sáng, xanh đậm: tắt, đỏ: có lỗi (hỏng bóng: đến khi đèn sáng lại lúc trời tối).",
                f"Yellow: lit, dark blue: dark, red: faulty, as the API's repair list has it ({LOOKBACK}).",
            ),
        )
    lights = Select(m, tuple(agg("last", m, f, f) for f in state_fields), group_tags=BY_LIGHT, scope=S)
    return table(
        Text("Trạng thái từng đèn", "State of each light"),
        lights.query(table=True),
        description=Text(
            "Bản đồ sẽ hiện khi dữ liệu có toạ độ của từng đèn.",
            "A Geomap replaces this table once the contract's streetlight carries latitude/longitude.",
        ),
        mappings=FAULT_MAP,
        renames=(
            ("on", Text("Sáng", "Lit")),
            ("online", Text("Trực tuyến", "Online")),
            ("fault", Text("Lỗi", "Fault")),
        ),
        height=12,
    )


def faults_table(m: Measurement) -> Panel:
    now_faulty = current_faults(S, panel_window(), BY_LIGHT)
    first_fault = Select(
        m,
        (agg("first", m, "fault", "first_fault"),),
        where=(field_value(m, "fault", "!=", ""),),
        group_tags=BY_LIGHT,
        scope=S,
    )
    return table(
        Text("Đèn đang lỗi, lỗi từ khi nào", "Faulty lights and since when"),
        Query(now_faulty.render(), table=True, group_tags=BY_LIGHT, problems_only=True),
        first_fault.query(table=True, problems_only=True),
        description=Text(
            "Mỗi dòng là một đèn đang lỗi, như danh sách sửa chữa của dịch vụ: lỗi của báo cáo gần nhất, "
            "hoặc lỗi thấy lúc trời tối gần nhất (đèn hỏng bóng ban ngày không báo lỗi, nên vẫn được liệt kê "
            "đến khi đèn sáng lại lúc trời tối); cột thời gian của truy vấn B là lần đầu thấy lỗi trong khoảng "
            "thời gian đang xem.",
            f"One row per light with a current fault as the API's repair list has it (query A, last {LOOKBACK} "
            "of the range): its latest sample's fault, else that of its latest sample in the dark (a failed lamp "
            "reports nothing wrong by day, so it stays listed until a report in the dark shows it working); "
            "joined on the light with the first faulty sample in the selected range (query B: its time is "
            "'since when'). Widen the range if a fault started before it.",
        ),
        transformations=({"id": "joinByField", "options": {"byField": "light", "mode": "inner"}},),
        mappings=FAULT_MAP,
        width=12,
        height=12,
    )


def build(streetlight: Measurement | None = None) -> Dashboard:
    m = streetlight or STREETLIGHT
    total = Select(
        m,
        ('count("on")',),
        group_tags=("village",),
        subquery=Select(m, (agg("last", m, "on", "on"),), group_tags=("village", "light"), scope=S),
    )
    lighting = FigureQuery(FIGURES["lighting.availability"], scope=S)
    summary = Row(
        Text("Tóm tắt", "Summary"),
        (
            stat(
                Text("Tổng số đèn", "Lights"),
                total.query(),
                thresholds=(Threshold(None, "blue"),),
                time_from="1h",
            ),
            lights_lit(S),
            lights_faulty(S),
            stat(
                Text("Tỷ lệ sáng đúng lịch", "Lighting availability"),
                lighting.query(lighting.value("lighting")),
                description=Text(
                    "Thời gian đèn sáng khi cần sáng / thời gian cần sáng, mọi đèn của thôn.",
                    f"{lighting.desc.description.en}, coloured by its criterion's level.",
                ),
                thresholds=figure_thresholds(lighting.desc.key),
                width=8,
                **PERCENT,
            ),
        ),
    )
    energy_inner = Select(
        m,
        (f'non_negative_difference(max({field_ref(m, "energy_kwh")})) AS "kwh"',),
        group_tags=("village", "zone", "light"),
        time="1h",
        scope=S,
    )
    energy = Select(
        m,
        ('sum("kwh") AS "kwh"',),
        group_tags=("village", "zone"),
        time="1d",
        fill="none",
        tz=True,
        subquery=energy_inner,
    )
    daily = Row(
        Text("Theo ngày và theo khu", "Per day and per zone"),
        (
            bars(
                Text("Tỷ lệ sáng đúng lịch theo ngày", "Lighting availability per day"),
                lighting.query(lighting.per_day("lighting")),
                description=Text(
                    "Mỗi cột là một ngày (giờ Việt Nam, từ 0 giờ đến 0 giờ hôm sau), như biểu đồ theo ngày của "
                    "trang web và hồ sơ PDF: một đêm nằm ở hai ngày.",
                    "One bar per local calendar day (midnight to midnight), the days of the pages' and the "
                    "dossier's daily charts: a night falls on two days.",
                ),
                **PERCENT,
            ),
            bars(
                Text("Điện năng tiêu thụ theo khu", "Energy per zone"),
                energy.query(),
                description=Text(
                    "Điện năng mỗi ngày, cộng theo khu.",
                    "Energy per day summed per zone, from each meter's counter.",
                ),
                unit=grafana_unit(m, "energy_kwh"),
                min=0,
            ),
        ),
    )
    return Dashboard(
        uid="thonminh-lighting",
        title=Text("Chiếu sáng công cộng", "Street lighting"),
        description=Text(
            "Đèn đường: trạng thái, lỗi, tỷ lệ sáng đúng lịch, điện năng.",
            "Street lights: state, faults, lighting availability, energy.",
        ),
        rows=(summary, Row(Text("Đèn", "Lights"), (light_map(m), faults_table(m))), daily),
        variables=village_variables(),
    )
