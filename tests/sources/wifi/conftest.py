"""A simulated access point with fake ``ubus``/``hostapd_cli``/``iw``/``ssh`` tools, and a source built on it.

The source gets a ``SourceContext`` whose ``emit``/``reject`` collect into lists and whose clock is moved
by the test: injected functions, not mocks. The tools are real executables the source runs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sourcekit import Collected, FakeClock, make_context

from edge.sources.wifi.config import WifiConfig
from edge.sources.wifi.source import WifiSource
from edge.sources.wifi.users import STATE_FILE, ram_path
from lab.simulate.ap import SimulatedAp, UbusHttpServer, install_fake_commands
from thonminh.contract import Point

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
START = datetime(2024, 6, 3, 8, 0, tzinfo=TZ)


@dataclass
class Harness:
    """One simulated AP and what the source under test emitted, rejected and logged."""

    tmp: Path
    ap: SimulatedAp
    bin: Path
    clock: FakeClock = field(default_factory=lambda: FakeClock(int(START.timestamp() * 1000)))
    collected: Collected = field(default_factory=Collected)
    http: UbusHttpServer | None = None

    @property
    def emitted(self) -> list[Point]:
        return self.collected.points

    @property
    def rejected(self) -> list[tuple[str, bytes | str | None]]:
        return self.collected.rejected

    def config(self, backend: str = "ubus", **kw: Any) -> WifiConfig:
        data: dict[str, Any] = {
            "backend": backend,
            "interval_s": 60,
            "timeout_s": 5,
            "leases_file": str(self.tmp / "dhcp.leases"),
        }
        if backend in ("ubus", "ubus_ssh", "hostapd_cli", "iw"):
            data["command"] = str(self.bin / backend.removesuffix("_ssh"))
        if backend == "ubus_ssh":
            data["ssh"] = {"host": "ap.invalid", "command": str(self.bin / "ssh")}
        if backend == "ubus_http":
            if self.http is None:
                self.http = UbusHttpServer(self.ap.path).__enter__()
            data["http"] = {"url": self.http.url, "password": self.http.password}
        data.update(kw)
        return WifiConfig(**data)

    def source(
        self,
        config: WifiConfig,
        *,
        state_dir: Path | None = None,
        clock_synced: Callable[[], bool] | None = None,
    ) -> WifiSource:
        ctx = make_context(
            state_dir or self.tmp / "state" / "wifi",
            self.collected,
            self.clock,
            logger="edge.sources.wifi.test",
            clock_synced=clock_synced,
        )
        return WifiSource(config, ctx)

    async def poll(
        self, source: WifiSource, advance: float = 60.0, *, churn: bool = False
    ) -> dict[str, Point]:
        """Move time on (on the AP too, with stations coming and going if ``churn``), poll once."""
        self.clock.advance(advance)
        if churn:
            self.ap.step(advance)
        elif advance:
            self.ap.advance(advance)
        points = list(await source.sample())
        self.emitted.extend(points)
        return {p.measurement: p for p in points}


@pytest.fixture
def harness(tmp_path: Path) -> Iterator[Harness]:
    ap = SimulatedAp.create(
        tmp_path / "ap.json", seed=7, leases_file=tmp_path / "dhcp.leases", epoch=START.timestamp() - 3600
    )
    bin_dir = Path(install_fake_commands(tmp_path / "bin", tmp_path / "ap.json"))
    h = Harness(tmp_path, ap, bin_dir)
    yield h
    # the sources' RAM copy of the day's users sits on the real tmpfs (by the agent's rule): leave none behind
    ram_path(tmp_path / "state" / "wifi" / STATE_FILE).unlink(missing_ok=True)
    if h.http is not None:
        h.http.__exit__(None, None, None)
