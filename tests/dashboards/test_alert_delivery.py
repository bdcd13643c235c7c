"""Alerts that reach someone: labels from the queries, contact points from the environment, routes per province and
district, and the Vietnamese messages rendered by Go's text/template on notification payloads.

How each part is checked, with no Grafana here:

- labels: every rule's query runs on the seeded InfluxDB as Grafana's scheduler runs it; Grafana's InfluxDB backend
  makes a series' GROUP BY tags its labels, so every series must carry the village's place;
- routing: the policy tree is walked as Alertmanager's dispatcher does (``dispatch/route.go``: a route matches its
  object matchers, children first, ``continue`` goes on to the next sibling, no child matching means the route
  itself) on the labels of alerts the rules really produce;
- contact points: the generated file is read the way Grafana provisions it (``pkg/services/provisioning/values``
  expands ``$VAR``/``${VAR}`` in settings, ``$$`` is a literal ``$``; each integration's settings are checked as
  grafana/alerting's ``receivers/<type>/config.go`` does) with the environment the compose file gives Grafana,
  and round-tripped through grafana-foundation-sdk's models of Grafana 11.6;
- messages: ``tests/dashboards/tmplrender`` (Go, standard library only) renders the provisioned templates with
  Grafana's template data and its ``tz``/``date`` functions as Grafana defines them, on payloads in the shape of
  Grafana's webhook body (``fixtures/``: Grafana's documented example and thonminh alerts).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import uuid
from collections.abc import Iterator, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import cross_seed as cs
import pytest
import yaml
from dash_seed import TROUBLED, Seeded
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.cog.plugins import register_default_plugins
from grafana_foundation_sdk.models.alerting import ContactPoint, NotificationPolicy, NotificationTemplate

from dashboards.alerts import ALERT_RULES, FOLDER_TITLE, PLACE_LABELS, AlertRule, criterion_rule
from dashboards.build import DELIVERY_ENV, DELIVERY_FILE, ROOT, delivery_files
from dashboards.criteria import CRITERIA
from dashboards.macros import interpolate
from dashboards.notify import MESSAGE, TITLE, Routes, delivery, load_routes, read_env_file
from thonminh.criteria import Criterion
from thonminh.errors import ConfigError
from thonminh.influx import InfluxClient
from thonminh.lineprotocol import encode_lines
from thonminh.localservices import InfluxDBServer

register_default_plugins()

REPO = ROOT.parent
FIXTURES = Path(__file__).with_name("fixtures")
RENDERER = Path(__file__).with_name("tmplrender") / "main.go"
ZONE = ZoneInfo("Asia/Ho_Chi_Minh")
WEBHOOK = {"THONMINH_ALERT_WEBHOOK_URL": "https://relay.example.vn/zalo/hook"}
EMAIL_TELEGRAM = {
    "THONMINH_ALERT_EMAIL": "vienthong@bacgiang.gov.vn; kythuat@bacgiang.gov.vn",
    "GF_SMTP_HOST": "smtp.example.vn:587", "GF_SMTP_USER": "grafana", "GF_SMTP_PASSWORD": "s3cret",
    "GF_SMTP_FROM_ADDRESS": "grafana@bacgiang.gov.vn",
    "THONMINH_ALERT_TELEGRAM_BOT_TOKEN": "123456:ABC-def", "THONMINH_ALERT_TELEGRAM_CHAT_ID": "-1001234567890",
}


# -- Grafana's behaviour, ported from its source ------------------------------------------------------------------

_ENV_REF = re.compile(r"\$\{(\w+)\}|\$(\w+)")


def grafana_expand(value: Any, env: Mapping[str, str]) -> Any:
    """``values.JSONValue``: every string in the settings through ``os.ExpandEnv``, ``$$`` kept as ``$``."""
    if isinstance(value, dict):
        return {k: grafana_expand(v, env) for k, v in value.items()}
    if isinstance(value, list):
        return [grafana_expand(v, env) for v in value]
    if isinstance(value, str):
        def expand(part: str) -> str:
            return _ENV_REF.sub(lambda m: env.get(m.group(1) or m.group(2), ""), part)
        return "$".join(expand(part) for part in value.split("$$"))
    return value


def grafana_validate(kind: str, settings: Mapping[str, Any]) -> None:
    """grafana/alerting ``receivers/{email,webhook,telegram}/config.go`` ``NewConfig``: the errors that make
    provisioning, and so Grafana's start, fail."""
    if kind == "email" and not settings.get("addresses"):
        raise ValueError("could not find addresses in settings")
    if kind == "webhook":
        if not settings.get("url"):
            raise ValueError("required field 'url' is not specified")
        if settings.get("username") and settings.get("password") and settings.get("authorization_credentials"):
            raise ValueError("both HTTP Basic Authentication and Authorization Header are set, only 1 is permitted")
    if kind == "telegram":
        if not settings.get("bottoken"):
            raise ValueError("could not find Bot Token in settings")
        if not settings.get("chatid"):
            raise ValueError("could not find Chat Id in settings")
        if settings.get("parse_mode", "HTML").lower() not in {"markdown", "markdownv2", "html", "none"}:
            raise ValueError("unknown parse_mode, must be Markdown, MarkdownV2, HTML or None")


def provision(document: Mapping[str, Any], env: Mapping[str, str]) -> dict[str, list[dict[str, Any]]]:
    """Contact points as Grafana provisions the file with ``env``: name -> integrations with expanded settings."""
    out: dict[str, list[dict[str, Any]]] = {}
    for cp in document["contactPoints"]:
        assert cp["name"].strip() and cp["receivers"], cp
        for r in cp["receivers"]:
            assert r["uid"].strip() and len(r["uid"]) <= 40, r["uid"]
            settings = grafana_expand(r["settings"], env)
            grafana_validate(r["type"], settings)
            out.setdefault(cp["name"], []).append({"type": r["type"], "settings": settings})
    return out


def route(node: Mapping[str, Any], labels: Mapping[str, str]) -> list[str] | None:
    """Alertmanager's ``Route.Match``: the receivers an alert with ``labels`` is sent to (None: no match)."""
    for name, op, value in node.get("object_matchers", []):
        assert op == "=", op
        if labels.get(name, "") != value:
            return None
    found: list[str] = []
    for child in node.get("routes", []):
        matched = route(child, labels)
        if matched is not None:
            found += matched
            if not child.get("continue", False):
                break
    return found or [node["receiver"]]


def _round_trip(model: Any, data: Mapping[str, Any]) -> Any:
    return json.loads(json.dumps(model.from_json(dict(data)), cls=JSONEncoder))


def _paths(data: Any, prefix: str = "") -> Iterator[str]:
    if isinstance(data, dict):
        for key, value in data.items():
            yield f"{prefix}.{key}"
            if key != "settings":  # an integration's settings are its own schema, checked by grafana_validate
                yield from _paths(value, f"{prefix}.{key}")
    elif isinstance(data, list):
        for item in data:
            yield from _paths(item, f"{prefix}[]")


def assert_grafana_knows(model: Any, data: Mapping[str, Any]) -> None:
    unknown = set(_paths(dict(data))) - set(_paths(_round_trip(model, data)))
    assert unknown == set(), f"{model.__name__}: fields Grafana's schema does not have: {sorted(unknown)}"


# -- labels -------------------------------------------------------------------------------------------------------

def _series_labels(client: InfluxClient, rule: AlertRule, now_ms: int) -> list[dict[str, str]]:
    """The series of the rule's query run as Grafana's scheduler runs it: their tags are the alerts' labels."""
    q = interpolate(rule.query, variables={}, from_ms=now_ms - rule.lookback_s * 1000, to_ms=now_ms,
                    interval_ms=60_000, frontend=False)
    return [dict(s.tags) for s in client.select(q).series]


def alert_labels(rule: AlertRule, series: Mapping[str, str]) -> dict[str, str]:
    """The labels of a Grafana alert instance: the rule's, the series', alertname and grafana_folder."""
    return {**rule.file_json()["labels"], **series, "alertname": rule.file_json()["title"],
            "grafana_folder": FOLDER_TITLE}


DEVICE_LABELS = {"thonminh-uplink-down": {"link"}, "thonminh-streetlight-fault": {"light", "zone"},
                 "thonminh-gateway-silent": {"gateway"}, "thonminh-buffer-lag": {"gateway"}}
STATE_RULES = [r for r in ALERT_RULES if r.criterion is None]
#: each shipped criterion's rule, built by the same code over 2 days: the seeded data is 2 days long
SHORT_CRITERION_RULES = [
    criterion_rule(Criterion.model_validate({**c.model_dump(), "window": "2d", "min_coverage": 0.0}))
    for c in CRITERIA.criteria
]


@pytest.fixture(scope="module")
def cross_db(influxdb: InfluxDBServer) -> Iterator[InfluxClient]:
    client = InfluxClient(influxdb.url, database=f"deliver_{uuid.uuid4().hex[:10]}", timeout=60)
    client.create_database(client.database)
    client.write(encode_lines(cs.all_points()))
    yield client
    try:
        client.drop_database(client.database)
    finally:
        client.close()


def _assert_placed(rule: AlertRule, series: list[dict[str, str]]) -> None:
    assert series, f"{rule.uid}: no series on the seeded villages"
    for tags in series:
        assert set(tags) == set(PLACE_LABELS) | DEVICE_LABELS.get(rule.uid, set()), (rule.uid, tags)
        assert all(tags[k] for k in PLACE_LABELS), (rule.uid, tags)


@pytest.mark.parametrize("rule", STATE_RULES, ids=lambda r: r.uid)
def test_every_state_alert_carries_its_place_from_the_query(seeded: Seeded, rule: AlertRule) -> None:
    _assert_placed(rule, _series_labels(seeded.client, rule, seeded.now_ms))


@pytest.mark.parametrize("rule", SHORT_CRITERION_RULES, ids=lambda r: r.uid)
def test_every_criterion_alert_carries_its_place_from_the_query(cross_db: InfluxClient, rule: AlertRule) -> None:
    _assert_placed(rule, _series_labels(cross_db, rule, cs.TO - 1))


def test_fixture_payloads_have_the_labels_the_rules_produce(seeded: Seeded) -> None:
    """The thonminh fixtures are what Grafana sends for these rules: the same label names."""
    by_uid = {r.uid: r for r in ALERT_RULES}
    for name, uid in (("alert-uplink-down-firing", "thonminh-uplink-down"),
                      ("alert-streetlights-mixed", "thonminh-streetlight-fault")):
        rule = by_uid[uid]
        produced = set(alert_labels(rule, _series_labels(seeded.client, rule, seeded.now_ms)[0]))
        for alert in _payload(name)["alerts"]:
            assert set(alert["labels"]) == produced, name
            assert alert["labels"]["alertname"] == rule.file_json()["title"]


# -- contact points and routing -----------------------------------------------------------------------------------

def _document(env: Mapping[str, str], routes: Routes | None = None) -> tuple[dict[str, Any], dict[str, str]]:
    d = delivery(env, routes)
    # through YAML, as the file Grafana reads
    return yaml.safe_load(yaml.safe_dump(d.document, allow_unicode=True)), d.grafana_env


def test_webhook_only() -> None:
    doc, grafana_env = _document(WEBHOOK)
    points = provision(doc, grafana_env)
    assert list(points) == ["thonminh-default"]
    (hook,) = points["thonminh-default"]
    assert hook["type"] == "webhook" and hook["settings"]["url"] == WEBHOOK["THONMINH_ALERT_WEBHOOK_URL"]
    assert hook["settings"]["message"] == MESSAGE and hook["settings"]["title"] == TITLE
    assert "GF_SMTP_ENABLED" not in grafana_env
    # the file itself holds references only
    assert doc["contactPoints"][0]["receivers"][0]["settings"]["url"] == "${THONMINH_ALERT_WEBHOOK_URL}"


def test_email_and_telegram() -> None:
    doc, grafana_env = _document(EMAIL_TELEGRAM)
    points = provision(doc, grafana_env)
    kinds = {i["type"]: i["settings"] for i in points["thonminh-default"]}
    assert set(kinds) == {"email", "telegram"}
    assert kinds["email"]["addresses"] == EMAIL_TELEGRAM["THONMINH_ALERT_EMAIL"]
    assert kinds["email"]["subject"] == TITLE and kinds["email"]["message"] == MESSAGE
    assert kinds["telegram"]["bottoken"] == EMAIL_TELEGRAM["THONMINH_ALERT_TELEGRAM_BOT_TOKEN"]
    assert kinds["telegram"]["chatid"] == EMAIL_TELEGRAM["THONMINH_ALERT_TELEGRAM_CHAT_ID"]
    # SMTP is Grafana's own setting: the environment it gets turns it on
    assert grafana_env["GF_SMTP_ENABLED"] == "true"
    assert {k: grafana_env[k] for k in EMAIL_TELEGRAM if k.startswith("GF_")} == \
        {k: v for k, v in EMAIL_TELEGRAM.items() if k.startswith("GF_")}
    secrets = ("s3cret", "123456:ABC-def")
    assert not any(s in yaml.safe_dump(doc) for s in secrets), "a secret in the provisioning file"


def test_none_set_is_an_error_naming_the_variables() -> None:
    with pytest.raises(ConfigError) as err:
        delivery({"GF_SMTP_HOST": "smtp.example.vn:587"})
    for var in ("THONMINH_ALERT_EMAIL", "THONMINH_ALERT_WEBHOOK_URL", "THONMINH_ALERT_TELEGRAM_CHAT_ID"):
        assert var in str(err.value)


@pytest.mark.parametrize(("env", "named"), [
    ({"THONMINH_ALERT_TELEGRAM_CHAT_ID": "-100123"}, "THONMINH_ALERT_TELEGRAM_BOT_TOKEN"),
    ({"THONMINH_ALERT_EMAIL": "a@b.vn"}, "GF_SMTP_HOST"),
    ({"THONMINH_ALERT_WEBHOOK_URL": "relay:8000"}, "THONMINH_ALERT_WEBHOOK_URL"),
    ({"THONMINH_ALERT_EMAIL": "not-an-address", "GF_SMTP_HOST": "smtp:25"}, "THONMINH_ALERT_EMAIL"),
])
def test_a_half_configured_channel_is_an_error_naming_what_is_missing(env: dict[str, str], named: str) -> None:
    with pytest.raises(ConfigError, match=named):
        delivery(env)


def test_grafana_started_without_a_variable_refuses_to_start() -> None:
    """Provisioned with a variable Grafana's environment lacks, the integration fails Grafana's own validation
    (provisioning fails, Grafana exits): never a contact point with an empty address."""
    doc, grafana_env = _document(EMAIL_TELEGRAM)
    for var in grafana_env:
        if var.startswith("THONMINH_"):
            with pytest.raises(ValueError, match="could not find"):
                provision(doc, {k: v for k, v in grafana_env.items() if k != var})


def test_compose_gives_grafana_the_delivery_environment_and_requires_it() -> None:
    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text(encoding="utf-8"))
    # a plain path is a required env file: compose refuses to start Grafana until `build --alerting-env` ran
    assert compose["services"]["grafana"]["env_file"] == [f"./{DELIVERY_ENV}"]
    assert DELIVERY_ENV.startswith("deploy/compose/generated/")  # git-ignored, beside make secrets' files
    ignored = subprocess.run(["git", "check-ignore", "-q", f"dashboards/{DELIVERY_FILE}"], cwd=REPO, check=False)
    assert ignored.returncode == 0, "the deployment's delivery file must not be committed"


def test_delivery_files_and_the_env_file_compose_reads(tmp_path: Path) -> None:
    routes = tmp_path / "routes.yaml"
    routes.write_text(yaml.safe_dump({"contacts": {"so-bac-giang": {"email": "so@bacgiang.gov.vn"}},
                                      "routes": [{"province": "bac-giang", "contact": "so-bac-giang"}]}))
    files = delivery_files({**EMAIL_TELEGRAM, "THONMINH_ALERT_ROUTES": str(routes)})
    env_path = tmp_path / "grafana.env"
    env_path.write_text(files[DELIVERY_ENV])
    grafana_env = read_env_file(env_path)
    doc = yaml.safe_load(files[DELIVERY_FILE])
    points = provision(doc, grafana_env)
    assert points["thonminh-so-bac-giang"][0]["settings"]["addresses"] == "so@bacgiang.gov.vn"
    assert grafana_env["THONMINH_ALERT_TELEGRAM_BOT_TOKEN"] == EMAIL_TELEGRAM["THONMINH_ALERT_TELEGRAM_BOT_TOKEN"]


def test_provisioned_objects_use_only_fields_grafana_knows() -> None:
    doc, _ = _document(EMAIL_TELEGRAM, load_routes(ROOT / "alerting-routes.example.yaml"))
    assert doc["apiVersion"] == 1 and set(doc) == {"apiVersion", "contactPoints", "policies"}
    for cp in doc["contactPoints"]:
        assert set(cp) == {"orgId", "name", "receivers"}
        for r in cp["receivers"]:
            assert_grafana_knows(ContactPoint, {"name": cp["name"], **r})
    (policy,) = doc["policies"]
    assert_grafana_knows(NotificationPolicy, {k: v for k, v in policy.items() if k != "orgId"})
    names = {cp["name"] for cp in doc["contactPoints"]}

    def receivers(node: Mapping[str, Any]) -> Iterator[str]:
        yield node["receiver"]
        for child in node.get("routes", []):
            yield from receivers(child)

    assert set(receivers(policy)) <= names, "a policy names a contact point that is not provisioned"
    templates = yaml.safe_load((ROOT / "provisioning/alerting/thonminh-templates.yaml").read_text(encoding="utf-8"))
    for t in templates["templates"]:
        assert_grafana_knows(NotificationTemplate, {k: v for k, v in t.items() if k != "orgId"})


ROUTES = {
    "contacts": {"so-bac-giang": {"email": "so-tttt@bacgiang.gov.vn"},
                 "kt-luc-nam": {"telegram_chat": "-100555"}},
    "routes": [{"province": "bac-giang", "contact": "so-bac-giang"},
               {"province": "bac-giang", "district": "luc-nam", "contact": "kt-luc-nam"}],
}


def test_routes_send_a_districts_alerts_to_its_technician_and_its_provinces_to_the_officials(seeded: Seeded) -> None:
    doc, _ = _document(EMAIL_TELEGRAM, Routes.model_validate(ROUTES))
    (policy,) = doc["policies"]
    rule = next(r for r in ALERT_RULES if r.uid == "thonminh-uplink-down")
    labels = [alert_labels(rule, s) for s in _series_labels(seeded.client, rule, seeded.now_ms)]
    troubled = next(lab for lab in labels if lab["village"] == TROUBLED.village)
    assert TROUBLED.district == "luc-nam"
    assert sorted(route(policy, troubled) or []) == ["thonminh-kt-luc-nam", "thonminh-so-bac-giang"]
    elsewhere = next(lab for lab in labels if lab["district"] != "luc-nam")
    assert route(policy, elsewhere) == ["thonminh-so-bac-giang"]
    assert route(policy, {**troubled, "province": "lang-son"}) == ["thonminh-default"]
    everything = Routes.model_validate({**ROUTES, "default_receives_all": True})
    (policy,) = _document(EMAIL_TELEGRAM, everything)[0]["policies"]
    assert sorted(route(policy, elsewhere) or []) == ["thonminh-default", "thonminh-so-bac-giang"]
    # a notification is about one village: the policy groups by the place
    assert set(PLACE_LABELS) <= set(policy["group_by"])


@pytest.mark.parametrize(("routes", "message"), [
    ({"routes": [{"province": "bac-giang", "contact": "nobody"}]}, "routes[0].contact: unknown contact 'nobody'"),
    ({"contacts": {"a": {"email": "a@b.vn"}}, "routes": [{"province": "Bắc Giang", "contact": "a"}]},
     "routes[0].province"),
    ({"contacts": {"a": {"emial": "a@b.vn"}}}, "contacts.a.emial: unknown key"),
    ({"contacts": {"a": {}}}, "contacts.a: give at least one"),
    ({"contacts": {"a": {"telegram_chat": "my group"}}}, "contacts.a.telegram_chat"),
])
def test_routes_file_errors_name_the_key(tmp_path: Path, routes: dict[str, Any], message: str) -> None:
    path = tmp_path / "routes.yaml"
    path.write_text(yaml.safe_dump(routes, allow_unicode=True), encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_routes(path)
    assert str(path) in str(err.value) and message in str(err.value)


def test_a_routes_contact_needs_its_channel() -> None:
    with pytest.raises(ConfigError, match="contacts.kt-luc-nam.telegram_chat needs the bot"):
        delivery({**WEBHOOK, "GF_SMTP_HOST": "smtp.example.vn:25"}, Routes.model_validate(ROUTES))


# -- messages -----------------------------------------------------------------------------------------------------

def _payload(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def render(tmp_path_factory: pytest.TempPathFactory) -> Any:
    go = shutil.which("go")
    assert go, "Go is needed to render the notification templates: scripts/ensure-services.sh installs golang-go"
    work = tmp_path_factory.mktemp("tmplrender")
    binary = work / "tmplrender"
    env = {**os.environ, "GOCACHE": str(work / "cache"), "GOPATH": str(work / "gopath"), "GOFLAGS": "",
           "GO111MODULE": "on", "GOTOOLCHAIN": "local", "GOPROXY": "off"}
    subprocess.run([go, "build", "-o", str(binary), str(RENDERER)], check=True, env=env, timeout=300,
                   capture_output=True)
    provisioned = yaml.safe_load((ROOT / "provisioning/alerting/thonminh-templates.yaml").read_text(encoding="utf-8"))
    templates = []
    for i, t in enumerate(provisioned["templates"]):
        path = work / f"t{i}.tmpl"
        path.write_text(t["template"], encoding="utf-8")
        templates.append(str(path))

    def run(text: str, payload: str) -> str:
        done = subprocess.run([str(binary), "-text", text, "-payload", str(FIXTURES / f"{payload}.json"), *templates],
                              capture_output=True, text=True, timeout=30, check=False)
        assert done.returncode == 0, done.stderr
        return done.stdout

    return run


def _local(stamp: str) -> str:
    t = datetime.fromisoformat(stamp.replace("Z", "+00:00")).astimezone(ZONE)
    offset = t.strftime("%z")
    return t.strftime("%H:%M %d/%m/%Y") + f" (UTC{offset[:3]}:{offset[3:]})"


def _fields(env: Mapping[str, str]) -> set[str]:
    doc, _ = _document(env)
    return {v for cp in doc["contactPoints"] for r in cp["receivers"]
            for k, v in r["settings"].items() if k in ("message", "title", "subject")}


def test_every_contact_point_sends_the_thonminh_templates() -> None:
    assert _fields(WEBHOOK) | _fields(EMAIL_TELEGRAM) == {TITLE, MESSAGE}


@pytest.mark.parametrize("name", ["alert-uplink-down-firing", "alert-streetlights-mixed"])
def test_message_names_the_village_the_device_what_and_since_when(render: Any, name: str) -> None:
    payload = _payload(name)
    text = render(MESSAGE, name)
    blocks = [b for b in text.strip().split("\n\n") if b]
    assert len(blocks) == len(payload["alerts"])
    for alert in sorted(payload["alerts"], key=lambda a: a["status"] != "firing"):
        block = blocks.pop(0)
        labels = alert["labels"]
        place = f"thôn {labels['village']}, xã {labels['commune']}, huyện {labels['district']}, tỉnh {labels['province']}"
        assert f"Nơi: {place}" in block
        device = f"đường truyền {labels['link']}" if "link" in labels else f"đèn {labels['light']} (khu {labels['zone']})"
        assert f"Thiết bị: {device}" in block
        assert f"Chi tiết: {alert['annotations']['summary']}" in block
        assert f"Từ lúc: {_local(alert['startsAt'])}" in block
        assert alert["annotations"]["description"] in block and "\nEN: " in block
        if alert["status"] == "resolved":
            assert block.startswith("ĐÃ HẾT LỖI") and f"Hết lúc: {_local(alert['endsAt'])}" in block
        else:
            assert block.startswith("ĐANG LỖI") and "Hết lúc" not in block
        assert alert["generatorURL"] in block


def test_title_names_the_fault_and_the_village(render: Any) -> None:
    payload = _payload("alert-uplink-down-firing")
    title = render(TITLE, "alert-uplink-down-firing")
    assert title == f"[CẢNH BÁO] {payload['commonLabels']['alertname']} – thôn {payload['commonLabels']['village']}"
    assert render(TITLE, "alert-streetlights-mixed").endswith("(2)")


def test_grafanas_documented_payload_renders_without_thonminh_labels(render: Any) -> None:
    """Grafana's own example body (other labels, two alerts, a +02:00 start): no error, nothing invented."""
    payload = _payload("grafana-docs-webhook")
    text = render(MESSAGE, "grafana-docs-webhook")
    for alert in payload["alerts"]:
        assert f"ĐANG LỖI: {alert['labels']['alertname']}" in text
        assert f"Từ lúc: {_local(alert['startsAt'])}" in text
    assert "thôn không rõ" in text and "<no value>" not in text
    assert render(TITLE, "grafana-docs-webhook").startswith("[CẢNH BÁO] thonminh")
