"""Request dependencies: the service, API keys, and parameters parsed into windows, steps and villages."""

from __future__ import annotations

import hmac
import json
import re
from dataclasses import dataclass
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import Depends, Header, Path, Query, Request
from fastapi.security import APIKeyHeader
from pydantic import WithJsonSchema

from server.errors import ApiError, ParameterError
from server.models import ErrorOut
from server.queries import Scope
from server.service import Service
from server.timeparse import STEP_PATTERN, TIME_PATTERN, Step, Window, parse_step
from thonminh.contract import slugify

__all__ = [
    "READ_ERRORS",
    "VILLAGE_ERRORS",
    "AdminKey",
    "Format",
    "KnownVillage",
    "Principal",
    "ReadKey",
    "ScopeParams",
    "ServiceDep",
    "StepParam",
    "WindowParams",
    "admin_only",
    "api_key_header",
    "authenticate",
    "check_credentials",
    "error_answers",
]

#: No control characters, backslash or slash: InfluxDB cannot hold them in a tag (see the contract).
TAG_PATTERN = r"^[^\x00-\x1f\x7f\\/]+$"
SLUG_PATTERN = r"^[a-z][a-z0-9_]{0,63}$"


#: What ``tz`` may be, published as a constraint and checked by ``get_service`` (see there).
TZ_PATTERN = r"^[A-Za-z0-9_+\-/]+$"
_TZ_DESCRIPTION = (
    "an IANA time zone (Asia/Ho_Chi_Minh): day and week boundaries, and times given without an offset, are read "
    "in it; answers keep ISO 8601 times with their offset (UTC)"
)
_TZ_SCHEMA = {
    "anyOf": [{"type": "string", "minLength": 1, "maxLength": 64, "pattern": TZ_PATTERN}, {"type": "null"}],
    "description": _TZ_DESCRIPTION,
}


def get_service(
    request: Request,
    # published with its constraints but checked here: every dependency that takes the service would check a
    # declared constraint again, and a bad value would be told as many times (FastAPI caches only successes)
    tz: Annotated[str | None, WithJsonSchema(_TZ_SCHEMA), Query(description=_TZ_DESCRIPTION)] = None,
) -> Service:
    service: Service = request.app.state.service
    if tz is None or tz == service.zone.key:
        return service
    try:
        if len(tz) > 64 or not re.fullmatch(TZ_PATTERN, tz):
            raise ValueError(tz)
        return service.in_zone(ZoneInfo(tz))
    except (ZoneInfoNotFoundError, ValueError):
        raise ApiError(
            f"tz: {tz[:64]!r} is not a time zone (an IANA name such as Asia/Ho_Chi_Minh)",
            status=422,
            parameter="tz",
        ) from None


ServiceDep = Annotated[Service, Depends(get_service)]


# -- API keys ------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Principal:
    name: str
    admin: bool


api_key_header = APIKeyHeader(
    name="X-API-Key", auto_error=False, description="a read key (GET) or an admin key (PUT)"
)


def _presented(key: str | None, authorization: str | None) -> str | None:
    if key:
        return key
    if authorization and authorization.lower().startswith("bearer "):
        return authorization[7:].strip() or None
    return None


def _match(presented: str, keys: dict) -> str | None:
    found = None
    for name, secret in keys.items():
        # compare against every key, so the time taken does not say which one was close
        if hmac.compare_digest(presented.encode(), secret.get_secret_value().encode()):
            found = name
    return found


def authenticate(request: Request, key: str | None, authorization: str | None) -> Principal | None:
    auth = request.app.state.config.auth
    presented = _presented(key, authorization)
    if presented is None:
        return None
    admin = _match(presented, auth.admin_keys)
    if admin:
        return Principal(admin, True)
    reader = _match(presented, auth.read_keys)
    if reader:
        return Principal(reader, False)
    raise ApiError("invalid API key", status=401, parameter="X-API-Key")


def require_read(
    request: Request,
    key: Annotated[str | None, Depends(api_key_header)] = None,
    authorization: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> Principal:
    principal = authenticate(request, key, authorization)  # a wrong key is refused here, session or not
    if principal is not None:
        return principal
    # a browser signed in on the pages (server/pages/auth.py) holds a session cookie, never the key: it may read
    # too, so the village page's dossier link downloads; Sessions.principal also answers open read-only mode
    sessions = getattr(request.app.state, "page_sessions", None)
    principal = sessions.principal(request) if sessions is not None else None
    if principal is not None:
        return principal
    if request.app.state.open_read_only:
        return Principal("anonymous", False)
    raise ApiError(
        "missing API key: send it as X-API-Key or Authorization: Bearer", status=401, parameter="X-API-Key"
    )


def require_admin(
    request: Request,
    key: Annotated[str | None, Depends(api_key_header)] = None,
    authorization: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> Principal:
    # open read-only mode refuses before any key is looked at
    principal = None if request.app.state.open_read_only else authenticate(request, key, authorization)
    return admin_only(request, principal)


def admin_only(request: Request, principal: Principal | None) -> Principal:
    """``principal`` if it may change things (an admin key, and not open read-only mode), else the refusal:
    the API's admin routes and the pages' form that enters an indicator ask the same."""
    if request.app.state.open_read_only:
        raise ApiError("the service runs in open read-only mode: changes are refused", status=403)
    if principal is None:
        raise ApiError("missing API key: send an admin key as X-API-Key", status=401, parameter="X-API-Key")
    if not principal.admin:
        raise ApiError(
            f"key {principal.name!r} is a read key; this needs an admin key",
            status=403,
            parameter="X-API-Key",
        )
    return principal


def check_credentials(request: Request) -> None:
    """The key check of the request's route (``require_admin`` or ``require_read``, called as its dependency
    calls it), for an answer given before the dependencies ran: FastAPI reads the body first, and a body that is
    not JSON must not be told about to someone whose credentials would be refused. ``ApiError`` when they are."""
    dependant = getattr(request.scope.get("route"), "dependant", None)
    calls, todo = [], [dependant] if dependant is not None else []
    while todo:
        found = todo.pop()
        calls.append(found.call)
        todo.extend(found.dependencies)
    for check in (require_admin, require_read):
        if any(call is check for call in calls):
            check(
                request, request.headers.get(api_key_header.model.name), request.headers.get("authorization")
            )
            return


ReadKey = Annotated[Principal, Depends(require_read)]
AdminKey = Annotated[Principal, Depends(require_admin)]


def _once_each(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    for key, value in pairs:
        if key in seen:
            raise ParameterError(f"{key}: given twice in the body; give it once", parameter=key)
        seen[key] = value
    return seen


async def once_each(request: Request) -> None:
    """A JSON body that names a field twice is refused (422 naming it), as a page's form that posts one twice is:
    JSON parsers keep the last, and which one a client meant is not known. Declared after the route's key
    check, so that only a caller who may change things is told about the body."""
    kind = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if kind and kind != "application/json" and not kind.endswith("+json"):
        # FastAPI reads any other type as no JSON at all, and said only "Input should be a valid dictionary"
        raise ApiError(
            f"Content-Type: {kind[:60]!r} is not JSON; send the body as JSON with Content-Type: application/json",
            parameter="Content-Type",
            status=415,
        )
    raw = await request.body()  # FastAPI's own read, kept
    try:
        json.loads(raw, object_pairs_hook=_once_each)  # a ParameterError is no ValueError: it goes on
    except ValueError:  # not JSON: FastAPI's own check says so
        return


OnceEach = Annotated[None, Depends(once_each)]


def _declared(route: object) -> frozenset[str]:
    """The query parameters a route reads, its dependencies' included."""
    names: set[str] = set()
    todo = [getattr(route, "dependant", None)]
    while todo:
        found = todo.pop()
        if found is not None:
            names.update(p.alias for p in found.query_params)
            todo.extend(found.dependencies)
    return frozenset(names)


def query_as_declared(request: Request) -> None:
    """A query parameter the route does not read, or one given twice, is refused (422 naming it): otherwise
    ``?month=2025-03`` on a route that takes ``start``/``end`` answers its default window, and ``start=a&start=b``
    the last, while the caller believes another window was asked. After the key check, as a body's."""
    declared, given = _declared(request.scope.get("route")), request.query_params
    for name in dict.fromkeys(given.keys()):
        if name not in declared:
            check_credentials(request)
            known = ", ".join(sorted(declared)) or "none"
            raise ParameterError(
                f"{name[:60]}: not a parameter of this request (its parameters: {known})", parameter=name[:60]
            )
        if len(given.getlist(name)) > 1:
            check_credentials(request)
            raise ParameterError(f"{name[:60]}: given twice; give it once", parameter=name[:60])


# -- error answers, as the OpenAPI document states them ---------------------------------------------------------

_MEANING = {
    400: "the body could not be read as JSON",
    401: "no API key, or an unknown one",
    403: "a read key where an admin key is needed, or open read-only mode",
    404: "the village is not in the data",
    409: "the change contradicts what is registered",
    413: "the body is larger than [http] max_body_kib",
    415: "the body is not sent as JSON (Content-Type: application/json)",
    422: "a parameter or the body is malformed or out of range",
    502: "InfluxDB refused a query",
    503: "InfluxDB is unavailable (Retry-After)",
}


def error_answers(*statuses: int, meaning: dict[int, str] | None = None) -> dict[int | str, dict[str, Any]]:
    """``responses=`` for a route: the error model at each status it can answer (``meaning`` overrides the
    usual description of a status)."""
    said = _MEANING | (meaning or {})
    return {status: {"model": ErrorOut, "description": said[status]} for status in statuses}


#: every read route; village routes add 404
READ_ERRORS = error_answers(401, 422, 502, 503)
VILLAGE_ERRORS = error_answers(401, 404, 422, 502, 503)


# -- parameters ------------------------------------------------------------------------------------------------

TagQuery = Annotated[str | None, Query(min_length=1, max_length=128, pattern=TAG_PATTERN)]
#: The times and steps ``timeparse`` reads, published with each parameter; the parser checks them itself, so that
#: a wrong value gets its message (and the hint about a ``+`` that arrived as a space), not a bare pattern error.
TimeQuery = Annotated[
    str | None,
    Query(
        min_length=1,
        max_length=64,
        json_schema_extra={"pattern": TIME_PATTERN},
        description="ISO 8601 (2025-03-01T00:00:00+07:00: write + as %2B in a URL), a date (2025-03-01, local "
        "midnight), or relative to now: -30d, now-2h, now. A window [start, end) must not be empty, "
        "end is capped at now, and start and end lie in 2000..2200.",
    ),
]


def window_params(service: ServiceDep, start: TimeQuery = None, end: TimeQuery = None) -> Window:
    return service.window(start, end)


WindowParams = Annotated[Window, Depends(window_params)]


def raw_window(start: TimeQuery = None, end: TimeQuery = None) -> tuple[str | None, str | None]:
    """Start and end as given: the criteria fall back to each criterion's own window."""
    return start, end


RawWindow = Annotated[tuple[str | None, str | None], Depends(raw_window)]


def step_param(
    service: ServiceDep,
    window: WindowParams,
    step: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=16,
            json_schema_extra={"pattern": STEP_PATTERN},
            description="bucket width: 15m, 1h, 1d, 1w; at most max_buckets buckets in the window",
        ),
    ] = None,
) -> Step | None:
    if step is None:
        return None
    return parse_step(step, window=window, max_buckets=service.config.max_buckets)


StepParam = Annotated[Step | None, Depends(step_param)]


def known_village(
    service: ServiceDep,
    village: Annotated[
        str,
        Path(
            min_length=1, max_length=128, pattern=TAG_PATTERN, description="the village slug (tag `village`)"
        ),
    ],
) -> str:
    service.require_village(village)
    return village


KnownVillage = Annotated[str, Depends(known_village)]
LinkQuery = TagQuery


def _place(level: str, given: str | None) -> str | None:
    """The slug of a place as given (``Bắc Giang`` is ``bac-giang``); one with no letter or digit names none."""
    if given is None:
        return None
    slug = slugify(given)
    if not slug:
        raise ParameterError(
            f"{level}: {given[:40]!r} has no letter or digit of a place's name", parameter=level
        )
    return slug


def scope_params(province: TagQuery = None, district: TagQuery = None, commune: TagQuery = None) -> Scope:
    """Places by slug or by the name as people write it (``Bắc Giang`` is ``bac-giang``)."""
    return Scope(
        province=_place("province", province),
        district=_place("district", district),
        commune=_place("commune", commune),
    )


ScopeParams = Annotated[Scope, Depends(scope_params)]
Format = Annotated[
    Literal["json", "csv", "excel"] | None,
    Query(
        description="csv (or send Accept: text/csv); excel: the same CSV with a UTF-8 byte order mark, for Excel"
    ),
]
