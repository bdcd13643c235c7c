"""The Vietnamese alert messages, rendered by Go's own text/template as Grafana 11.6 renders them.

``tests/dashboards/tmplrender/main.go`` (standard library only, built here with Debian's ``golang-go``) parses the
provisioned templates with Grafana's template data (``ExtendedData``: ``Alerts`` with ``Firing``/``Resolved``,
``KV`` with its methods), the ``tz`` and ``date`` functions exactly as Grafana's fork of Alertmanager defines them,
and ``missingkey=zero``, then executes a contact point's field as ``ExecuteTextString`` does. The payloads
(``fixtures/``) have the shape of Grafana's webhook body: Grafana's documented example, and thonminh alerts with
the labels the rules produce (checked in test_alert_delivery.py).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable, Mapping
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml
from grafana_alerting import EMAIL_TELEGRAM, FIXTURES, WEBHOOK, document, payload

from dashboards.alerts import ALERT_RULES
from dashboards.build import ROOT
from dashboards.notify import MESSAGE, TITLE

RENDERER = Path(__file__).with_name("tmplrender") / "main.go"
ZONE = ZoneInfo("Asia/Ho_Chi_Minh")
Render = Callable[[str, str], str]


@pytest.fixture(scope="module")
def render(tmp_path_factory: pytest.TempPathFactory) -> Render:
    go = shutil.which("go")
    assert go, (
        "Go is needed to render the notification templates: scripts/ensure-services.sh installs golang-go"
    )
    work = tmp_path_factory.mktemp("tmplrender")
    binary = work / "tmplrender"
    # standard library only: no module download, nothing leaves the machine
    env = {
        **os.environ,
        "GOCACHE": str(work / "cache"),
        "GOPATH": str(work / "gopath"),
        "GOFLAGS": "",
        "GO111MODULE": "on",
        "GOTOOLCHAIN": "local",
        "GOPROXY": "off",
    }
    subprocess.run(
        [go, "build", "-o", str(binary), str(RENDERER)], check=True, env=env, timeout=300, capture_output=True
    )
    provisioned = yaml.safe_load(
        (ROOT / "provisioning/alerting/thonminh-templates.yaml").read_text(encoding="utf-8")
    )
    templates = []
    for i, t in enumerate(provisioned["templates"]):
        path = work / f"t{i}.tmpl"
        path.write_text(t["template"], encoding="utf-8")
        templates.append(str(path))

    def run(text: str, name: str) -> str:
        done = subprocess.run(
            [str(binary), "-text", text, "-payload", str(FIXTURES / f"{name}.json"), *templates],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    return run


def _local(stamp: str) -> str:
    t = datetime.fromisoformat(stamp.replace("Z", "+00:00")).astimezone(ZONE)
    offset = t.strftime("%z")
    return t.strftime("%H:%M %d/%m/%Y") + f" (UTC{offset[:3]}:{offset[3:]})"


def _fields(env: Mapping[str, str]) -> set[str]:
    doc, _ = document(env)
    return {
        v
        for cp in doc["contactPoints"]
        for r in cp["receivers"]
        for k, v in r["settings"].items()
        if k in ("message", "title", "subject")
    }


def test_every_contact_point_sends_the_thonminh_templates() -> None:
    assert _fields(WEBHOOK) | _fields(EMAIL_TELEGRAM) == {TITLE, MESSAGE}


@pytest.mark.parametrize(
    "name", ["alert-uplink-down-firing", "alert-streetlights-mixed", "alert-unverified-firing"]
)
def test_message_names_the_village_the_device_what_and_since_when(render: Render, name: str) -> None:
    data = payload(name)
    text = render(MESSAGE, name)
    blocks = [b for b in text.strip().split("\n\n") if b]
    assert len(blocks) == len(data["alerts"])
    for alert in sorted(data["alerts"], key=lambda a: a["status"] != "firing"):
        block = blocks.pop(0)
        labels = alert["labels"]
        place = (
            f"thôn {labels['village']}, xã {labels['commune']}, huyện {labels['district']}, "
            f"tỉnh {labels['province']}"
        )
        assert f"Nơi: {place}" in block
        device = (
            f"đường truyền {labels['link']}"
            if "link" in labels
            else f"đèn {labels['light']} (khu {labels['zone']})"
            if "light" in labels
            else "cả thôn"
        )  # a criterion's alert is about the whole village
        assert f"Thiết bị: {device}" in block
        assert f"Chi tiết: {alert['annotations']['summary']}" in block
        assert f"Từ lúc: {_local(alert['startsAt'])}" in block
        assert alert["annotations"]["description"] in block and "\nEN: " in block
        if alert["status"] == "resolved":
            assert block.startswith("ĐÃ HẾT LỖI") and f"Hết lúc: {_local(alert['endsAt'])}" in block
        else:
            assert block.startswith("ĐANG LỖI") and "Hết lúc" not in block
        assert alert["generatorURL"] in block


def test_title_names_the_fault_and_the_village(render: Render) -> None:
    data = payload("alert-uplink-down-firing")
    title = render(TITLE, "alert-uplink-down-firing")
    assert title == f"[CẢNH BÁO] {data['commonLabels']['alertname']} – thôn {data['commonLabels']['village']}"
    assert render(TITLE, "alert-streetlights-mixed").endswith("(2)")


def test_an_unverified_alert_says_so_in_both_languages(render: Render) -> None:
    """Not a failure: the title names the unverified criterion, the message what to check. The fixture is the
    shipped rule's alert (its labels: test_alert_delivery.py), the village filled in as Grafana does."""
    rule = next(r for r in ALERT_RULES if r.uid == "thonminh-unverified-fiber-availability")
    (alert,) = payload("alert-unverified-firing")["alerts"]
    assert alert["labels"]["alertname"] == rule.file_json()["title"]
    assert alert["annotations"] == {
        k: v.replace("{{ $labels.village }}", "xom-loi") for k, v in rule.file_json()["annotations"].items()
    }
    title = render(TITLE, "alert-unverified-firing")
    assert title == "[CẢNH BÁO] Chưa xác minh: Đường truyền cáp quang hoạt động ổn định – thôn xom-loi"
    text = render(MESSAGE, "alert-unverified-firing")
    assert "chưa xác minh được" in text and "không được tính là đạt hay không đạt" in text
    assert "is unverified" in text and "neither pass nor fail" in text and "Không đạt" not in text


def test_grafanas_documented_payload_renders_without_thonminh_labels(render: Render) -> None:
    """Grafana's own example body (other labels, two alerts, a +02:00 start): no error, nothing invented."""
    data = payload("grafana-docs-webhook")
    text = render(MESSAGE, "grafana-docs-webhook")
    for alert in data["alerts"]:
        assert f"ĐANG LỖI: {alert['labels']['alertname']}" in text
        assert f"Từ lúc: {_local(alert['startsAt'])}" in text
    assert "thôn không rõ" in text and "<no value>" not in text
    assert render(TITLE, "grafana-docs-webhook").startswith("[CẢNH BÁO] thonminh")
