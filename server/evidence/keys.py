"""The key registry through the API: bodies, answers, and the functions the routes call."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from server.errors import ApiError, NotFound, ParameterError
from server.evidence.registry import KeyConflict, KeyRecord, Registry
from server.service import Service
from server.timeparse import iso, parse_time
from thonminh.contract import check_slug
from thonminh.evidence import SERVICE_KEY_VILLAGE

__all__ = ["KeyIn", "KeyOut", "KeysOut", "RetireIn", "list_keys", "register", "retire"]

_TAG = r"^[^\x00-\x1f\x7f\\/]+$"
_TIME = Field(
    None,
    min_length=1,
    max_length=64,
    description="ISO 8601 (2026-12-01T00:00:00+07:00), a date (local "
    "midnight) or relative (now, -2h); default now",
)


class KeyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    village: str = Field(
        min_length=1,
        max_length=128,
        pattern=_TAG,
        description="the village slug the gateway serves (tag `village`)",
    )
    public_key: str = Field(
        min_length=1,
        max_length=1000,
        description="the gateway's Ed25519 public key: base64 "
        "of its 32 raw bytes (`thonminh edge init` "
        "prints it), or PEM",
    )
    valid_from: str | None = _TIME


class RetireIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    valid_until: str | None = _TIME


class KeyOut(BaseModel):
    gateway: str
    village: str
    fingerprint: str = Field(description="16 hex digits of SHA-256 of the raw public key; manifests name it")
    public_key: str = Field(description="base64 of the 32 raw bytes")
    valid_from: str
    valid_until: str | None = Field(description="null: the gateway's current key")
    registered_by: str = Field(description="the admin key's name")
    registered_at: str


class KeysOut(BaseModel):
    keys: list[KeyOut]


def _out(r: KeyRecord) -> KeyOut:
    return KeyOut(
        gateway=r.gateway,
        village=r.village,
        fingerprint=r.fingerprint,
        public_key=r.public_key,
        valid_from=iso(r.valid_from_ms),
        valid_until=None if r.valid_until_ms is None else iso(r.valid_until_ms),
        registered_by=r.registered_by,
        registered_at=iso(r.registered_ms),
    )


def _registry(service: Service) -> Registry:
    if service.verifier is None:
        raise NotFound(
            "this service has no key registry: set [evidence] registry in server.toml (docs/configuration.md)"
        )
    return service.verifier.registry


def _time_ms(service: Service, text: str | None, parameter: str) -> int:
    if text is None:
        return int(service.clock() * 1000)
    return int(parse_time(text, now=service.now(), zone=service.zone, parameter=parameter).timestamp() * 1000)


def register(service: Service, gateway: str, body: KeyIn, by: str) -> KeyOut:
    registry = _registry(service)
    # the service registers its own key (server.evidence.service_key): another under its name would end its
    # period, and a gateway's key for every village would sign manual indicators
    if gateway == service.config.indicator_gateway:
        raise ParameterError(
            f"gateway: {gateway!r} is the name the criteria service signs manual indicators under "
            "(indicator_gateway); it registers its own key",
            parameter="gateway",
        )
    if body.village == SERVICE_KEY_VILLAGE:
        raise ParameterError(
            f"village: {SERVICE_KEY_VILLAGE!r} is the criteria service's own keys' village; a gateway serves "
            "one village",
            parameter="village",
        )
    for name, value in (("gateway", gateway), ("village", body.village)):
        try:
            check_slug(value)  # as a gateway's config gives them: one that is not was never a gateway's
        except ValueError as err:
            raise ParameterError(f"{name}: {err}", parameter=name) from None
    valid_from = _time_ms(service, body.valid_from, "valid_from")
    try:
        record = registry.add(
            gateway,
            body.village,
            body.public_key,
            valid_from_ms=valid_from,
            by=by,
            now_ms=int(service.clock() * 1000),
        )
    except KeyConflict as err:
        raise ApiError(str(err), status=409, parameter=err.parameter) from None
    except ValueError as err:
        raise ParameterError(f"public_key: {err}", parameter="public_key") from None
    return _out(record)


def retire(service: Service, gateway: str, fingerprint: str, body: RetireIn) -> KeyOut:
    registry = _registry(service)
    until = _time_ms(service, body.valid_until, "valid_until")
    try:
        return _out(registry.retire(gateway, fingerprint, valid_until_ms=until))
    except KeyError:
        raise NotFound(f"gateway {gateway!r} has no key {fingerprint}", parameter="fingerprint") from None
    except KeyConflict as err:
        raise ApiError(str(err), status=409, parameter=err.parameter) from None


def list_keys(service: Service, *, gateway: str | None = None, village: str | None = None) -> KeysOut:
    records = _registry(service).keys(gateway=gateway, village=village)
    if gateway is not None and not records:
        raise NotFound(f"gateway {gateway!r} has no registered key", parameter="gateway")
    return KeysOut(keys=[_out(r) for r in records])
