"""Alerts that reach someone: labels from the queries, contact points from the environment, routes per province and
district. (The messages: test_alert_messages.py.)

No Grafana runs here; ``grafana_alerting.py`` ports what Grafana does, from its source:

- labels: every rule's query runs on a seeded InfluxDB as Grafana's scheduler runs it; Grafana's InfluxDB backend
  makes a series' GROUP BY tags its labels, so every series must carry the village's place;
- routing: the policy tree is walked as Alertmanager's dispatcher does (``dispatch/route.go``: a route matches its
  object matchers, children first, ``continue`` goes on to the next sibling, no child matching means the route
  itself) on the labels of alerts the rules really produce;
- contact points: the generated file is read the way Grafana provisions it (``$VAR``/``${VAR}`` in settings
  expanded from the environment the compose file gives Grafana, each integration's settings checked as
  grafana/alerting's ``receivers/<type>/config.go`` does) and round-tripped through grafana-foundation-sdk's
  models of Grafana 11.6.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml
from dash_alerts import backend_query, evaluate
from dash_seed import TROUBLED, VILLAGES, Seeded, Village, published, verdict_hours
from grafana_alerting import (
    EMAIL_TELEGRAM,
    WEBHOOK,
    assert_grafana_knows,
    document,
    payload,
    provision,
    route,
)
from grafana_foundation_sdk.models.alerting import ContactPoint, NotificationPolicy, NotificationTemplate

from dashboards.alerts import ALERT_RULES, FOLDER_TITLE, PLACE_LABELS, AlertRule
from dashboards.build import DELIVERY_ENV, DELIVERY_FILE, ROOT, delivery_files
from dashboards.criteria import CRITERIA
from dashboards.notify import MESSAGE, TITLE, Routes, delivery, load_routes, read_env_file
from dashboards.verdictcopy import FRESH_S
from thonminh.errors import ConfigError
from thonminh.influx import InfluxClient

REPO = ROOT.parent


# -- labels -------------------------------------------------------------------------------------------------------


def _series_labels(client: InfluxClient, rule: AlertRule, now_ms: int) -> list[dict[str, str]]:
    """The series of the rule's query run as Grafana's scheduler runs it: their tags are the alerts' labels."""
    return [dict(s.tags) for s in client.select(backend_query(rule, now_ms)).series]


def alert_labels(rule: AlertRule, series: Mapping[str, str]) -> dict[str, str]:
    """The labels of a Grafana alert instance: the rule's, the series', alertname and grafana_folder."""
    return {
        **rule.file_json()["labels"],
        **series,
        "alertname": rule.file_json()["title"],
        "grafana_folder": FOLDER_TITLE,
    }


DEVICE_LABELS = {
    "thonminh-uplink-down": {"link"},
    "thonminh-streetlight-fault": {"light", "zone"},
    "thonminh-gateway-silent": {"gateway"},
    "thonminh-buffer-lag": {"gateway"},
}
#: about every village at once (the criteria service publishing nothing): no place, the routes' default contact
GLOBAL_RULES = {"thonminh-verdicts-stale"}
STATE_RULES = [r for r in ALERT_RULES if r.criterion is None and r.uid not in GLOBAL_RULES]
#: per criterion, the rule on a failing verdict and, where the gateways sign its samples, on an unverified one
CRITERION_RULES = [r for r in ALERT_RULES if r.uid.startswith("thonminh-criterion-")]
UNVERIFIED_RULES = [r for r in ALERT_RULES if r.uid.startswith("thonminh-unverified-")]


def _assert_placed(rule: AlertRule, series: list[dict[str, str]]) -> None:
    assert series, f"{rule.uid}: no series on the seeded villages"
    for tags in series:
        assert set(tags) == set(PLACE_LABELS) | DEVICE_LABELS.get(rule.uid, set()), (rule.uid, tags)
        assert all(tags[k] for k in PLACE_LABELS), (rule.uid, tags)


@pytest.mark.parametrize("rule", STATE_RULES, ids=lambda r: r.uid)
def test_every_state_alert_carries_its_place_from_the_query(seeded: Seeded, rule: AlertRule) -> None:
    _assert_placed(rule, _series_labels(seeded.client, rule, seeded.now_ms))


def _key(v: Village) -> tuple[str, ...]:
    """A village as ``evaluate`` names its firing series: the series' tags are its place."""
    return tuple(sorted(v.tags[k] for k in PLACE_LABELS))


def _with_verdict(rule: AlertRule, verdict: str) -> set[tuple[str, ...]]:
    """The villages whose newest verdict dash_seed published on the rule's criterion is ``verdict``."""
    (c,) = [c for c in CRITERIA.criteria if c.id == rule.criterion]
    return {_key(v) for v in VILLAGES if published(v, c)["verdict"] == verdict}


@pytest.mark.parametrize("rule", CRITERION_RULES, ids=lambda r: r.uid)
def test_every_criterion_alert_carries_its_place_and_fires_where_the_verdict_fails(
    seeded: Seeded, rule: AlertRule
) -> None:
    """Over the service's published verdicts (dash_seed): the troubled village's failing ones fire, its
    unverified ones (the uplinks') do not, though their values are under the threshold too."""
    _assert_placed(rule, _series_labels(seeded.client, rule, seeded.now_ms))
    assert evaluate(seeded.client, rule, seeded.now_ms) == _with_verdict(rule, "fail")


@pytest.mark.parametrize("rule", UNVERIFIED_RULES, ids=lambda r: r.uid)
def test_every_unverified_alert_fires_for_the_troubled_village_with_its_place(
    seeded: Seeded, rule: AlertRule
) -> None:
    """dash_seed publishes the troubled village's uplink verdicts unverified (95.8 %, under 99 %) and the silent
    village's verdicts insufficient_data with 50 % verified: only the first are unverified."""
    series = _series_labels(seeded.client, rule, seeded.now_ms)
    expected = _with_verdict(rule, "unverified")
    assert evaluate(seeded.client, rule, seeded.now_ms) == expected
    assert [s["village"] for s in series] == [TROUBLED.village] * len(expected)
    if not expected:
        return
    _assert_placed(rule, series)
    # the message fixture has the labels of this alert (its annotations: test_alert_messages.py)
    (alert,) = payload("alert-unverified-firing")["alerts"]
    assert set(alert["labels"]) == set(alert_labels(rule, series[0]))


def test_the_troubled_village_hears_of_every_criterion_once(seeded: Seeded) -> None:
    """A failing value fires one of a criterion's two rules: ``fail`` where it is verified, ``unverified``
    where it is not (and every shipped criterion has its rules, found by their uids)."""
    fired: dict[str, list[str]] = {c.id: [] for c in CRITERIA.criteria}
    for rule in (*CRITERION_RULES, *UNVERIFIED_RULES):
        if _key(TROUBLED) in evaluate(seeded.client, rule, seeded.now_ms):
            fired[str(rule.criterion)].append(rule.uid.split("-")[1])
    assert all(len(kinds) == 1 for kinds in fired.values()), fired
    assert {k for kinds in fired.values() for k in kinds} == {"criterion", "unverified"}, fired


def test_a_criterion_alert_reads_no_verdict_older_than_its_look_back(seeded: Seeded) -> None:
    """A service that stopped publishing leaves the rules without data (their no-data state), never firing on
    its last verdicts as if they were current."""
    stale = verdict_hours(seeded.now_ms)[0] + FRESH_S * 1000
    for rule in (*CRITERION_RULES, *UNVERIFIED_RULES):
        assert _series_labels(seeded.client, rule, stale + 1000) == [], rule.uid
        # one missed hour still reads the newest, as now
        now = _series_labels(seeded.client, rule, seeded.now_ms)
        assert _series_labels(seeded.client, rule, stale - 1000) == now, rule.uid
        assert evaluate(seeded.client, rule, stale - 1000) == evaluate(seeded.client, rule, seeded.now_ms)


def test_fixture_payloads_have_the_labels_the_rules_produce(seeded: Seeded) -> None:
    """The thonminh fixtures are what Grafana sends for these rules: the same label names."""
    by_uid = {r.uid: r for r in ALERT_RULES}
    for name, uid in (
        ("alert-uplink-down-firing", "thonminh-uplink-down"),
        ("alert-streetlights-mixed", "thonminh-streetlight-fault"),
    ):
        rule = by_uid[uid]
        produced = set(alert_labels(rule, _series_labels(seeded.client, rule, seeded.now_ms)[0]))
        for alert in payload(name)["alerts"]:
            assert set(alert["labels"]) == produced, name
            assert alert["labels"]["alertname"] == rule.file_json()["title"]


# -- contact points and routing -----------------------------------------------------------------------------------


def test_webhook_only() -> None:
    doc, grafana_env = document(WEBHOOK)
    points = provision(doc, grafana_env)
    assert list(points) == ["thonminh-default"]
    (hook,) = points["thonminh-default"]
    assert hook["type"] == "webhook" and hook["settings"]["url"] == WEBHOOK["THONMINH_ALERT_WEBHOOK_URL"]
    assert hook["settings"]["message"] == MESSAGE and hook["settings"]["title"] == TITLE
    assert "GF_SMTP_ENABLED" not in grafana_env
    # the file itself holds references only
    assert doc["contactPoints"][0]["receivers"][0]["settings"]["url"] == "${THONMINH_ALERT_WEBHOOK_URL}"


def test_email_and_telegram() -> None:
    doc, grafana_env = document(EMAIL_TELEGRAM)
    points = provision(doc, grafana_env)
    kinds = {i["type"]: i["settings"] for i in points["thonminh-default"]}
    assert set(kinds) == {"email", "telegram"}
    assert kinds["email"]["addresses"] == EMAIL_TELEGRAM["THONMINH_ALERT_EMAIL"]
    assert kinds["email"]["subject"] == TITLE and kinds["email"]["message"] == MESSAGE
    assert kinds["telegram"]["bottoken"] == EMAIL_TELEGRAM["THONMINH_ALERT_TELEGRAM_BOT_TOKEN"]
    assert kinds["telegram"]["chatid"] == EMAIL_TELEGRAM["THONMINH_ALERT_TELEGRAM_CHAT_ID"]
    # SMTP is Grafana's own setting: the environment it gets turns it on
    assert grafana_env["GF_SMTP_ENABLED"] == "true"
    assert {k: grafana_env[k] for k in EMAIL_TELEGRAM if k.startswith("GF_")} == {
        k: v for k, v in EMAIL_TELEGRAM.items() if k.startswith("GF_")
    }
    secrets = ("s3cret", "123456:ABC-def")
    assert not any(s in yaml.safe_dump(doc) for s in secrets), "a secret in the provisioning file"


def test_none_set_is_an_error_naming_the_variables() -> None:
    with pytest.raises(ConfigError) as err:
        delivery({"GF_SMTP_HOST": "smtp.example.vn:587"})
    for var in ("THONMINH_ALERT_EMAIL", "THONMINH_ALERT_WEBHOOK_URL", "THONMINH_ALERT_TELEGRAM_CHAT_ID"):
        assert var in str(err.value)


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"THONMINH_ALERT_TELEGRAM_CHAT_ID": "-100123"}, "THONMINH_ALERT_TELEGRAM_BOT_TOKEN"),
        (
            {"THONMINH_ALERT_TELEGRAM_BOT_TOKEN": "123:abc"},
            "THONMINH_ALERT_TELEGRAM_BOT_TOKEN is set but THONMINH_ALERT_TELEGRAM_CHAT_ID is not",
        ),
        ({"THONMINH_ALERT_EMAIL": "a@b.vn"}, "GF_SMTP_HOST"),
        ({"THONMINH_ALERT_WEBHOOK_URL": "relay:8000"}, "THONMINH_ALERT_WEBHOOK_URL"),
        ({"THONMINH_ALERT_EMAIL": "not-an-address", "GF_SMTP_HOST": "smtp:25"}, "THONMINH_ALERT_EMAIL"),
    ],
)
def test_a_half_configured_channel_is_an_error_naming_what_is_missing(
    env: dict[str, str], named: str
) -> None:
    with pytest.raises(ConfigError, match=named):
        delivery(env)


def test_grafana_started_without_a_variable_refuses_to_start() -> None:
    """Provisioned with a variable Grafana's environment lacks, the integration fails Grafana's own validation
    (provisioning fails, Grafana exits): never a contact point with an empty address."""
    doc, grafana_env = document(EMAIL_TELEGRAM)
    for var in grafana_env:
        if var.startswith("THONMINH_"):
            with pytest.raises(ValueError, match="could not find"):
                provision(doc, {k: v for k, v in grafana_env.items() if k != var})


def test_compose_gives_grafana_the_delivery_environment_and_requires_it() -> None:
    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text(encoding="utf-8"))
    # a plain path is a required env file: compose refuses to start Grafana until `build --alerting-env` ran
    assert compose["services"]["grafana"]["env_file"] == [f"./{DELIVERY_ENV}"]
    assert DELIVERY_ENV.startswith("deploy/compose/generated/")  # git-ignored, beside make secrets' files
    ignored = subprocess.run(
        ["git", "check-ignore", "-q", f"dashboards/{DELIVERY_FILE}"], cwd=REPO, check=False
    )
    assert ignored.returncode == 0, "the deployment's delivery file must not be committed"


def test_delivery_files_and_the_env_file_compose_reads(tmp_path: Path) -> None:
    routes = tmp_path / "routes.yaml"
    routes.write_text(
        yaml.safe_dump(
            {
                "contacts": {"so-bac-giang": {"email": "so@bacgiang.gov.vn"}},
                "routes": [{"province": "bac-giang", "contact": "so-bac-giang"}],
            }
        )
    )
    files = delivery_files({**EMAIL_TELEGRAM, "THONMINH_ALERT_ROUTES": str(routes)})
    env_path = tmp_path / "grafana.env"
    env_path.write_text(files[DELIVERY_ENV])
    grafana_env = read_env_file(env_path)
    doc = yaml.safe_load(files[DELIVERY_FILE])
    points = provision(doc, grafana_env)
    assert points["thonminh-so-bac-giang"][0]["settings"]["addresses"] == "so@bacgiang.gov.vn"
    assert (
        grafana_env["THONMINH_ALERT_TELEGRAM_BOT_TOKEN"]
        == EMAIL_TELEGRAM["THONMINH_ALERT_TELEGRAM_BOT_TOKEN"]
    )


def test_provisioned_objects_use_only_fields_grafana_knows() -> None:
    doc, _ = document(EMAIL_TELEGRAM, load_routes(ROOT / "alerting-routes.example.yaml"))
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
    templates = yaml.safe_load(
        (ROOT / "provisioning/alerting/thonminh-templates.yaml").read_text(encoding="utf-8")
    )
    for t in templates["templates"]:
        assert_grafana_knows(NotificationTemplate, {k: v for k, v in t.items() if k != "orgId"})


ROUTES = {
    "contacts": {
        "so-bac-giang": {"email": "so-tttt@bacgiang.gov.vn"},
        "kt-luc-nam": {"telegram_chat": "-100555"},
    },
    "routes": [
        {"province": "bac-giang", "contact": "so-bac-giang"},
        {"province": "bac-giang", "district": "luc-nam", "contact": "kt-luc-nam"},
    ],
}


def test_routes_send_a_districts_alerts_to_its_technician_and_its_provinces_to_the_officials(
    seeded: Seeded,
) -> None:
    doc, _ = document(EMAIL_TELEGRAM, Routes.model_validate(ROUTES))
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
    (policy,) = document(EMAIL_TELEGRAM, everything)[0]["policies"]
    assert sorted(route(policy, elsewhere) or []) == ["thonminh-default", "thonminh-so-bac-giang"]
    # a notification is about one village: the policy groups by the place
    assert set(PLACE_LABELS) <= set(policy["group_by"])


@pytest.mark.parametrize(
    ("routes", "message"),
    [
        (
            {"routes": [{"province": "bac-giang", "contact": "nobody"}]},
            "routes[0].contact: unknown contact 'nobody'",
        ),
        (
            {"contacts": {"a": {"email": "a@b.vn"}}, "routes": [{"province": "Bắc Giang", "contact": "a"}]},
            "routes[0].province",
        ),
        ({"contacts": {"a": {"emial": "a@b.vn"}}}, "contacts.a.emial: unknown key"),
        ({"contacts": {"a": {}}}, "contacts.a: give at least one"),
        ({"contacts": {"a": {"telegram_chat": "my group"}}}, "contacts.a.telegram_chat"),
    ],
)
def test_routes_file_errors_name_the_key(tmp_path: Path, routes: dict[str, Any], message: str) -> None:
    path = tmp_path / "routes.yaml"
    path.write_text(yaml.safe_dump(routes, allow_unicode=True), encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_routes(path)
    assert str(path) in str(err.value) and message in str(err.value)


def test_a_routes_contact_needs_its_channel() -> None:
    with pytest.raises(ConfigError, match="contacts.kt-luc-nam.telegram_chat needs the bot"):
        delivery({**WEBHOOK, "GF_SMTP_HOST": "smtp.example.vn:25"}, Routes.model_validate(ROUTES))


# -- the command ---------------------------------------------------------------------------------------------------


def test_build_alerting_env_writes_the_delivery_or_says_what_is_missing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from click.testing import CliRunner

    from dashboards.cli import dashboards

    for var in list(os.environ):
        if var.startswith(("THONMINH_ALERT_", "GF_SMTP_")):
            monkeypatch.delenv(var)
    monkeypatch.chdir(tmp_path)  # no .env here
    out = tmp_path / "out"
    env_file = tmp_path / "site.env"
    env_file.write_text("# site\nTHONMINH_ALERT_WEBHOOK_URL='https://relay.example.vn/hook'\n")
    done = CliRunner().invoke(
        dashboards, ["build", "--out", str(out), "--alerting-env", "--env-file", str(env_file)]
    )
    assert done.exit_code == 0, done.output
    grafana_env = out / DELIVERY_ENV
    assert read_env_file(grafana_env) == {"THONMINH_ALERT_WEBHOOK_URL": "https://relay.example.vn/hook"}
    assert grafana_env.stat().st_mode & 0o077 == 0, "the env file holds secrets"
    assert (out / DELIVERY_FILE).stat().st_mode & 0o044 == 0o044, (
        "Grafana's user must read the provisioning file"
    )
    provision(yaml.safe_load((out / DELIVERY_FILE).read_text()), read_env_file(grafana_env))
    check = CliRunner().invoke(
        dashboards, ["build", "--out", str(out), "--check", "--alerting-env", "--env-file", str(env_file)]
    )
    assert check.exit_code == 0, check.output
    env_file.write_text("GF_SMTP_HOST=smtp.example.vn:25\n")
    none = CliRunner().invoke(
        dashboards, ["build", "--out", str(tmp_path / "none"), "--alerting-env", "--env-file", str(env_file)]
    )
    assert none.exit_code == 1 and "no contact point configured" in none.output
    assert "GF_SMTP_HOST is set but THONMINH_ALERT_EMAIL is not" in none.output
    assert not (tmp_path / "none").exists(), "nothing is written when nothing would be delivered"
