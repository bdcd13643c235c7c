"""Browser sign-in: the read key is posted once, the browser then holds a signed session cookie.

The cookie is ``HttpOnly`` (no script reads it), ``SameSite=Lax`` (not sent with another site's form posts),
``Secure`` when the page was served over https, and signed with ``itsdangerous`` with a lifetime. It holds the
key's name and an HMAC of the key, never the key: a session ends when its key is removed or changed. The key
never travels in a URL. API clients keep sending ``X-API-Key``, which the pages accept too.

Each session has an id of its own. Signing out ends it here, not only in the browser that signed out: a copy
of the cookie taken before (from a shared computer at the commune office) is refused until it would have
expired, after a restart too where the service has a file to keep them in (``server.pages.ended_sessions``).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from fastapi import Request, Response
from itsdangerous import BadSignature, URLSafeTimedSerializer

from server.config import ServerConfig
from server.deps import Principal, authenticate
from server.errors import ApiError
from server.pages.ended_sessions import EndedSessions

__all__ = ["COOKIE", "Sessions", "safe_next"]

COOKIE = "thonminh_session"


def _default_secret(config: ServerConfig) -> bytes:
    keys = sorted(
        (name, key.get_secret_value())
        for group in (config.auth.read_keys, config.auth.admin_keys)
        for name, key in group.items()
    )
    if not keys:
        return secrets.token_bytes(32)  # open read-only: nobody signs in, any secret will do
    material = "\x00".join(f"{name}\x01{key}" for name, key in keys)
    return hashlib.sha256(b"thonminh pages session\x00" + material.encode()).digest()


class Sessions:
    """Issues and checks the session cookies of one app."""

    def __init__(self, config: ServerConfig) -> None:
        self.config = config
        configured = config.pages.session_secret
        self._secret = configured.get_secret_value().encode() if configured else _default_secret(config)
        self._signer = URLSafeTimedSerializer(self._secret, salt="thonminh-pages-session")
        self.max_age_s = int(config.pages.session_hours * 3600)
        self.ended = EndedSessions(config.signed_out_file)

    def _fingerprint(self, key: str) -> str:
        return hmac.new(self._secret, key.encode(), hashlib.sha256).hexdigest()[:32]

    def sign_in(self, request: Request, response: Response, key: str) -> Principal | None:
        """Check ``key`` like the API does; on success set the session cookie and return who signed in."""
        try:
            principal = authenticate(request, key or None, None)
        except ApiError:
            return None
        if principal is None:
            return None
        token = self._signer.dumps(
            {
                "name": principal.name,
                "admin": principal.admin,
                "fp": self._fingerprint(key),
                "sid": secrets.token_hex(16),
            }
        )
        response.set_cookie(
            COOKIE,
            token,
            max_age=self.max_age_s,
            httponly=True,
            samesite="lax",
            secure=request.url.scheme == "https",
            path="/",
        )
        return principal

    def sign_out(self, request: Request, response: Response) -> None:
        """End the request's session for every copy of its cookie, and delete the cookie in this browser."""
        token = request.cookies.get(COOKIE)
        if token:
            try:
                data, issued = self._signer.loads(token, max_age=self.max_age_s, return_timestamp=True)
            except BadSignature:
                data = None
            if isinstance(data, dict) and data.get("sid"):
                self.ended.end(str(data["sid"]), issued.timestamp() + self.max_age_s)
        response.delete_cookie(COOKIE, path="/", httponly=True, samesite="lax")

    def principal(self, request: Request) -> Principal | None:
        """Who this request is: its session, its ``X-API-Key``, or anyone in open read-only mode; else None."""
        try:
            by_header = authenticate(
                request, request.headers.get("x-api-key"), request.headers.get("authorization")
            )
        except ApiError:
            by_header = None
        if by_header is not None:
            return by_header
        session = self._session(request.cookies.get(COOKIE))
        if session is not None:
            return session
        return Principal("anonymous", False) if request.app.state.open_read_only else None

    def _session(self, token: str | None) -> Principal | None:
        if not token:
            return None
        try:
            data, issued = self._signer.loads(token, max_age=self.max_age_s, return_timestamp=True)
        except BadSignature:  # also a session past its lifetime (SignatureExpired)
            return None
        if not isinstance(data, dict) or not isinstance(data.get("sid"), str):  # signed, but not by sign_in
            return None
        if self.ended.ended(data["sid"], issued.timestamp()):
            return None
        keys = self.config.auth.admin_keys if data.get("admin") else self.config.auth.read_keys
        key = keys.get(str(data.get("name")))
        if key is None or not hmac.compare_digest(
            self._fingerprint(key.get_secret_value()), str(data.get("fp"))
        ):
            return None
        return Principal(str(data["name"]), bool(data.get("admin")))


def safe_next(target: str | None, default: str) -> str:
    """Where to go after signing in: a path on this site only (never ``//other.host`` or ``https://...``)."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return default
