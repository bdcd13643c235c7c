"""Typed configuration from one TOML file, with environment overrides for secrets.

Every error names the file and the key path, e.g. ``gateway.toml: influxdb.url: invalid URL 'htp:/x'``.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from thonminh.contract import check_slug
from thonminh.errors import ConfigError
from thonminh.influx import InfluxClient, InfluxV1Writer, InfluxV2Writer, LineWriter

__all__ = [
    "ENV_PREFIX",
    "InfluxSettings",
    "Slug",
    "StrictModel",
    "format_validation_error",
    "load_config",
    "masked",
    "validate_http_url",
]

ENV_PREFIX = "THONMINH_"
M = TypeVar("M", bound=BaseModel)


#: A config value that becomes a tag value (village, link, ap, ...): the contract's slug rule.
Slug = Annotated[str, AfterValidator(check_slug)]


class StrictModel(BaseModel):
    """Base of every config model: unknown keys are errors, so a typo never silently does nothing."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def validate_http_url(value: str, *, strip_slash: bool = True) -> str:
    """Accept ``http(s)://host[:port][/path]`` and nothing else; a base URL loses its trailing slash."""
    from urllib.parse import urlsplit

    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"invalid URL {value!r} (want http://host[:port]/path or https://...)")
    try:
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError:
        raise ValueError(f"invalid port in URL {value!r}") from None
    return value.rstrip("/") if strip_slash else value


class InfluxSettings(StrictModel):
    """Where points go and queries read: ``api = "v1"`` (1.x ``/write``) or ``api = "v2"`` (``/api/v2/write``).

    Queries always use InfluxQL on ``/query`` against ``database`` (on 2.x, a DBRP-mapped name).
    """

    api: Literal["v1", "v2"] = "v1"
    url: str = "http://127.0.0.1:8086"
    database: str = "thonminh"
    retention_policy: str | None = None
    username: str | None = None
    password: SecretStr | None = None
    org: str | None = None
    bucket: str | None = None
    token: SecretStr | None = None
    timeout_s: float = Field(10.0, gt=0, le=300)

    @field_validator("url")
    @classmethod
    def _valid_url(cls, value: str) -> str:
        return validate_http_url(value)

    @model_validator(mode="after")
    def _v2_needs_org_bucket_token(self) -> InfluxSettings:
        if self.api == "v2":
            missing = [k for k in ("org", "bucket", "token") if not getattr(self, k)]
            if missing:
                raise ValueError(f"api = 'v2' needs {', '.join(missing)}")
        return self

    def client(self) -> InfluxClient:
        """A query client (and v1 writer) for these settings."""
        return InfluxClient(
            self.url,
            database=self.database,
            retention_policy=self.retention_policy,
            username=self.username,
            password=self.password.get_secret_value() if self.password else None,
            token=self.token.get_secret_value() if self.token else None,
            timeout=self.timeout_s,
        )

    def writer(self) -> LineWriter:
        """The line-protocol writer the forwarder uses."""
        if self.api == "v2":
            assert self.org and self.bucket and self.token
            return InfluxV2Writer(
                self.url,
                org=self.org,
                bucket=self.bucket,
                token=self.token.get_secret_value(),
                timeout=self.timeout_s,
            )
        return InfluxV1Writer(self.client(), database=self.database, retention_policy=self.retention_policy)


# -- loading -------------------------------------------------------------------------------------------------


def _set_path(data: dict[str, Any], path: list[str], value: str) -> None:
    """Set ``value`` at ``path``; a numeric part indexes a list (``SOURCES__WIFI__0__PASSWORD``)."""
    node: Any = data
    for i, key in enumerate(path):
        last = i == len(path) - 1
        if isinstance(node, list):
            if not key.isdigit() or int(key) >= len(node):
                raise ConfigError(f"environment override {'.'.join(path)}: no list item {key!r}")
            if last:
                node[int(key)] = value
            else:
                node = node[int(key)]
            continue
        if last:
            node[key] = value
            break
        child = node.get(key)
        if not isinstance(child, dict | list):
            child = {}
            node[key] = child
        node = child


def apply_env_overrides(data: dict[str, Any], environ: Mapping[str, str], prefix: str = ENV_PREFIX) -> list[str]:
    """Apply ``THONMINH_INFLUXDB__PASSWORD=...`` style overrides (``__`` separates levels). Returns keys set.

    In an array of tables, index the instance: ``THONMINH_SOURCES__WIFI__0__HTTP__PASSWORD``.
    """
    applied = []
    for name, value in sorted(environ.items()):
        if not name.startswith(prefix) or "__" not in name:
            continue
        path = [part.lower() for part in name[len(prefix) :].split("__") if part]
        if path:
            _set_path(data, path, value)
            applied.append(".".join(path))
    return applied


def _loc(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part.startswith(("function-", "tagged-union", "union[")):
            continue
        else:
            out += f".{part}" if out else part
    return out or "(top level)"


def format_validation_error(err: ValidationError, filename: str) -> str:
    """One line per problem: ``file: key.path: what is wrong``."""
    lines = []
    for e in err.errors(include_url=False):
        kind = e["type"]
        msg = e["msg"]
        if kind == "extra_forbidden":
            msg = "unknown key"
        elif kind == "missing":
            msg = "required value is missing"
        elif kind == "value_error":
            msg = msg.removeprefix("Value error, ")
        else:
            msg = f"{msg} (got {e.get('input')!r})"
        lines.append(f"{filename}: {_loc(tuple(e['loc']))}: {msg}")
    return "\n".join(lines)


def load_config(
    path: str | os.PathLike[str],
    model: type[M],
    *,
    environ: Mapping[str, str] | None = None,
    env_prefix: str = ENV_PREFIX,
) -> M:
    """Read, override from the environment and validate a TOML file; raise ``ConfigError`` naming the problem."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise ConfigError(f"{path}: cannot read: {err.strerror or err}") from err
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"{path.name}: invalid TOML: {err}") from err
    apply_env_overrides(data, os.environ if environ is None else environ, env_prefix)
    try:
        return model.model_validate(data, context={"config_dir": path.parent})
    except ValidationError as err:
        raise ConfigError(format_validation_error(err, path.name)) from err


def masked(model: BaseModel) -> dict[str, Any]:
    """The effective config as plain data, secrets shown as ``**********``."""
    return model.model_dump(mode="json")
