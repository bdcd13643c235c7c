"""A request body over ``[http] max_body_kib`` refused as it arrives, never held whole.

The sign-in form needs no key, so without a limit anyone who reached the service could make it hold a body of
any size in memory. The declared ``Content-Length`` is refused before a byte is read; a body sent in chunks is
counted as they arrive. The refusal is an ``HTTPException`` (413) raised where the route reads the body, so the
app's own handler answers it in the API's form (``detail``, ``parameter: body``, credentials refused first) or
as a page. Starlette's ``RequestBodyLimitMiddleware`` (FastAPI's ``max_body_size``) answers a declared length
over the limit in plain text of its own, whatever the app's handlers say, so it is not used.
"""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["BodyLimit", "BodyTooLarge"]


class BodyTooLarge(HTTPException):
    def __init__(self, max_bytes: int) -> None:
        super().__init__(
            413, f"body: larger than the {max_bytes} bytes this service takes ([http] max_body_kib)"
        )


class BodyLimit:
    """ASGI middleware: reading a request body past ``max_bytes`` raises ``BodyTooLarge``."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length")
        over = declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes)
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            if over:
                raise BodyTooLarge(self.max_bytes)
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise BodyTooLarge(self.max_bytes)
            return message

        await self.app(scope, counted, send)
