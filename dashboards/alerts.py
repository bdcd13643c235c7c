"""Grafana-managed alert rules over the contract's measurements, as code.

Each rule is one InfluxQL query (A) reduced per series (B) and compared with a threshold (C), the shape
Grafana's rule editor produces. ``file_json`` gives the file-provisioning form (``provisioning/alerting``),
``api_json`` the form of the alerting provisioning HTTP API used by ``thonminh dashboards push``.

Per criterion, two rules follow the API's verdicts, read from the criteria service's published copy
(``dashboards.verdictcopy``): ``fail`` (``criterion_rule``) and, where the gateways sign the figure's samples,
``unverified`` (``unverified_rule``): a value the signatures do not cover enough is neither a pass nor a
failure, so it does not fire the first; technicians hear of it from the second.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from dashboards.criteria import CRITERIA, failing, signer, verifiable
from dashboards.influxql import Select, agg, trailing
from dashboards.lightfaults import LOOKBACK_S, current_faults
from dashboards.model import DATASOURCE, DATASOURCE_UID, Lang, Text
from dashboards.verdictcopy import FRESH, FRESH_S, VerdictQuery, published
from thonminh import influxql as core
from thonminh.contract import GATEWAY, UPLINK
from thonminh.criteria import Criterion
from thonminh.influxql import ident

__all__ = [
    "ALERT_RULES",
    "FOLDER_TITLE",
    "FOLDER_UID",
    "GROUP",
    "GROUP_INTERVAL_S",
    "PLACE_LABELS",
    "AlertRule",
    "alerting_file",
    "criterion_rule",
    "unverified_rule",
    "verdicts_stale",
]

FOLDER_UID = "thonminh"
FOLDER_TITLE = "thonminh"
GROUP = "thonminh"
GROUP_INTERVAL_S = 60
_EXPR = {"type": "__expr__", "uid": "__expr__"}
#: The place of every alert, outermost first: each rule groups by these tags, so Grafana's InfluxDB backend
#: turns them into the alert's labels, which the notification policies route on (dashboards/notify.py) and the
#: messages name. A gateway's site tags are fixed, so grouping by them never splits a series.
PLACE_LABELS: tuple[str, ...] = ("province", "district", "commune", "village")


@dataclass(frozen=True, slots=True)
class AlertRule:
    uid: str
    title: Text
    query: str
    #: seconds of data the query looks back over
    lookback_s: int
    reducer: Literal["last", "max", "min", "mean"]
    op: Literal["gt", "lt", "outside_range"]
    #: the threshold, or the range's two ends
    params: tuple[float, ...]
    pending: str
    summary: Text
    no_data: Literal["OK", "NoData", "Alerting"] = "OK"
    severity: str = "warning"
    #: the criterion this rule watches, when it is a verdict rule
    criterion: str | None = None
    #: the verdict it fires on, for a verdict rule
    verdict: Literal["fail", "unverified"] | None = None

    def data(self) -> list[dict[str, Any]]:
        query = {
            "refId": "A",
            "datasource": dict(DATASOURCE),
            "query": self.query,
            "rawQuery": True,
            "resultFormat": "time_series",
            "intervalMs": 60000,
            "maxDataPoints": 43200,
        }
        reduce = {
            "refId": "B",
            "datasource": dict(_EXPR),
            "type": "reduce",
            "expression": "A",
            "reducer": self.reducer,
            "settings": {"mode": "dropNN"},
        }
        threshold = {
            "refId": "C",
            "datasource": dict(_EXPR),
            "type": "threshold",
            "expression": "B",
            "conditions": [{"evaluator": {"type": self.op, "params": list(self.params)}}],
        }
        return [
            {
                "refId": "A",
                "relativeTimeRange": {"from": self.lookback_s, "to": 0},
                "datasourceUid": DATASOURCE_UID,
                "model": query,
            },
            {
                "refId": "B",
                "relativeTimeRange": {"from": 0, "to": 0},
                "datasourceUid": "__expr__",
                "model": reduce,
            },
            {
                "refId": "C",
                "relativeTimeRange": {"from": 0, "to": 0},
                "datasourceUid": "__expr__",
                "model": threshold,
            },
        ]

    def _common(self, lang: Lang) -> dict[str, Any]:
        return {
            "uid": self.uid,
            "title": self.title.pick(lang),
            "condition": "C",
            "data": self.data(),
            "noDataState": self.no_data,
            "execErrState": "Error",
            "for": self.pending,
            "annotations": {"summary": self.summary.pick(lang), "description": self.summary.en},
            "labels": {"severity": self.severity, "source": "thonminh"},
            "isPaused": False,
        }

    def file_json(self, lang: Lang = "vi") -> dict[str, Any]:
        return self._common(lang)

    def api_json(self, lang: Lang = "vi") -> dict[str, Any]:
        out = self._common(lang)
        out.update(folderUID=FOLDER_UID, ruleGroup=GROUP, orgID=1)
        return out


def _uplink_down() -> AlertRule:
    # no successful probe cycle in the last 5 minutes: max(up) over the window is 0
    q = Select(
        UPLINK,
        (agg("max", UPLINK, "up"),),
        group_tags=(*PLACE_LABELS, "link"),
        scope=(),
        window=trailing(300),
    )
    return AlertRule(
        "thonminh-uplink-down",
        Text("Mất kết nối quá 5 phút", "Uplink down for more than 5 minutes"),
        q.render(),
        300,
        "max",
        "lt",
        (1,),
        "0s",
        Text(
            "Đường truyền {{ $labels.link }} của thôn {{ $labels.village }} mất kết nối hơn 5 phút.",
            "Uplink {{ $labels.link }} of {{ $labels.village }} has been down for more than 5 minutes.",
        ),
        severity="critical",
    )


def _gateway_silent() -> AlertRule:
    # A silent series vanishes from a short window instead of reading 0, so look back a day in 5-minute buckets
    # filled with 0: the latest bucket is 0 while silent, and 10 minutes pending make "silent > 10 min".
    q = Select(
        GATEWAY,
        (agg("count", GATEWAY, "uptime_s"),),
        group_tags=(*PLACE_LABELS, "gateway"),
        time="5m",
        fill="0",
        scope=(),
        window=trailing(86400),
    )
    return AlertRule(
        "thonminh-gateway-silent",
        Text("Gateway im lặng quá 10 phút", "Gateway silent for more than 10 minutes"),
        q.render(),
        86400,
        "last",
        "lt",
        (1,),
        "10m",
        Text(
            "Gateway {{ $labels.gateway }} của thôn {{ $labels.village }} không gửi số liệu hơn 10 phút.",
            "Gateway {{ $labels.gateway }} of {{ $labels.village }} has sent nothing for more than 10 minutes.",
        ),
        severity="critical",
    )


def _light_fault() -> AlertRule:
    # one row per light with a current fault by the API's rule: a lamp failure stays through the next day
    by_light = (*PLACE_LABELS, "zone", "light")
    current = current_faults((), trailing(LOOKBACK_S), by_light)
    q = core.Select([f"count({ident('fault')})"], (current,), group_tags=by_light)
    return AlertRule(
        "thonminh-streetlight-fault",
        Text("Đèn đường bị lỗi", "Street-light fault"),
        q.render(),
        LOOKBACK_S,
        "last",
        "gt",
        (0,),
        "10m",
        Text(
            "Đèn {{ $labels.light }} (khu {{ $labels.zone }}) của thôn {{ $labels.village }} đang lỗi.",
            "Light {{ $labels.light }} (zone {{ $labels.zone }}) of {{ $labels.village }} reports a fault.",
        ),
    )


def _buffer_lag() -> AlertRule:
    q = Select(
        GATEWAY,
        (agg("last", GATEWAY, "lag_s"),),
        group_tags=(*PLACE_LABELS, "gateway"),
        scope=(),
        window=trailing(900),
    )
    return AlertRule(
        "thonminh-buffer-lag",
        Text("Dữ liệu chờ gửi quá 1 giờ", "Buffer lag over 1 hour"),
        q.render(),
        900,
        "last",
        "gt",
        (3600,),
        "5m",
        Text(
            "Gateway {{ $labels.gateway }} của thôn {{ $labels.village }} giữ dữ liệu chưa gửi quá 1 giờ.",
            "Gateway {{ $labels.gateway }} of {{ $labels.village }} holds points older than 1 hour.",
        ),
    )


def _latest(c: Criterion) -> VerdictQuery:
    """The criterion's newest published verdict per village, grouped by the place above the village too
    (labels for the routing); the rule looks back ``FRESH_S``."""
    return VerdictQuery(c.id, (), by=PLACE_LABELS[:-1], span="$timeFilter")


def _uid(kind: str, c: Criterion) -> str:
    return f"thonminh-{kind}-{c.id}".replace("_", "-")


def criterion_rule(c: Criterion) -> AlertRule:
    """Fires per village while the criterion's verdict, as the service last published it, is decided and fails:
    the verdict panel's query A (no series where the data does not decide or the value is unverified, so no
    alert either), compared with the threshold."""
    op, params = failing(c)
    return AlertRule(
        _uid("criterion", c),
        Text(f"Không đạt: {c.title.vi}", f"Failing: {c.title.en}"),
        _latest(c).decided().render(),
        FRESH_S,
        "last",
        op,
        params,
        "1h",
        Text(
            f"Thôn {{{{ $labels.village }}}} không đạt tiêu chí {c.id} ({c.comparator} {c.threshold:g}) "
            f"trong {c.window_s // 86_400 or 1} ngày gần nhất.",
            f"{{{{ $labels.village }}}} fails criterion {c.id} ({c.comparator} {c.threshold:g}) over its window.",
        ),
        criterion=c.id,
        verdict="fail",
    )


def unverified_rule(c: Criterion) -> AlertRule:
    """Fires per village while the criterion's verdict, as the service last published it, is ``unverified``: its
    value is decided but the signatures cover less than ``min_verified_pct`` of its samples, signed data is
    gone, or a rollup row the audit found forged is still read. The rule counts the verdict itself, not the
    share: in the last two cases the share may be anything, or absent."""
    if not verifiable(c) or c.min_verified_pct is None:
        raise ValueError(f"{c.id}: no verified share to watch (no min_verified_pct, or no signed samples)")
    least = c.min_verified_pct
    return AlertRule(
        _uid("unverified", c),
        Text(f"Chưa xác minh: {c.title.vi}", f"Unverified: {c.title.en}"),
        _latest(c).counted("unverified").render(),
        FRESH_S,
        "last",
        "gt",
        (0,),
        "1h",
        Text(
            f"Số liệu của tiêu chí {c.id} tại thôn {{{{ $labels.village }}}} chưa xác minh được: chữ ký số của "
            f"{signer(c).vi} phủ dưới {least:g} % số mẫu trong {c.window_s // 86_400 or 1} ngày gần nhất, số liệu "
            "đã ký bị xóa, hoặc số liệu tổng hợp bị sửa vẫn còn trong cơ sở dữ liệu, nên tiêu chí không được tính "
            "là đạt hay không đạt. "
            "Kiểm tra khóa đã ký và các lỗi xác minh trên trang của thôn.",
            f"The data of criterion {c.id} at {{{{ $labels.village }}}} is unverified: {signer(c).en} signatures "
            f"cover less than {least:g} % of its samples over its window, signed data was deleted, or forged rollup "
            "rows are still read, "
            "so its verdict is neither pass nor fail. Check the signing key and the verification faults on "
            "the village page (docs/evidence.md).",
        ),
        criterion=c.id,
        verdict="unverified",
    )


def verdicts_stale() -> AlertRule:
    """Fires while the criteria service has published no verdict for ``FRESH``: the verdict panels then say
    "no verdict" and the criterion rules read nothing, so without this rule a stopped service would clear
    every criterion alert in silence. No village labels: it concerns them all (the routes' default contact)."""
    return AlertRule(
        "thonminh-verdicts-stale",
        Text("Dịch vụ tiêu chí không công bố kết quả", "The criteria service publishes no verdicts"),
        published().render(),
        FRESH_S,
        "last",
        "lt",
        (1,),
        "0s",
        Text(
            f"Dịch vụ tiêu chí không ghi kết quả đánh giá vào InfluxDB trong {FRESH} qua: các bảng điều khiển "
            "không hiện kết quả tiêu chí và cảnh báo tiêu chí không hoạt động. Kiểm tra dịch vụ (docs/deployment.md).",
            f"The criteria service has written no verdicts to InfluxDB for {FRESH}: the dashboards show no "
            "criterion verdicts and the criterion alerts cannot fire. Check that the service runs with its "
            "background worker (rollups.background = true).",
        ),
        no_data="Alerting",
        severity="critical",
    )


ALERT_RULES: tuple[AlertRule, ...] = (
    _uplink_down(),
    _gateway_silent(),
    _light_fault(),
    _buffer_lag(),
    verdicts_stale(),
    *(criterion_rule(c) for c in CRITERIA.criteria),
    *(unverified_rule(c) for c in CRITERIA.criteria if verifiable(c)),
)


def alerting_file(lang: Lang = "vi") -> dict[str, Any]:
    """The ``provisioning/alerting`` file: one folder, one evaluation group, every rule."""
    return {
        "apiVersion": 1,
        "groups": [
            {
                "orgId": 1,
                "name": GROUP,
                "folder": FOLDER_TITLE,
                "interval": f"{GROUP_INTERVAL_S}s",
                "rules": [r.file_json(lang) for r in ALERT_RULES],
            }
        ],
    }
