"""Upload the folder, data source, dashboards and alert rules to an existing Grafana through ``grafana-client``.

Idempotent: every object has a fixed uid; each is read first and only created when missing, updated when it
differs, and left alone when it already matches, so pushing twice creates nothing the second time.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from dashboards.alerts import ALERT_RULES, FOLDER_TITLE, FOLDER_UID, GROUP, GROUP_INTERVAL_S
from dashboards.build import dashboards_json
from dashboards.model import Lang
from dashboards.provisioning import datasource

__all__ = ["PushError", "PushReport", "push"]

log = logging.getLogger(__name__)


class PushError(RuntimeError):
    """Grafana refused an object; the message names it."""


@dataclass
class PushReport:
    """What each push did, per kind: ``created``, ``updated`` or ``unchanged``."""

    actions: list[tuple[str, str, str]] = field(default_factory=list)

    def add(self, kind: str, uid: str, action: str) -> None:
        self.actions.append((kind, uid, action))
        log.info("%s %s: %s", kind, uid, action)

    def count(self, action: str) -> int:
        return sum(1 for a in self.actions if a[2] == action)

    def summary(self) -> str:
        counts = Counter(a[2] for a in self.actions)
        return ", ".join(f"{n} {action}" for action, n in sorted(counts.items()))


def _missing(err: Exception) -> bool:
    return getattr(err, "status_code", None) == 404


def _subset(wanted: Any, actual: Any) -> bool:
    """True when every key/value of ``wanted`` is in ``actual`` (Grafana adds ids, versions, defaults)."""
    if isinstance(wanted, Mapping):
        return isinstance(actual, Mapping) and all(
            k in actual and _subset(v, actual[k]) for k, v in wanted.items()
        )
    if isinstance(wanted, list):
        return isinstance(actual, list) and len(wanted) == len(actual) and all(map(_subset, wanted, actual))
    return wanted == actual


def push(
    api: Any,
    *,
    influx_url: str,
    database: str,
    user: str | None = None,
    password: str | None = None,
    lang: Lang = "vi",
) -> PushReport:
    """Push everything through ``api`` (a ``grafana_client.GrafanaApi``)."""
    from grafana_client.client import GrafanaException

    report = PushReport()
    try:
        _folder(api, report)
        _datasource(api, report, datasource(influx_url, database, user, password))
        for board in dashboards_json(lang):
            _dashboard(api, report, board)
        for rule in ALERT_RULES:
            _alert_rule(api, report, rule.api_json(lang))
        _rule_group(api, report)
    except GrafanaException as err:
        raise PushError(f"Grafana refused the push: {err}") from err
    return report


def _folder(api: Any, report: PushReport) -> None:
    from grafana_client.client import GrafanaException

    try:
        current = api.folder.get_folder(FOLDER_UID)
    except GrafanaException as err:
        if not _missing(err):
            raise
        api.folder.create_folder(FOLDER_TITLE, uid=FOLDER_UID)
        report.add("folder", FOLDER_UID, "created")
        return
    if current.get("title") == FOLDER_TITLE:
        report.add("folder", FOLDER_UID, "unchanged")
    else:
        api.folder.update_folder(FOLDER_UID, title=FOLDER_TITLE, overwrite=True)
        report.add("folder", FOLDER_UID, "updated")


def _datasource(api: Any, report: PushReport, ds: dict[str, Any]) -> None:
    from grafana_client.client import GrafanaException

    uid = ds["uid"]
    try:
        current = api.datasource.get_datasource_by_uid(uid)
    except GrafanaException as err:
        if not _missing(err):
            raise
        api.datasource.create_datasource(ds)
        report.add("datasource", uid, "created")
        return
    # Grafana never returns secureJsonData, so a password change alone always updates
    visible = {k: v for k, v in ds.items() if k != "secureJsonData"}
    if _subset(visible, current) and "secureJsonData" not in ds:
        report.add("datasource", uid, "unchanged")
        return
    api.datasource.update_datasource_by_uid(uid, ds)
    report.add("datasource", uid, "updated")


def _dashboard(api: Any, report: PushReport, board: dict[str, Any]) -> None:
    from grafana_client.client import GrafanaException

    uid = board["uid"]
    try:
        current = api.dashboard.get_dashboard(uid)
    except GrafanaException as err:
        if not _missing(err):
            raise
        current = None
    if current is not None:
        same_folder = current.get("meta", {}).get("folderUid") == FOLDER_UID
        if same_folder and _subset(board, current.get("dashboard", {})):
            report.add("dashboard", uid, "unchanged")
            return
    api.dashboard.update_dashboard(
        {
            "dashboard": board,
            "folderUid": FOLDER_UID,
            "overwrite": True,
            "message": "thonminh dashboards push",
        }
    )
    report.add("dashboard", uid, "created" if current is None else "updated")


def _alert_rule(api: Any, report: PushReport, rule: dict[str, Any]) -> None:
    from grafana_client.client import GrafanaException

    uid = rule["uid"]
    try:
        current = api.alertingprovisioning.get_alertrule(uid)
    except GrafanaException as err:
        if not _missing(err):
            raise
        api.alertingprovisioning.create_alertrule(rule)
        report.add("alert-rule", uid, "created")
        return
    if _subset(rule, current):
        report.add("alert-rule", uid, "unchanged")
        return
    api.alertingprovisioning.update_alertrule(uid, rule)
    report.add("alert-rule", uid, "updated")


def _rule_group(api: Any, report: PushReport) -> None:
    group = api.alertingprovisioning.get_rule_group(FOLDER_UID, GROUP)
    if group.get("interval") == GROUP_INTERVAL_S:
        report.add("rule-group", GROUP, "unchanged")
        return
    group = dict(group, interval=GROUP_INTERVAL_S, title=GROUP, folderUid=FOLDER_UID)
    api.alertingprovisioning.update_rule_group(FOLDER_UID, GROUP, group)
    report.add("rule-group", GROUP, "updated")
