"""Province overview: one row per village with its verdicts and last seen, sortable."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from dashboards.boards import village
from dashboards.boards.common import province_variables
from dashboards.boards.village import criteria_rows
from dashboards.criteria import CRITERIA, table_column
from dashboards.influxql import PROVINCE_SCOPE, Select, agg, grouped_target
from dashboards.model import Dashboard, Lang, Query, Row, Text
from dashboards.navigation import board_uid
from dashboards.panels import table
from dashboards.verdictcopy import village_names
from thonminh.contract import GATEWAY

__all__ = ["build"]

S = PROVINCE_SCOPE
_OPEN = Text("Mở bảng của thôn này", "Open this village's board")


def _opens_village(column: str) -> Callable[[Lang], dict[str, Any]]:
    """A data link on ``column`` to the village board of the table's language, on the row's village. Without
    the time range: the village board reads raw points over a week by default, not the table's 30 days."""

    def override(lang: Lang) -> dict[str, Any]:
        url = f"/d/{board_uid(village.UID, lang)}?var-village=${{__data.fields.village}}"
        link = {"title": _OPEN.pick(lang), "url": url, "targetBlank": False}
        return {
            "matcher": {"id": "byName", "options": column},
            "properties": [{"id": "links", "value": [link]}],
        }

    return override


def build() -> Dashboard:
    names = village_names(S)
    queries: list[Query] = [grouped_target(names, ("village",), table=True)]
    # the id and the name both open the village (byName matches a field's own name, renamed or not)
    overrides = [_opens_village("village"), _opens_village("name")]
    for c in CRITERIA.criteria:
        query, override = table_column(c, S)
        queries.append(query)
        overrides.append(override)
    seen = Select(GATEWAY, (agg("last", GATEWAY, "uptime_s", "uptime_s"),), group_tags=("village",), scope=S)
    queries.append(Query(seen.render(), table=True, group_tags=seen.group_tags))
    villages = table(
        Text("Các thôn: tiêu chí và lần cuối liên lạc", "Villages: verdicts and last seen"),
        *queries,
        description=Text(
            "Mỗi dòng một thôn, với tên trong server.toml của dịch vụ tiêu chí; bấm tiêu đề cột để sắp xếp. Mỗi "
            "tiêu chí theo kết quả của dịch vụ tiêu chí, trên khoảng thời gian của tiêu chí đó, tính mỗi giờ; ô "
            "xám: chưa đủ dữ liệu; ô tím: chưa xác minh (chữ ký số của gateway phủ quá ít số mẫu).",
            "One row per village, named as the criteria service's server.toml names it; click a header to sort. "
            "Each criterion as the criteria service last judged it, over the criterion's own window, evaluated "
            "each hour: the value on green or red where the data decides, 'Insufficient data' in grey where it "
            "does not, 'Unverified' in purple where the gateways' signatures cover too few of its samples; the "
            "time column of the last query is when the village's gateway last reported within the table's 30 "
            "days.",
        ),
        transformations=({"id": "joinByField", "options": {"byField": "village", "mode": "outer"}},),
        overrides=tuple(overrides),
        renames=tuple((c.id, Text(c.title.vi, c.title.en)) for c in CRITERIA.criteria)
        + (("village", Text("Mã thôn", "Village id")), ("name", Text("Thôn", "Village"))),
        time_from="30d",
        width=24,
        height=16,
        sort_by="village",
    )
    verdicts, coverage = criteria_rows(S)
    return Dashboard(
        uid="thonminh-province",
        title=Text("Tổng quan tỉnh", "Province overview"),
        description=Text(
            "Mọi thôn của tỉnh, huyện, xã đã chọn.", "Every village of the selected districts and communes."
        ),
        rows=(Row(Text("Các thôn", "Villages"), (villages,)), verdicts, coverage),
        variables=province_variables(),
        time_from="now-30d",
    )
