"""``thonminh keys add|list|retire`` (through the criteria service's API) and ``thonminh verify`` (reads
InfluxDB and the key registry as the service does).

``thonminh verify`` exits 0 when every sample in the window is covered by a valid manifest and no fault is
found, 1 when it finds one, 2 on a usage or configuration error (or an InfluxDB it cannot read).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import click
import httpx

from server.urls import API_PREFIX
from thonminh.evidencekeys import grouped

__all__ = ["keys", "verify"]

_URL = click.option(
    "--url",
    default=lambda: os.environ.get("THONMINH_URL", "http://127.0.0.1:8080"),
    show_default="$THONMINH_URL or http://127.0.0.1:8080",
    help="the criteria service: its address, or its API's (.../api/v1, as the demo prints it)",
)
_ADMIN = click.option(
    "--admin-key",
    envvar="THONMINH_ADMIN_KEY",
    required=True,
    help="an admin key of the service (or $THONMINH_ADMIN_KEY)",
)


def _call(
    method: str,
    url: str,
    path: str,
    key: str,
    body: dict[str, Any] | None = None,
    params: dict[str, str] | None = None,
) -> Any:
    try:
        response = httpx.request(
            method,
            f"{url.rstrip('/').removesuffix(API_PREFIX)}{API_PREFIX}{path}",
            json=body,
            params=params,
            headers={"X-API-Key": key},
            timeout=30,
        )
    except httpx.HTTPError as err:
        raise click.ClickException(f"{url}: {err}") from err
    if response.is_error:
        try:
            detail = response.json().get("detail", response.text)
        except ValueError:
            detail = response.text
        raise click.ClickException(f"{response.status_code}: {detail}")
    return response.json()


def _line(k: dict[str, Any]) -> str:
    until = k["valid_until"] or "open"
    return (
        f"{k['gateway']}  {grouped(k['fingerprint'])}  village {k['village']}  {k['valid_from']} .. {until}  "
        f"(registered by {k['registered_by']} at {k['registered_at']})"
    )


@click.group(name="keys")
def keys() -> None:
    """The gateways' public keys, registered with the criteria service (docs/evidence.md)."""


@keys.command(name="add")
@click.option("--gateway", required=True, help="the gateway id (tag `gateway`)")
@click.option("--village", required=True, help="the village slug it serves")
@click.option(
    "--public-key",
    required=True,
    help="base64 of the 32 raw bytes (`thonminh edge init` prints it), or @FILE with the key or a PEM",
)
@click.option(
    "--valid-from",
    default=None,
    help="ISO 8601, a date, or relative (-2h); default now. The gateway's previous key ends there.",
)
@_URL
@_ADMIN
def add(
    gateway: str, village: str, public_key: str, valid_from: str | None, url: str, admin_key: str
) -> None:
    """Register a gateway's key; its previous key's period ends at --valid-from (rotation)."""
    if public_key.startswith("@"):
        try:
            public_key = Path(public_key[1:]).read_text(encoding="utf-8")
        except OSError as err:
            raise click.UsageError(f"--public-key: cannot read {public_key[1:]}: {err.strerror}") from err
    body = {"village": village, "public_key": public_key} | ({"valid_from": valid_from} if valid_from else {})
    click.echo(_line(_call("POST", url, f"/gateways/{gateway}/keys", admin_key, body)))


@keys.command(name="retire")
@click.option("--gateway", required=True)
@click.option(
    "--fingerprint",
    required=True,
    help="the key's fingerprint: 16 hex digits, grouped as the pages show them (3f2a 9c41 07be 55d0) or not",
)
@click.option("--valid-until", default=None, help="the end of its period; default now")
@_URL
@_ADMIN
def retire(gateway: str, fingerprint: str, valid_until: str | None, url: str, admin_key: str) -> None:
    """End a key's period (a lost or stolen gateway): what it signs later does not verify."""
    fingerprint = "".join(fingerprint.split()).lower()
    body = {"valid_until": valid_until} if valid_until else {}
    click.echo(_line(_call("POST", url, f"/gateways/{gateway}/keys/{fingerprint}/retire", admin_key, body)))


@keys.command(name="list")
@click.option("--gateway", default=None)
@click.option("--village", default=None)
@_URL
@click.option(
    "--api-key",
    envvar=["THONMINH_API_KEY", "THONMINH_ADMIN_KEY"],
    required=True,
    help="a read or admin key (or $THONMINH_API_KEY, $THONMINH_ADMIN_KEY)",
)
def list_(gateway: str | None, village: str | None, url: str, api_key: str) -> None:
    """The registered keys, of one gateway or one village."""
    if gateway:
        found = _call("GET", url, f"/gateways/{gateway}/keys", api_key)
    else:
        found = _call("GET", url, "/keys", api_key, params={"village": village} if village else None)
    for k in found["keys"]:
        click.echo(_line(k))
    if not found["keys"]:
        click.echo("no key registered")


@click.command(name="verify")
@click.option(
    "--config",
    "config_path",
    required=True,
    type=click.Path(dir_okay=False),
    help="server TOML file: the InfluxDB and the key registry ([evidence] registry)",
)
@click.option("--village", required=True)
@click.option(
    "--start", required=True, help="as the API's start= (2026-11-01, 2026-11-01T00:00:00+07:00, -30d)"
)
@click.option("--end", default="now", show_default=True, help="excluded; capped at now")
@click.option("--json", "as_json", is_flag=True, help="print the result as JSON")
def verify(config_path: str, village: str, start: str, end: str, as_json: bool) -> None:
    """Verify a village's samples against its gateways' signed manifests: exit 0 when all verify, 1 on a fault."""
    from server.evidence.report import run_verification

    code, text = run_verification(config_path, village, start, end, as_json=as_json)
    click.echo(text)
    raise click.exceptions.Exit(code)
