"""InfluxDB over HTTP: line-protocol writes (v1 ``/write`` or v2 through ``influxdb-client``) and InfluxQL queries.

Every read in this project is InfluxQL over the v1 ``/query`` endpoint, which InfluxDB 1.x, 2.x (v1
compatibility with DBRP mappings) and 3.x all serve. Errors are sorted into the ``thonminh.errors`` hierarchy
here, at the boundary: connection problems and 429/5xx can be retried, other 4xx cannot. What an answer means
(results, errors, ``Retry-After``) is ``thonminh.influxresponse``'s, re-exported here.
"""

from __future__ import annotations

import gzip as gzip_module
import itertools
import json
import logging
from collections.abc import Iterable, Iterator, Mapping
from functools import partial
from typing import Any, Protocol

import httpx

from thonminh.errors import (
    InfluxClientError,
    InfluxConnectionError,
    InfluxError,
    InfluxQueryError,
    InfluxServerError,
)

# one quoting for every statement: the builder's (re-exported for the callers that only quote)
from thonminh.influxql import ident as quote_ident
from thonminh.influxql import literal as quote_literal

# what InfluxDB's answers mean (the public names re-exported: callers import them from here)
from thonminh.influxresponse import (
    MSGPACK,
    Series,
    StatementResult,
    decoded,
    parse_query_response,
    parse_retry_after,
    raise_for_status,
)

__all__ = [
    "MAX_WRITE_LINES",
    "InfluxClient",
    "InfluxV1Writer",
    "InfluxV2Writer",
    "LineWriter",
    "Series",
    "StatementResult",
    "parse_query_response",
    "parse_retry_after",
    "quote_ident",
    "quote_literal",
    "raise_for_status",
]

log = logging.getLogger(__name__)

# Statements that change state must be POSTed; SELECT and SHOW may be GET (read-only users on 1.x).
_READ_STATEMENTS = ("SELECT", "SHOW", "EXPLAIN")

#: The most lines ``InfluxClient.write`` sends in one request when given lines one by one (a roll-up pass's
#: write-back or a display copy may be any number). InfluxDB 1.x refuses a body over ``max-body-size`` (25 MB by
#: default: 413) and gives a write ``write-timeout`` (10 s by default) to reach its shards; 20,000 lines of a few
#: hundred bytes are a few MB, well within both and within this client's own timeout.
MAX_WRITE_LINES = 20_000
#: The longest statement text sent as GET: a longer read is POSTed as a form (httpx refuses a URL's query over
#: 64 KB, and proxies in front of InfluxDB 2.x or 3.x often take 8 KB).
MAX_GET_QUERY = 2_000


class LineWriter(Protocol):
    """Anything that writes a batch of line protocol, raising ``InfluxError`` subclasses."""

    def write(self, lines: str | bytes, *, timeout: float | None = None) -> None: ...

    def close(self) -> None: ...


class InfluxClient:
    """A synchronous InfluxDB 1.x-style HTTP client with one connection pool.

    ``token`` authenticates as ``Authorization: Token ...`` (2.x/3.x); ``username``/``password`` as basic auth
    (1.x). ``compress_answers`` asks InfluxDB to gzip its answers: worth it over a slow or metered link only.
    Thread-safe: the gateway's forwarder and the server's worker threads share one instance.
    """

    def __init__(
        self,
        url: str,
        *,
        database: str | None = None,
        retention_policy: str | None = None,
        username: str | None = None,
        password: str | None = None,
        token: str | None = None,
        timeout: float = 10.0,
        transport: httpx.BaseTransport | None = None,
        logger: logging.Logger | None = None,
        compress_answers: bool = False,
    ) -> None:
        # how to open another like it, in another process (``__reduce__``); None: not possible (its own transport)
        self._recipe: dict[str, Any] | None = (
            None
            if transport is not None or logger is not None
            else {
                "url": url,
                "database": database,
                "retention_policy": retention_policy,
                "username": username,
                "password": password,
                "token": token,
                "timeout": timeout,
                "compress_answers": compress_answers,
            }
        )
        self.url = url.rstrip("/")
        self.database = database
        self.retention_policy = retention_policy
        self.compress_answers = compress_answers
        self._log = logger or log
        # InfluxDB gzips an answer when asked, and httpx asks by default: a third of InfluxDB's CPU answering a
        # village-month (bench/evidence_verify.py), for nothing when it stands beside us as in the central stack
        headers = {"User-Agent": "thonminh", "Accept-Encoding": "gzip" if compress_answers else "identity"}
        auth: httpx.Auth | None = None
        if token:
            headers["Authorization"] = f"Token {token}"
        elif username:
            auth = httpx.BasicAuth(username, password or "")
        self._http = httpx.Client(
            base_url=self.url,
            headers=headers,
            auth=auth,
            # loading the CA bundle costs ~1.2 MB of a gateway's 60 MB budget; plain http never needs it
            verify=self.url.startswith("https://"),
            timeout=timeout,
            transport=transport,
            limits=httpx.Limits(max_connections=20, max_keepalive_connections=10),
        )
        #: whether a ``packed`` query asks for MessagePack: False once the server refused it
        self._packed = True

    # -- lifecycle -------------------------------------------------------------------------------------------
    def __enter__(self) -> InfluxClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickled as the way to open another client like it: a worker process (``server.evidence.workers``)
        opens its own connections. A client given its own transport or logger cannot be."""
        if self._recipe is None:
            raise TypeError(
                "an InfluxClient with its own transport or logger cannot be sent to another process"
            )
        return (partial(type(self), **self._recipe), ())

    def _request(
        self, method: str, path: str, what: str, *, timeout: float | None, **kwargs: Any
    ) -> httpx.Response:
        try:
            response = self._http.request(
                method, path, timeout=httpx.USE_CLIENT_DEFAULT if timeout is None else timeout, **kwargs
            )
        except httpx.TimeoutException as err:
            raise InfluxConnectionError(f"{what}: timed out talking to {self.url}") from err
        except httpx.TransportError as err:
            raise InfluxConnectionError(f"{what}: cannot reach {self.url}: {err}") from err
        raise_for_status(response, what)
        return response

    # -- API -------------------------------------------------------------------------------------------------
    def ping(self, *, timeout: float | None = 5.0) -> str:
        """Check that InfluxDB answers; returns its version header."""
        response = self._request("GET", "/ping", "ping", timeout=timeout)
        return str(response.headers.get("X-Influxdb-Version", "unknown"))

    def write(
        self,
        lines: str | bytes | Iterable[str],
        *,
        database: str | None = None,
        retention_policy: str | None = None,
        precision: str = "ms",
        gzip: bool = True,
        timeout: float | None = None,
    ) -> None:
        """POST line protocol to ``/write``. Raises on anything but 204.

        A ``str`` or ``bytes`` is one body, sent as it is. Lines one by one (any iterable, read as it is sent)
        go in requests of at most ``MAX_WRITE_LINES`` lines, in order; none, no request. An error stops at its
        request: the requests before it are written."""
        params = {"db": database or self._require_db(), "precision": precision}
        rp = retention_policy or self.retention_policy
        if rp:
            params["rp"] = rp
        headers = {"Content-Type": "text/plain; charset=utf-8"}
        if gzip:
            headers["Content-Encoding"] = "gzip"
        for text in (lines,) if isinstance(lines, str | bytes) else _batches(lines):
            body = text.encode() if isinstance(text, str) else text
            if gzip:
                body = gzip_module.compress(body, compresslevel=5)
            self._request(
                "POST", "/write", "write", timeout=timeout, params=params, content=body, headers=headers
            )

    def query(
        self,
        q: str,
        *,
        database: str | None = None,
        params: Mapping[str, Any] | None = None,
        epoch: str = "ms",
        timeout: float | None = None,
        packed: bool = False,
    ) -> list[StatementResult]:
        """Run InfluxQL (one or more statements); an error in any statement raises ``InfluxQueryError``.

        ``packed`` asks for the answer in MessagePack, for large reads (verifying a village-month): InfluxDB 1.x
        encodes it with about two thirds of the CPU of JSON and Python reads it twice as fast, with the same
        values and types. A server that answers JSON anyway (2.x, 3.x) is read as JSON; one that refuses the
        format is asked again in JSON, and not asked for MessagePack again by this client."""
        if packed and not epoch:
            raise ValueError(
                "a packed query needs integer times (epoch): MessagePack has no RFC 3339 strings"
            )
        form: dict[str, str] = {"q": q, "epoch": epoch}
        db = database or self.database
        if db:
            form["db"] = db
        if params:
            form["params"] = json.dumps(dict(params))
        # a province's rollup audit names 2,000 villages in one condition: too long for a URL (``MAX_GET_QUERY``)
        method, send = ("GET", {"params": form}) if len(q) <= MAX_GET_QUERY else ("POST", {"data": form})
        if _changes_state(q):
            response = self._request("POST", "/query", "query", timeout=timeout, data=form)
        elif packed and self._packed:
            try:
                response = self._request(
                    method, "/query", "query", timeout=timeout, headers={"Accept": MSGPACK}, **send
                )
            except InfluxClientError:
                # a refused format or a bad statement: JSON tells which, with InfluxDB's own message
                response = self._request(method, "/query", "query", timeout=timeout, **send)
                self._packed = False
                self._log.info("InfluxDB at %s does not answer MessagePack: reading JSON", self.url)
        else:
            response = self._request(method, "/query", "query", timeout=timeout, **send)
        try:
            body = decoded(response)
        except ValueError as err:
            raise InfluxQueryError(f"unreadable /query answer: {err} (query: {q[:300]})") from err
        return parse_query_response(body, q)

    def select(self, q: str, **kwargs: Any) -> StatementResult:
        """Run one statement and return its result."""
        return self.query(q, **kwargs)[0]

    def create_database(self, name: str) -> None:
        self.query(f"CREATE DATABASE {quote_ident(name)}")

    def drop_database(self, name: str) -> None:
        self.query(f"DROP DATABASE {quote_ident(name)}")

    def _require_db(self) -> str:
        if not self.database:
            raise InfluxError("no database given and no default database configured")
        return self.database


def _batches(lines: Iterable[str]) -> Iterator[str]:
    """The lines joined in bodies of at most ``MAX_WRITE_LINES``, read from ``lines`` as each is sent."""
    it = iter(lines)
    while batch := list(itertools.islice(it, MAX_WRITE_LINES)):
        yield "\n".join(batch)


def _changes_state(q: str) -> bool:
    upper = q.upper()
    statements = [part.split(None, 1) for part in upper.split(";") if part.strip()]
    return " INTO " in upper or any(words[0] not in _READ_STATEMENTS for words in statements)


class InfluxV2Writer:
    """Writes line protocol to ``/api/v2/write`` through ``influxdb-client``, synchronously.

    On InfluxDB 1.8 and 2.x the bucket may be ``database/retention_policy``.
    """

    def __init__(self, url: str, *, org: str, bucket: str, token: str, timeout: float = 10.0) -> None:
        from influxdb_client.client.influxdb_client import InfluxDBClient
        from influxdb_client.client.write_api import SYNCHRONOUS

        self.bucket = bucket
        self.org = org
        self._client = InfluxDBClient(
            url=url, token=token, org=org, timeout=int(timeout * 1000), enable_gzip=True
        )
        self._api = self._client.write_api(write_options=SYNCHRONOUS)

    def write(self, lines: str | bytes, *, timeout: float | None = None) -> None:
        from influxdb_client.domain.write_precision import WritePrecision
        from influxdb_client.rest import ApiException
        from urllib3.exceptions import HTTPError

        record = lines.decode() if isinstance(lines, bytes) else lines
        try:
            # WritePrecision.MS is the str "ms", though write() is annotated to take a WritePrecision
            self._api.write(
                bucket=self.bucket,
                org=self.org,
                record=record,
                write_precision=WritePrecision.MS,  # type: ignore[arg-type]
            )
        except ApiException as err:
            status = int(err.status or 0)
            message = f"v2 write: HTTP {status}: {(err.body or err.reason or '')!s:.500}"
            if status == 429 or status >= 500 or status == 0:
                retry_after = parse_retry_after(err.headers.get("Retry-After") if err.headers else None)
                raise InfluxServerError(message, status=status, retry_after=retry_after) from err
            raise InfluxClientError(message, status=status) from err
        except (HTTPError, OSError) as err:
            raise InfluxConnectionError(f"v2 write: cannot reach InfluxDB: {err}") from err

    def close(self) -> None:
        self._api.close()
        self._client.close()


class InfluxV1Writer:
    """``LineWriter`` over ``InfluxClient.write`` with a fixed database and retention policy."""

    def __init__(self, client: InfluxClient, *, database: str, retention_policy: str | None = None) -> None:
        self.client = client
        self.database = database
        self.retention_policy = retention_policy

    def write(self, lines: str | bytes, *, timeout: float | None = None) -> None:
        self.client.write(
            lines, database=self.database, retention_policy=self.retention_policy, timeout=timeout
        )

    def close(self) -> None:
        self.client.close()
