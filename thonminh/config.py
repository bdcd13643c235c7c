"""Typed configuration from one TOML file, with environment overrides for secrets.

Every error names the file and the key path, e.g. ``gateway.toml: influxdb.url: invalid URL 'htp:/x'``.
"""

from __future__ import annotations

import functools
import io
import logging
import os
import tomllib
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

from dotenv import dotenv_values
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    create_model,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, EnvSettingsSource, SettingsError

from thonminh.contract import check_slug
from thonminh.errors import ConfigError
from thonminh.influx import InfluxClient, InfluxV1Writer, InfluxV2Writer, LineWriter

log = logging.getLogger(__name__)

__all__ = [
    "ENV_PREFIX",
    "InfluxSettings",
    "Slug",
    "StrictModel",
    "environ_with_file",
    "environment_overrides",
    "format_validation_error",
    "key_path",
    "load_config",
    "masked",
    "parse_toml",
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
    #: ask InfluxDB to gzip its answers: for one reached over a slow or metered link; beside the service (the
    #: central stack) it only costs InfluxDB CPU, a third of what it spends answering a village-month
    compress_answers: bool = False

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
            compress_answers=self.compress_answers,
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

#: Where a value came from: its key path in the file's data (as in pydantic's ``loc``) -> the variable that set it.
Origins = dict[tuple[int | str, ...], str]


@functools.cache
def _settings_class(model: type[BaseModel]) -> type[BaseSettings]:
    """The model's fields as ``BaseSettings``, so pydantic-settings reads only sections and keys that exist."""
    fields: dict[str, Any] = {name: (info.annotation, info) for name, info in model.model_fields.items()}
    return create_model(f"{model.__name__}Environment", __base__=BaseSettings, **fields)


def _leaves(tree: Mapping[str, Any], keys: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    for key, value in tree.items():
        if isinstance(value, Mapping):
            yield from _leaves(value, (*keys, key))  # an empty table adds nothing
        else:
            yield (*keys, key), value


def _variable(keys: tuple[str, ...], names: Mapping[str, str], prefix: str) -> str:
    """The variable that gave the value at ``keys``: the longest ``PREFIX<A>__<B>`` set (a JSON value may
    have given a whole table)."""
    for end in range(len(keys), 0, -1):
        name = names.get((prefix + "__".join(keys[:end])).lower())
        if name is not None:
            return name
    return (prefix + "__".join(keys)).upper()


def environment_overrides(
    model: type[BaseModel], environ: Mapping[str, str] | None = None, prefix: str = ENV_PREFIX
) -> list[tuple[tuple[str, ...], Any, str]]:
    """``(keys, value, variable)`` of every ``<PREFIX><SECTION>__<KEY>`` variable naming a key of ``model``.

    Read by pydantic-settings (names in any case, ``__`` between levels, JSON for a whole table or list);
    variables of other prefixes and sections ``model`` does not have are not ours and are left alone.
    """
    env = os.environ if environ is None else environ
    source = EnvSettingsSource(
        _settings_class(model), case_sensitive=False, env_prefix=prefix, env_nested_delimiter="__"
    )
    # the given mapping, not necessarily this process's environment (the simulator reads none)
    source.env_vars = {name.lower(): value for name, value in env.items()}
    try:
        values = source()
    except SettingsError as err:
        raise ConfigError(f"{prefix}...: {err} (a whole table or list is given as JSON)") from err
    names = {name.lower(): name for name in env}
    return [(keys, value, _variable(keys, names, prefix)) for keys, value in _leaves(values)]


def environ_with_file(env_file: Path, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment (``environ``, default this process's) over the ``KEY=value`` lines of ``env_file``, as
    systemd's ``EnvironmentFile=`` gives them to a service: a command run by hand beside it sees the same
    settings (the secrets live there). No file: the environment alone; a file this user may not read: the
    environment alone, and a warning saying so."""
    env = dict(os.environ if environ is None else environ)
    try:
        text = env_file.read_text(encoding="utf-8")
    except FileNotFoundError:
        return env
    except OSError as err:
        log.warning(
            "%s: cannot read (%s): its settings are not used; run as the service's user",
            env_file,
            err.strerror or err,
        )
        return env
    from_file = {k: v for k, v in dotenv_values(stream=io.StringIO(text)).items() if v is not None}
    return {**from_file, **env}


def _index(items: list[Any], key: str, loc: tuple[int | str, ...], variable: str, filename: str) -> int:
    if key.isdigit() and int(key) < len(items):
        return int(key)
    if not key.isdigit() and len(items) == 1:
        return 0  # one [[table]] is one instance, as a single [table] is: no index needed
    where = key_path((*loc, int(key))) if key.isdigit() else key_path(loc)
    hint = "" if key.isdigit() else f"; give the index, e.g. ...__0__{key.upper()}"
    raise ConfigError(f"{variable}: {where}: {filename} has {len(items)} of them{hint}")


def _set(
    data: dict[str, Any], keys: tuple[str, ...], value: Any, variable: str, filename: str
) -> tuple[int | str, ...]:
    """Set ``value`` at ``keys`` in the file's data, digits indexing an array of tables; return where it went."""
    node: Any = data
    loc: list[int | str] = []
    todo = list(keys)
    while todo:
        key = todo.pop(0)
        if isinstance(node, list):
            index = _index(node, key, tuple(loc), variable, filename)
            if not key.isdigit():
                todo.insert(0, key)  # the key belongs to the only item
            loc.append(index)
            part: int | str = index
        else:
            loc.append(key)
            part = key
            if todo and not isinstance(node.get(key), dict | list):
                node[key] = {}
        if todo:
            node = node[part]
        else:
            node[part] = value
    return tuple(loc)


def _data_loc(data: Any, loc: tuple[int | str, ...]) -> tuple[int | str, ...]:
    """``loc`` as a path in the file's data, without what validation adds (a single table taken as a list
    of one, a union's tag, a validator's name) or keys the data lacks."""
    node, out = data, []
    for part in loc:
        if isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            node = node[part]
        elif isinstance(node, dict) and isinstance(part, str) and part in node:
            node = node[part]
        else:
            continue
        out.append(part)
    return tuple(out)


def _origin_of(data: dict[str, Any], origins: Origins) -> Callable[[tuple[int | str, ...]], str | None]:
    def origin(loc: tuple[int | str, ...]) -> str | None:
        where = _data_loc(data, loc)
        return next(
            (origins[where[:end]] for end in range(len(where), 0, -1) if where[:end] in origins), None
        )

    return origin


def key_path(loc: tuple[int | str, ...]) -> str:
    """A pydantic ``loc`` as the key path a user reads in the file: ``sources.uplink[1].targets[0].port``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part.startswith(("function-", "tagged-union", "union[")):
            continue
        else:
            out += f".{part}" if out else part
    return out or "(top level)"


def format_validation_error(
    err: ValidationError,
    source: str,
    *,
    origin: Callable[[tuple[int | str, ...]], str | None] | None = None,
) -> str:
    """One line per problem: ``<source>: key.path: what is wrong``.

    ``source`` names where the data came from (a file name); ``origin(loc)`` may name another place for one
    value (the environment variable that set it), or return None for ``source``.
    """
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
        loc = tuple(e["loc"])
        where = (origin(loc) if origin else None) or source
        lines.append(f"{where}: {key_path(loc)}: {msg}")
    return "\n".join(lines)


def parse_toml(text: str, name: str) -> dict[str, Any]:
    """The tables of a TOML document; ``ConfigError`` names ``name`` (the file) and what is wrong with it."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"{name}: invalid TOML: {err}") from err
    except RecursionError as err:
        # tomllib reads nested arrays and inline tables recursively: a deep enough nesting exhausts the stack
        raise ConfigError(f"{name}: invalid TOML (nested too deeply)") from err


def load_config(
    path: str | os.PathLike[str],
    model: type[M],
    *,
    environ: Mapping[str, str] | None = None,
    env_prefix: str = ENV_PREFIX,
) -> M:
    """Read a TOML file, override it from the environment (``environ``, default this process's) and validate.

    ``ConfigError`` names the file, or the variable, and the key path of every problem.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise ConfigError(f"{path}: cannot read: {err.strerror or err}") from err
    data = parse_toml(text, path.name)
    origins: Origins = {}
    for keys, value, variable in environment_overrides(model, environ, env_prefix):
        origins[_set(data, keys, value, variable, path.name)] = variable
    try:
        return model.model_validate(data, context={"config_dir": path.parent})
    except ValidationError as err:
        raise ConfigError(format_validation_error(err, path.name, origin=_origin_of(data, origins))) from err


def masked(model: BaseModel) -> dict[str, Any]:
    """The effective config as plain data, secrets shown as ``**********``."""
    return model.model_dump(mode="json")
