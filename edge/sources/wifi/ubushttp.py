"""The ubus back end over HTTP: uhttpd's JSON-RPC endpoint (``/ubus``) on an OpenWrt AP, as an rpcd user.

Errors and readings as in ``backends``: ``ApAbsent`` when no configured ``hostapd.<iface>`` object exists,
``BackendError`` (from our own words, never the device's output) when the AP did not answer or refused the login.
"""

from __future__ import annotations

import json
from typing import Any

import httpx

from edge.sources.wifi.backends import UBUS_NOT_FOUND, ApAbsent, BackendError, RawReading, Rotating
from edge.sources.wifi.config import WifiConfig
from edge.sources.wifi.parsers import redact

__all__ = ["UbusHttpBackend"]

#: the session id rpcd's ``session login`` is called with
NULL_SESSION = "0" * 32


class UbusHttpBackend:
    """ubus through uhttpd's JSON-RPC endpoint (``/ubus``), logged in as an rpcd user with a narrow ACL."""

    def __init__(self, config: WifiConfig, *, transport: httpx.AsyncBaseTransport | None = None) -> None:
        assert config.http is not None
        self.config = config
        self.http = config.http
        self.name = "ubus_http"
        self._ifaces = Rotating(config.interfaces)
        self._session: str | None = None
        self._id = 0
        self._client = httpx.AsyncClient(
            timeout=config.timeout_s, verify=config.http.verify_tls, transport=transport
        )

    async def _rpc(self, session: str, obj: str, method: str, args: dict[str, Any]) -> dict[str, Any]:
        self._id += 1
        body = {"jsonrpc": "2.0", "id": self._id, "method": "call", "params": [session, obj, method, args]}
        try:
            response = await self._client.post(self.http.url, json=body)
        except httpx.TimeoutException:
            raise BackendError(f"{self.http.url}: no answer within {self.config.timeout_s:g} s") from None
        except httpx.HTTPError as err:
            raise BackendError(f"{self.http.url}: {type(err).__name__}") from None
        if response.status_code != 200:
            raise BackendError(f"{self.http.url}: HTTP {response.status_code}")
        try:
            data = response.json()
        except (ValueError, RecursionError):  # RecursionError: nested deeper than the JSON decoder goes
            raise BackendError(f"{self.http.url}: answer is not JSON", sample=redact(response.text)) from None
        if not isinstance(data, dict):
            raise BackendError(
                f"{self.http.url}: answer is not a JSON-RPC object", sample=redact(response.text)
            )
        return data

    async def _login(self) -> str:
        data = await self._rpc(
            NULL_SESSION,
            "session",
            "login",
            {"username": self.http.username, "password": self.http.password.get_secret_value()},
        )
        result = data.get("result")
        if (
            isinstance(result, list)
            and result
            and result[0] == 0
            and len(result) > 1
            and isinstance(result[1], dict)
            and isinstance(result[1].get("ubus_rpc_session"), str)
        ):
            session: str = result[1]["ubus_rpc_session"]
            return session
        raise BackendError(f"rpcd login as {self.http.username!r} refused (check the user and password)")

    async def _call(self, obj: str, method: str, args: dict[str, Any]) -> tuple[int, Any]:
        """(ubus status, reply); status -32000 when the object does not exist."""
        for attempt in range(2):
            if self._session is None:
                self._session = await self._login()
            data = await self._rpc(self._session, obj, method, args)
            error = data.get("error")
            if isinstance(error, dict):
                code = error.get("code")
                if code == -32000:
                    return -32000, None
                if code == -32002 and attempt == 0:
                    self._session = None  # expired session: log in again once
                    continue
                raise BackendError(f"ubus {obj} {method}: JSON-RPC error {code} (check the rpcd ACL)")
            result = data.get("result")
            if not isinstance(result, list) or not result or not isinstance(result[0], int):
                raise BackendError(f"ubus {obj} {method}: no result", sample=redact(json.dumps(data)))
            return result[0], result[1] if len(result) > 1 else None
        raise BackendError(f"ubus {obj} {method}: access denied (check the rpcd ACL)")

    async def read(self) -> RawReading:
        for iface in self._ifaces.order():
            status, reply = await self._call(f"hostapd.{iface}", "get_clients", {})
            if status in (-32000, UBUS_NOT_FOUND):
                continue
            if status != 0:
                raise BackendError(f"ubus hostapd.{iface} get_clients: status {status}")
            self._ifaces.found(iface)
            leases, leases_error = await self._leases()
            return RawReading(
                "ubus", iface, json.dumps(reply if reply is not None else {}), None, leases, leases_error
            )
        names = ", ".join(f"hostapd.{i}" for i in self.config.interfaces)
        raise ApAbsent(f"ubus: no {names} (radio disabled, or check `interfaces`)")

    async def _leases(self) -> tuple[str | None, str | None]:
        path = self.config.leases_file
        if path is None:
            return None, None
        try:
            status, reply = await self._call("file", "read", {"path": path})
        except BackendError as err:
            return None, str(err)
        if status != 0 or not isinstance(reply, dict) or not isinstance(reply.get("data"), str):
            return None, f"file read {path}: status {status}"
        return reply["data"], None

    async def close(self) -> None:
        await self._client.aclose()
