"""Test-only: serve ``/api/v2/write`` on loopback and forward it to a real InfluxDB 1.x ``/write``.

There is no InfluxDB 2 server here. InfluxDB 1.8 serves ``/api/v2/write`` by mapping it onto its v1 write
handler (``services/httpd/handler.go``: ``serveWriteV2`` and ``bucket2dbrp``): bucket ``db/rp`` (or ``db``)
becomes ``db`` and ``rp``, precision ``ns``/``us`` becomes ``n``/``u`` (``ms``, ``s`` unchanged, anything else
400), an empty database is a 404, and the rest is the v1 handler, whose status and JSON error body pass
through. This adapter does exactly that mapping, so ``influxdb-client``'s real HTTP requests land in a real
database. It also passes ``/write`` through, and can inject faults (a queued status with headers) in front
of either path; when the upstream is unreachable it answers 503, like a proxy in front of a stopped server.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx

__all__ = ["Fault", "V2Adapter", "bucket_to_dbrp"]

_PRECISION = {"ns": "n", "us": "u", "ms": "ms", "s": "s", "": ""}


def bucket_to_dbrp(bucket: str) -> tuple[str, str]:
    """InfluxDB 1.8's ``bucket2dbrp``: ``db/rp`` or ``db``; ValueError (a 404 there) for an empty database."""
    db, _, rp = bucket.partition("/")
    if not db:
        if "/" in bucket:
            raise ValueError(f"bucket name {bucket!r} is in db/rp form but has an empty database")
        raise ValueError(
            f'bucket name {bucket!r} is missing a slash; not in "database/retention-policy" format'
        )
    return db, rp


@dataclass
class Fault:
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    error: str = "injected fault"


@dataclass
class Seen:
    at: float
    path: str
    status: int


class V2Adapter:
    """``with V2Adapter(upstream_url) as adapter: adapter.url`` -> ``http://127.0.0.1:<port>``."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.rstrip("/")
        self.faults: deque[Fault] = deque()
        self.seen: list[Seen] = []
        self._http = httpx.Client(timeout=30)
        adapter = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                adapter._handle(self)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> V2Adapter:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._http.close()

    def _reply(
        self, h: BaseHTTPRequestHandler, status: int, body: bytes = b"", headers: dict[str, str] | None = None
    ) -> None:
        self.seen.append(Seen(time.monotonic(), urlsplit(h.path).path, status))
        h.send_response(status)
        for key, value in (headers or {}).items():
            h.send_header(key, value)
        if body:
            h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)

    def _error(
        self, h: BaseHTTPRequestHandler, status: int, message: str, headers: dict[str, str] | None = None
    ) -> None:
        self._reply(h, status, json.dumps({"error": message}).encode(), headers)

    def _handle(self, h: BaseHTTPRequestHandler) -> None:
        body = h.rfile.read(int(h.headers.get("Content-Length") or 0))
        parts = urlsplit(h.path)
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        if self.faults:
            fault = self.faults.popleft()
            self._error(h, fault.status, fault.error, fault.headers)
            return
        if parts.path == "/api/v2/write":
            precision = query.get("precision", "")
            if precision not in _PRECISION:
                self._error(h, 400, f"invalid precision {precision!r} (use ns, us, ms or s)")
                return
            try:
                db, rp = bucket_to_dbrp(query.get("bucket", ""))
            except ValueError as err:
                self._error(h, 404, str(err))
                return
            params = {"db": db, "precision": _PRECISION[precision]}
            if rp:
                params["rp"] = rp
        elif parts.path == "/write":
            params = query
        else:
            self._error(h, 404, f"no such path {parts.path}")
            return
        headers = {k: h.headers[k] for k in ("Content-Encoding", "Content-Type") if h.headers.get(k)}
        try:
            answer = self._http.post(
                f"{self.upstream}/write?{urlencode(params)}", content=body, headers=headers
            )
        except httpx.TransportError as err:
            self._error(h, 503, f"upstream unreachable: {err}")
            return
        self._reply(h, answer.status_code, answer.content)
