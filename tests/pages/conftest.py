"""Fixtures of the page tests: a seeded InfluxDB, the criteria service on a loopback port, a headless Chromium.

The browser is Debian's ``chromium`` driven by Playwright (``executable_path``, no downloaded browser), walled
in: every host name resolves to nothing but 127.0.0.1, a dead loopback proxy, no background networking, a
fresh profile. Each page records the requests it made and its console errors, so a test can assert none left
this machine and nothing failed. Screenshots go to ``tests/pages/artefacts/``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pages_scenario as scenario
import pytest
from influxkit import scratch_database
from pages_kit import ADMIN_KEY, CHROMIUM, CHROMIUM_ARGS, page_config
from srv_helpers import serving, write

from lab.localservices import InfluxDBServer
from server.app import create_app
from server.timeparse import iso
from thonminh.influx import InfluxClient


@pytest.fixture(scope="module")
def seeded(influxdb: InfluxDBServer) -> Iterator[InfluxClient]:
    with scratch_database(influxdb, "pages") as client:
        write(client, scenario.all_points())
        yield client


@pytest.fixture(scope="module")
def live(seeded: InfluxClient) -> Iterator[str]:
    """The criteria service over HTTP on a free loopback port: its base URL."""
    with serving(create_app(page_config(seeded.url, seeded.database)), access_log=False) as base:
        # a manual indicator as an official enters it: the page shows who entered it and when
        entered = httpx.put(
            f"{base}/api/v1/villages/kha-ly-thuong/indicators/eid_adoption_pct",
            headers={"X-API-Key": ADMIN_KEY},
            json={"value": scenario.EID[0], "note": scenario.EID[1], "time": iso(scenario.EID_AS_OF)},
        )
        entered.raise_for_status()
        yield base


@dataclass
class Seen:
    """What a page did: every request URL, console errors and uncaught exceptions."""

    requests: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def foreign(self) -> list[str]:
        return [
            u
            for u in self.requests
            if urlsplit(u).scheme not in ("data", "blob", "about") and urlsplit(u).hostname != "127.0.0.1"
        ]


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory):
    playwright = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        pytest.fail("chromium is not installed: scripts/ensure-services.sh installs it")
    with playwright.sync_playwright() as p:
        yield p, tmp_path_factory


@pytest.fixture
def context(browser, request: pytest.FixtureRequest):
    """A fresh profile (no cookies) per test; ``context.viewport`` from the ``viewport`` marker."""
    p, factory = browser
    marker = request.node.get_closest_marker("viewport")
    size = marker.args[0] if marker else {"width": 1280, "height": 900}
    ctx = p.chromium.launch_persistent_context(
        str(factory.mktemp("profile")),
        executable_path=CHROMIUM,
        headless=True,
        args=CHROMIUM_ARGS,
        viewport=size,
        is_mobile=bool(marker),
        has_touch=bool(marker),
        locale="vi-VN",
        timezone_id="Asia/Ho_Chi_Minh",
    )
    yield ctx
    ctx.close()


@pytest.fixture
def watched(context):
    """``(page, seen)``: a page whose requests and errors are recorded."""
    page = context.new_page()
    seen = Seen()
    page.on("request", lambda r: seen.requests.append(r.url))
    page.on("console", lambda m: seen.errors.append(f"console: {m.text}") if m.type == "error" else None)
    page.on("pageerror", lambda e: seen.errors.append(f"pageerror: {e}"))
    return page, seen


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "viewport(size): the browser viewport of a page test (a phone's)")
