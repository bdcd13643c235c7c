"""Alerts that reach someone: Grafana contact points, the notification policy tree and the message templates.

- ``templates_file()``: the notification templates (``notify.tmpl``, Go text/template), committed and provisioned
  like the rules.
- ``delivery(env, routes)``: the contact points and the policy tree of one deployment, from its environment
  (``THONMINH_ALERT_*``, ``GF_SMTP_*``) and its routes file (province/district -> contact point). Only the
  channels whose variables are set are provisioned, as ``${VAR}`` references that Grafana expands from its own
  environment, so the provisioning file holds no secret; ``grafana_env()`` is that environment (the compose file
  hands it to Grafana). Nothing configured, or a channel half configured, is a ``ConfigError`` naming the
  variables: Grafana would otherwise start with its placeholder contact point and deliver nothing.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError, field_validator, model_validator

from dashboards.alerts import PLACE_LABELS
from thonminh.config import Slug, StrictModel, format_validation_error, validate_http_url
from thonminh.errors import ConfigError

__all__ = [
    "CHANNEL_VARIABLES",
    "DEFAULT_CONTACT",
    "MESSAGE",
    "TEMPLATE_PATH",
    "TITLE",
    "Delivery",
    "Routes",
    "delivery",
    "env_file_text",
    "load_routes",
    "read_env_file",
    "templates_file",
]

TEMPLATE_PATH = Path(__file__).with_name("notify.tmpl")
#: what every contact point sends: the templates of notify.tmpl (no ``$`` here: Grafana expands ``$`` in settings)
TITLE = '{{ template "thonminh.title" . }}'
MESSAGE = '{{ template "thonminh.message" . }}'
DEFAULT_CONTACT = "thonminh-default"
#: one notification per village and kind of fault: the message can name the village once
GROUP_BY = ("grafana_folder", "alertname", *PLACE_LABELS)

EMAIL = "THONMINH_ALERT_EMAIL"
WEBHOOK_URL = "THONMINH_ALERT_WEBHOOK_URL"
WEBHOOK_TOKEN = "THONMINH_ALERT_WEBHOOK_TOKEN"
TELEGRAM_TOKEN = "THONMINH_ALERT_TELEGRAM_BOT_TOKEN"
TELEGRAM_CHAT = "THONMINH_ALERT_TELEGRAM_CHAT_ID"
ROUTES = "THONMINH_ALERT_ROUTES"
SMTP_HOST = "GF_SMTP_HOST"
#: Grafana's own SMTP settings, passed on when set (https://grafana.com/docs/grafana/latest/setup-grafana/configure-grafana/#smtp)
SMTP_OPTIONAL = (
    "GF_SMTP_USER",
    "GF_SMTP_PASSWORD",
    "GF_SMTP_FROM_ADDRESS",
    "GF_SMTP_FROM_NAME",
    "GF_SMTP_STARTTLS_POLICY",
    "GF_SMTP_SKIP_VERIFY",
)
#: the default contact point's channels: the recipient's variable (which turns the channel on), then what the
#: channel needs with it (the SMTP server and the bot may also serve the routes file's contacts alone)
CHANNEL_VARIABLES: dict[str, tuple[str, ...]] = {
    "email": (EMAIL, SMTP_HOST),
    "webhook": (WEBHOOK_URL,),
    "telegram": (TELEGRAM_CHAT, TELEGRAM_TOKEN),
}
_CHAT = re.compile(r"-?\d{1,20}|@\w{5,32}")
_EMAIL = re.compile(r"[^@\s,;]+@[^@\s,;]+\.[^@\s,;]+")


def templates_file() -> dict[str, Any]:
    """The ``provisioning/alerting`` templates document (template content is not env-expanded by Grafana)."""
    return {
        "apiVersion": 1,
        "templates": [
            {"orgId": 1, "name": "thonminh", "template": TEMPLATE_PATH.read_text(encoding="utf-8")}
        ],
    }


def _emails(value: str) -> str:
    # Grafana splits addresses on ',', ';' and newlines
    found = [a for a in re.split(r"[,;\n]", value) if a.strip()]
    bad = [a.strip() for a in found if not _EMAIL.fullmatch(a.strip())]
    if not found or bad:
        raise ValueError(f"not an e-mail address: {', '.join(bad) or repr(value)}")
    return value


def _chat(value: str) -> str:
    if not _CHAT.fullmatch(value):
        raise ValueError(
            f"{value!r} is not a Telegram chat id (a number such as -1001234567890, or @channel)"
        )
    return value


class Contact(StrictModel):
    """A named contact point of the routes file: who gets a province's or a district's alerts."""

    email: str | None = None
    telegram_chat: str | None = None
    webhook: str | None = None

    @field_validator("email")
    @classmethod
    def _check_email(cls, v: str | None) -> str | None:
        return v if v is None else _emails(v)

    @field_validator("telegram_chat")
    @classmethod
    def _check_chat(cls, v: str | None) -> str | None:
        return v if v is None else _chat(v)

    @field_validator("webhook")
    @classmethod
    def _check_url(cls, v: str | None) -> str | None:
        return v if v is None else validate_http_url(v, strip_slash=False)

    @model_validator(mode="after")
    def _something(self) -> Contact:
        if not (self.email or self.telegram_chat or self.webhook):
            raise ValueError("give at least one of email, telegram_chat, webhook")
        return self


class Route(StrictModel):
    """Alerts of ``province`` (and of ``district`` in it, when given) go to ``contact``."""

    province: Slug
    district: Slug | None = None
    contact: Slug


class Routes(StrictModel):
    contacts: dict[Slug, Contact] = {}
    routes: list[Route] = []
    #: the default contact point gets every alert as well, not only the ones no route takes
    default_receives_all: bool = False

    @model_validator(mode="after")
    def _known_contacts(self) -> Routes:
        for name in self.contacts:
            if len(name) > 24:
                raise ValueError(f"contacts.{name}: at most 24 characters (Grafana's uids have at most 40)")
        for i, r in enumerate(self.routes):
            if r.contact not in self.contacts:
                known = ", ".join(self.contacts) or "none"
                raise ValueError(f"routes[{i}].contact: unknown contact {r.contact!r} (contacts: {known})")
        return self


def load_routes(path: str | os.PathLike[str]) -> Routes:
    """Read and validate a routes file; ``ConfigError`` names the file and the key."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except OSError as err:
        raise ConfigError(f"{path}: cannot read: {err.strerror or err}") from err
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: not YAML: {err}") from err
    try:
        return Routes.model_validate(data)
    except ValidationError as err:
        raise ConfigError(format_validation_error(err, str(path))) from err


def read_env_file(path: str | os.PathLike[str]) -> dict[str, str]:
    """``KEY=value`` lines (``.env`` as ``make secrets`` writes it; quotes around a value are dropped)."""
    out = {}
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        key, sep, value = line.strip().partition("=")
        if sep and not key.startswith("#"):
            value = value.strip()
            if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
                value = value[1:-1]
            out[key.strip()] = value
    return out


def _ref(var: str) -> str:
    return "${" + var + "}"


def _receiver(uid: str, kind: str, settings: dict[str, Any]) -> dict[str, Any]:
    return {"uid": uid, "type": kind, "settings": settings, "disableResolveMessage": False}


def _email(uid: str, addresses: str) -> dict[str, Any]:
    return _receiver(
        uid, "email", {"addresses": addresses, "singleEmail": True, "subject": TITLE, "message": MESSAGE}
    )


def _webhook(uid: str, url: str, token: str | None = None) -> dict[str, Any]:
    settings: dict[str, Any] = {"url": url, "httpMethod": "POST", "title": TITLE, "message": MESSAGE}
    if token:
        settings.update(authorization_scheme="Bearer", authorization_credentials=token)
    return _receiver(uid, "webhook", settings)


def _telegram(uid: str, chat: str) -> dict[str, Any]:
    # plain text: label values and annotations are not HTML-escaped, so Telegram's default HTML mode could refuse them
    return _receiver(
        uid,
        "telegram",
        {"bottoken": _ref(TELEGRAM_TOKEN), "chatid": chat, "message": MESSAGE, "parse_mode": "None"},
    )


def _set(env: Mapping[str, str], var: str) -> bool:
    return bool(env.get(var, "").strip())


def _default_receivers(env: Mapping[str, str]) -> list[dict[str, Any]]:
    """The default contact point's integrations: each channel whose variables are all set."""
    problems = []
    for channel, (recipient, *needs) in CHANNEL_VARIABLES.items():
        missing = [v for v in needs if not _set(env, v)]
        if _set(env, recipient) and missing:
            problems.append(f"{channel}: {recipient} is set but {', '.join(missing)} is not")
    checks = (
        (EMAIL, _emails),
        (WEBHOOK_URL, lambda v: validate_http_url(v, strip_slash=False)),
        (TELEGRAM_CHAT, _chat),
    )
    for var, check in checks:
        if _set(env, var):
            try:
                check(env[var].strip())
            except ValueError as err:
                problems.append(f"{var}: {err}")
    if problems:
        raise ConfigError("alert delivery:\n" + "\n".join(problems))
    out = []
    if _set(env, EMAIL):
        out.append(_email("thonminh-default-email", _ref(EMAIL)))
    if _set(env, WEBHOOK_URL):
        out.append(
            _webhook(
                "thonminh-default-webhook",
                _ref(WEBHOOK_URL),
                _ref(WEBHOOK_TOKEN) if _set(env, WEBHOOK_TOKEN) else None,
            )
        )
    if _set(env, TELEGRAM_CHAT):
        out.append(_telegram("thonminh-default-telegram", _ref(TELEGRAM_CHAT)))
    return out


def _contact_receivers(name: str, c: Contact, env: Mapping[str, str]) -> list[dict[str, Any]]:
    if c.email and not _set(env, SMTP_HOST):
        raise ConfigError(f"routes: contacts.{name}.email needs Grafana's SMTP server: set {SMTP_HOST}")
    if c.telegram_chat and not _set(env, TELEGRAM_TOKEN):
        raise ConfigError(f"routes: contacts.{name}.telegram_chat needs the bot: set {TELEGRAM_TOKEN}")
    out = []
    if c.email:
        out.append(_email(f"tm-{name}-email", c.email))
    if c.webhook:
        out.append(_webhook(f"tm-{name}-webhook", c.webhook))
    if c.telegram_chat:
        out.append(_telegram(f"tm-{name}-telegram", c.telegram_chat))
    return out


def _policy(routes: Routes) -> dict[str, Any]:
    children: list[dict[str, Any]] = []
    if routes.default_receives_all:
        children.append({"receiver": DEFAULT_CONTACT, "continue": True})
    # every route continues, so a district's alert reaches its technician and its province's officials alike
    for r in routes.routes:
        matchers = [["province", "=", r.province]] + ([["district", "=", r.district]] if r.district else [])
        children.append({"receiver": f"thonminh-{r.contact}", "object_matchers": matchers, "continue": True})
    policy: dict[str, Any] = {
        "orgId": 1,
        "receiver": DEFAULT_CONTACT,
        "group_by": list(GROUP_BY),
        "group_wait": "30s",
        "group_interval": "5m",
        "repeat_interval": "12h",
    }
    if children:
        policy["routes"] = children
    return policy


@dataclass(frozen=True, slots=True)
class Delivery:
    """One deployment's delivery: the provisioning document and the environment Grafana needs for it."""

    document: dict[str, Any]
    grafana_env: dict[str, str]


def delivery(env: Mapping[str, str], routes: Routes | None = None) -> Delivery:
    """Contact points and policies from ``env`` and ``routes``; ``ConfigError`` when nothing would be delivered."""
    routes = routes or Routes()
    default = _default_receivers(env)
    if not default:
        # the server or the bot alone serves only the routes' contacts: say which recipient it still lacks
        half = [
            f"; {', '.join(needs)} {'is' if len(needs) == 1 else 'are'} set but {recipient} is not"
            for recipient, *needs in CHANNEL_VARIABLES.values()
            if needs and all(_set(env, v) for v in needs)
        ]
        raise ConfigError(
            "alert delivery: no contact point configured; set at least one of "
            f"{EMAIL} (with {SMTP_HOST}), {WEBHOOK_URL}, or {TELEGRAM_TOKEN} and {TELEGRAM_CHAT} "
            f"(see docs/deployment.md){''.join(half)}"
        )
    points = {DEFAULT_CONTACT: default}
    for name, c in routes.contacts.items():
        points[f"thonminh-{name}"] = _contact_receivers(name, c, env)
    receivers = [r for rs in points.values() for r in rs]
    referenced = {v for r in receivers for v in re.findall(r"\$\{(\w+)\}", str(r["settings"]))}
    grafana_env = {var: env[var].strip() for var in sorted(referenced)}
    if _set(env, SMTP_HOST) and any(r["type"] == "email" for r in receivers):
        grafana_env["GF_SMTP_ENABLED"] = "true"
        grafana_env.update({v: env[v].strip() for v in (SMTP_HOST, *SMTP_OPTIONAL) if _set(env, v)})
    contacts = [{"orgId": 1, "name": name, "receivers": rs} for name, rs in points.items()]
    document = {"apiVersion": 1, "contactPoints": contacts, "policies": [_policy(routes)]}
    return Delivery(document, grafana_env)


def env_file_text(values: Mapping[str, str]) -> str:
    """A compose ``env_file``: single-quoted values (no interpolation), refusing what it cannot quote."""
    lines = [
        "# Written by `thonminh dashboards build --alerting-env`: Grafana's alert delivery settings. Keep private."
    ]
    for key, value in values.items():
        if "'" in value or "\n" in value:
            raise ConfigError(
                f"{key}: a value with a single quote or a line break cannot be passed to Grafana"
            )
        lines.append(f"{key}='{value}'")
    return "\n".join(lines) + "\n"
