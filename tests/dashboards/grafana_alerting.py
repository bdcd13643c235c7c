"""Grafana's alerting behaviour the delivery tests rely on, ported from its source (no Grafana runs here), and the
tests' shared inputs: example environments, the payload fixtures, the delivery document as Grafana reads it.

- ``grafana_expand``: ``pkg/services/provisioning/values`` (``JSONValue``): every string of a contact point's
  settings through ``os.ExpandEnv``, ``$$`` kept as a literal ``$``;
- ``grafana_validate``: grafana/alerting ``receivers/{email,webhook,telegram}/config.go`` ``NewConfig``, the
  errors that fail provisioning and so Grafana's start;
- ``route``: Alertmanager's ``dispatch/route.go`` ``Route.Match``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import yaml
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.cog.plugins import register_default_plugins

from dashboards.notify import Routes, delivery

register_default_plugins()

FIXTURES = Path(__file__).with_name("fixtures")
WEBHOOK = {"THONMINH_ALERT_WEBHOOK_URL": "https://relay.example.vn/zalo/hook"}
EMAIL_TELEGRAM = {
    "THONMINH_ALERT_EMAIL": "vienthong@bacgiang.gov.vn; kythuat@bacgiang.gov.vn",
    "GF_SMTP_HOST": "smtp.example.vn:587",
    "GF_SMTP_USER": "grafana",
    "GF_SMTP_PASSWORD": "s3cret",
    "GF_SMTP_FROM_ADDRESS": "grafana@bacgiang.gov.vn",
    "THONMINH_ALERT_TELEGRAM_BOT_TOKEN": "123456:ABC-def",
    "THONMINH_ALERT_TELEGRAM_CHAT_ID": "-1001234567890",
}


def payload(name: str) -> dict[str, Any]:
    """A notification payload fixture (the shape of Grafana's webhook body)."""
    data: dict[str, Any] = json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))
    return data


def document(env: Mapping[str, str], routes: Routes | None = None) -> tuple[dict[str, Any], dict[str, str]]:
    """The delivery document through YAML, as the file Grafana reads, and the environment Grafana gets."""
    d = delivery(env, routes)
    return yaml.safe_load(yaml.safe_dump(d.document, allow_unicode=True)), d.grafana_env


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
        if (
            settings.get("username")
            and settings.get("password")
            and settings.get("authorization_credentials")
        ):
            raise ValueError(
                "both HTTP Basic Authentication and Authorization Header are set, only 1 is permitted"
            )
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


def round_trip(model: Any, data: Mapping[str, Any]) -> Any:
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
    unknown = set(_paths(dict(data))) - set(_paths(round_trip(model, data)))
    assert unknown == set(), f"{model.__name__}: fields Grafana's schema does not have: {sorted(unknown)}"
