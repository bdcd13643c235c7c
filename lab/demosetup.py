"""The demo's criteria service config, and its gateway's signing key: made before the agent starts, registered
with the service as an operator would (the key where the agent looks for it, what ``thonminh edge init`` does,
then ``thonminh keys add`` against the running service; docs/evidence.md).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edge.config import load_gateway_config
from lab.demoreport import iso_utc
from lab.simulate.scenario import PlaceLevel
from thonminh.evidence import fingerprint, load_or_create_key, public_key_text

__all__ = ["GatewaySigning", "gateway_key", "register", "server_toml"]

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class GatewaySigning:
    gateway: str
    village: str
    public_key: str
    fingerprint: str
    created_ms: int


def gateway_key(config: Path) -> GatewaySigning:
    """The gateway's key, made before the agent starts, so that the key registered centrally is the one that
    signs from the first batch on."""
    gateway = load_gateway_config(config)
    key, _ = load_or_create_key(gateway.evidence_key_path)
    public = key.public_key()
    return GatewaySigning(
        gateway.site.gateway,
        gateway.site.village,
        public_key_text(public),
        fingerprint(public),
        int(time.time() * 1000),
    )


def register(signing: GatewaySigning, site_url: str, admin_key: str) -> str:
    """``thonminh keys add``, valid from the key's making: every batch the agent signed since then verifies.
    Returns what went wrong, or '' when the key is registered."""
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "thonminh.cli",
            "keys",
            "add",
            "--gateway",
            signing.gateway,
            "--village",
            signing.village,
            "--public-key",
            signing.public_key,
            "--valid-from",
            iso_utc(signing.created_ms - 60_000),
            "--url",
            site_url,
            "--admin-key",
            admin_key,
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    return "" if done.returncode == 0 else f"thonminh keys add failed: {done.stdout}{done.stderr}"


def server_toml(
    path: Path,
    influx_url: str,
    database: str,
    port: int,
    site: dict[str, Any],
    places: Mapping[PlaceLevel, str],
) -> None:
    """The demo's criteria service config. The village's name as people write it comes from the gateway's site,
    its commune's, district's and province's from the scenario (``places``), for the pages and the dossier;
    its status page is public."""
    name = json.dumps(site.get("name") or site["village"], ensure_ascii=False)
    named = "".join(
        f"[{level}s.{site[level]}]\nname = {json.dumps(text, ensure_ascii=False)}\n"
        for level, text in places.items()
        if site.get(level)
    )
    path.write_text(f'''# written by thonminh demo
timezone = "Asia/Ho_Chi_Minh"
[http]
host = "127.0.0.1"
port = {port}
[influxdb]
url = "{influx_url}"
database = "{database}"
timeout_s = 10
[villages.{site["village"]}]
name = {name}
public = true
{named}[evidence]
# the gateways' public keys (docs/evidence.md); the demo registers its gateway's key here at start
registry = "keys.sqlite"
# a recent hour verified again after 2 s, so that the tamper drill shows at once
recent_s = 2
[rollups]
# a pass every 5 s (300 in a real service), so that the drill's forged rollup row is found at once
interval_s = 5
''')
