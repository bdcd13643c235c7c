"""The FastAPI application: factory, key policy, error handlers, and the rollup loop's lifecycle."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from server import pages, verdicts
from server.body_limit import BodyLimit, BodyTooLarge
from server.config import ServerConfig
from server.criteria import CriteriaSet, load_criteria
from server.deps import check_credentials, query_as_declared
from server.errors import ApiError, ParameterError
from server.evidence.hourly import Verifier
from server.evidence.indicator_heads import IndicatorHeads
from server.evidence.registry import Registry
from server.evidence.service_key import ServiceKey
from server.evidence.store import ResultStore
from server.evidence.workers import Workers, default_processes
from server.evidence_display import DisplayCopy, ensure_retention_policy
from server.failures import FAILURES, failure_of
from server.kept_evaluation import KeptEvaluation
from server.reader import Reader
from server.rollup_findings import RollupFindings
from server.rollups import Rollups
from server.routes import ROUTERS, health
from server.service import Service
from server.urls import API_PREFIX
from thonminh import __version__
from thonminh.errors import (
    ConfigError,
    InfluxError,
)
from thonminh.influx import InfluxClient

__all__ = ["API_PREFIX", "create_app"]
log = logging.getLogger("server")


def _error(
    status: int, message: str, parameter: str | None = None, headers: dict | None = None
) -> JSONResponse:
    body = {"detail": message} | ({"parameter": parameter} if parameter else {})
    return JSONResponse(body, status_code=status, headers=headers)


def _credentials_first(request: Request) -> JSONResponse | None:
    """The refusal of the request's credentials, if they are refused: it comes before anything about the body."""
    try:
        check_credentials(request)
    except ApiError as err:
        return _error(err.status, err.message, err.parameter, err.headers or None)
    return None


async def _raw_body(request: Request) -> bytes:
    try:
        return await request.body()  # as FastAPI read it
    except RuntimeError:  # not kept: read as a stream
        return b""


def _not_json(exc: RequestValidationError, raw: bytes) -> str | None:
    """What made the body unreadable as JSON, and where; None when it was read (or was not the trouble)."""
    for e in exc.errors():
        loc = tuple(e.get("loc", ()))
        if e.get("type") == "json_invalid" and len(loc) == 2 and isinstance(loc[1], int):
            doc, at = (exc.body if isinstance(exc.body, str) else ""), loc[1]
            line, column = doc.count("\n", 0, at) + 1, at - (doc.rfind("\n", 0, at) + 1) + 1
            why = _plain((e.get("ctx") or {}).get("error") or e.get("msg"))
            return f"not JSON: {why} at line {line} column {column} (character {at})"
        if e.get("type") == "missing" and loc == ("body",) and not raw.strip():
            return "empty: send a JSON object"
    return None


def _undecodable(cause: BaseException | None) -> str:
    if isinstance(cause, UnicodeDecodeError):
        byte = cause.object[cause.start : cause.start + 1].hex()
        encoding = cause.encoding.upper()
        return f"not JSON: byte 0x{byte} at position {cause.start} is not {encoding} ({cause.reason})"
    return f"not JSON: {_plain(cause) if cause else 'unreadable'}"


def _plain(why: object) -> str:
    """A JSON decoder's complaint as a client can act on it: Python's advice to its own programmer left out."""
    text = str(why)
    return "a number of more than 4300 digits" if "int_max_str_digits" in text else text


async def _validation(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    refused = _credentials_first(request)
    if refused is not None:
        return refused
    not_json = _not_json(exc, await _raw_body(request))
    if not_json is not None:
        return _error(400, f"body: {not_json}", "body")
    problems: list[str] = []
    parameter = None
    for e in exc.errors():
        loc = [str(p) for p in e.get("loc", ())]
        name = ".".join(loc[1:]) if len(loc) > 1 else ".".join(loc)
        parameter = parameter or (loc[1] if len(loc) > 1 else name)
        problem = f"{name}: {e.get('msg')}"
        if problem not in problems:  # one constraint of a parameter shared by several dependencies
            problems.append(problem)
    message = "; ".join(problems) or "invalid request"
    page = pages.refused_request_page(request, ParameterError(message, parameter=parameter))
    return page or _error(422, message, parameter)


#: FastAPI's words when the body's bytes cannot be decoded at all (not UTF-8): a 400 with no parameter
_UNREADABLE_BODY = "There was an error parsing the body"


async def _http_error(request: Request, exc: Exception) -> Response:
    """FastAPI's own HTTP errors as it answers them, but an unreadable body and one over ``max_body_kib``
    (``server.body_limit``): a 400 or 413 naming ``body``, and only once the credentials are good; a page's
    form over the limit is a page saying so."""
    assert isinstance(exc, StarletteHTTPException)
    unreadable = exc.status_code == 400 and exc.detail == _UNREADABLE_BODY
    if exc.status_code == 404 and exc.detail == "Not Found":  # no route: a mistyped page address gets a page
        return pages.refusal_page(request, "no_such_page", 404) or await http_exception_handler(request, exc)
    if not (unreadable or isinstance(exc, BodyTooLarge)):
        return await http_exception_handler(request, exc)
    refused = _credentials_first(request)
    if refused is not None:
        return refused
    if unreadable:
        return _error(400, f"body: {_undecodable(exc.__cause__)}", "body")
    return pages.refusal_page(request, "too_large", 413) or _error(413, exc.detail, "body")


def _outage(request: Request, exc: Exception) -> Response:
    outage = failure_of(exc)
    # the cause in the message too: a test's captured log shows the message, not the extras
    log.log(outage.level, "%s: %s", outage.logged, exc, extra={"error": str(exc)})
    page = pages.refusal_page(request, outage.page, outage.status, outage.retry_after_s)
    headers = {"Retry-After": str(outage.retry_after_s)} if outage.retry_after_s else None
    return page or _error(outage.status, outage.detail, headers=headers)


def _install_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    def api_error(request: Request, exc: ApiError) -> Response:
        return pages.refused_request_page(request, exc) or _error(
            exc.status, exc.message, exc.parameter, exc.headers or None
        )

    for cause in FAILURES:
        app.add_exception_handler(cause, _outage)
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(StarletteHTTPException, _http_error)


def create_app(
    config: ServerConfig,
    *,
    open_read_only: bool = False,
    client: InfluxClient | None = None,
    criteria: CriteriaSet | None = None,
    clock: Callable[[], float] = time.time,
    keep_results: bool = True,
) -> FastAPI:
    """Build the app. Without API keys it refuses to start unless ``open_read_only`` (GET without a key, no PUT).
    ``keep_results``: settled hours' verification results are kept on disk across restarts (``thonminh
    verify`` turns it off: it reads everything afresh)."""
    if not config.auth.configured and not open_read_only:
        raise ConfigError(
            "auth: no API keys configured (auth.read_keys / auth.admin_keys, or the environment variable "
            "THONMINH_SERVER_AUTH__READ_KEYS__<NAME>); refusing to start. Start with --open-read-only to serve "
            "GET requests without keys."
        )
    criteria = criteria or load_criteria(config.criteria_file)
    client = client or config.influxdb.client()
    settings = config.rollups
    rollups = Rollups(
        client,
        database=config.influxdb.database,
        source_rp=config.influxdb.retention_policy,
        rollup_rp=settings.retention_policy,
        mode=settings.mode,
        late_window_h=settings.late_window_h,
        backfill_days=settings.backfill_days,
        reconcile_days=settings.reconcile_days,
        reconcile_share=settings.reconcile_share,
        create_retention_policy=settings.create_retention_policy,
        clock=clock,
    )
    reader = Reader(client, rollups, zone=config.zone, use_rollups=settings.enabled)
    auth_mode = "open-read-only" if open_read_only else "keys"
    verifier = None
    if config.evidence.registry is not None:
        results = config.evidence.results_file if keep_results else None
        verifier = Verifier(
            client,
            rollups.raw,
            Registry(config.evidence.registry),
            clock=clock,
            recent_ttl_s=config.evidence.recent_s,
            reverify_s=config.evidence.reverify_s,
            store=ResultStore(results) if results is not None else None,
            workers=Workers(config.evidence.workers or default_processes()),
            zone=config.zone,
        )
        # forged rollup rows the audits found, named in the village's evidence; `thonminh verify` reads them too
        findings_file = config.evidence.results_file
        assert findings_file is not None  # a registry is configured
        findings = RollupFindings(
            findings_file.with_name(findings_file.stem + "-rollup-findings.json"), clock=clock
        )
        rollups.audit_found.append(findings.record)
        verifier.reported.append(findings.faults)
        # a kept row deleted since (by hand, on a server whose DELETE the audit could not use) stops counting
        rollups.after_roll.append(
            lambda _start, _end: findings.recheck(client, config.influxdb.database, rollups.rollup_rp)
        )
        # Grafana's copy of the results, written after each rollup pass; the API never reads it
        rollups.after_roll.append(
            DisplayCopy(client, verifier, reader, database=config.influxdb.database, clock=clock).write
        )
    service = Service(config, reader, rollups, criteria, clock=clock, auth_mode=auth_mode, verifier=verifier)
    key_file, heads_file = config.evidence.service_key_file, config.evidence.indicator_heads_file
    if verifier is not None and key_file is not None and heads_file is not None:
        service.indicator_key = ServiceKey(key_file, verifier.registry, config.indicator_gateway, clock=clock)
        verifier.indicator_heads = IndicatorHeads(heads_file)
    if verifier is not None and results is not None:  # a restart answers at once with the last evaluation
        service.kept = KeptEvaluation(results.with_name(results.stem + "-evaluation.json"))
        verdicts.restore(service)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if open_read_only:
            log.warning("open read-only mode: GET requests need no API key, PUT requests are refused")
        stop = threading.Event()
        worker = None
        if settings.enabled:
            try:
                rollups.prepare()
                if settings.create_retention_policy:
                    ensure_retention_policy(
                        client, config.influxdb.database
                    )  # Grafana's verdict panels read it
            except InfluxError as err:
                log.warning(
                    "rollups: cannot read their state yet, raw samples serve until they can",
                    extra={"error": str(err)},
                )
            if settings.background:
                worker = threading.Thread(
                    target=rollups.run, args=(stop, settings.interval_s), name="rollups", daemon=True
                )
                worker.start()
                threading.Thread(
                    target=verdicts.keep_warm, args=(service, stop), name="criteria", daemon=True
                ).start()
                if (
                    verifier is not None
                ):  # settled hours read again: an old hour altered shows within reverify_s
                    threading.Thread(
                        target=verdicts.reverify, args=(service, stop), name="evidence-sweep", daemon=True
                    ).start()
        try:
            yield
        finally:
            stop.set()
            if worker is not None:
                worker.join(timeout=30)
            if verifier is not None:
                verifier.close()
            client.close()

    app = FastAPI(
        title="thonminh criteria service",
        version=__version__,
        description="Does this village meet the smart-village infrastructure criteria, and since when? "
        "Numbers and evidence from the gateways' measurements. See docs/api.md.",
        openapi_url=f"{API_PREFIX}/openapi.json",
        docs_url=None,  # served by server.pages with Swagger UI from this machine (offline villages)
        redoc_url=None,
        lifespan=lifespan,
    )
    app.add_middleware(BodyLimit, max_bytes=config.http.max_body_kib * 1024)
    app.state.config = config
    app.state.service = service
    app.state.rollups = rollups
    app.state.open_read_only = open_read_only
    _install_handlers(app)
    for router in ROUTERS:
        # /health answers any query: an uptime probe may add one of its own to pass a cache
        declared = [] if router is health.router else [Depends(query_as_declared)]
        app.include_router(router, prefix=API_PREFIX, dependencies=declared)
    pages.install(app, API_PREFIX)
    return app
