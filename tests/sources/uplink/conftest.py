"""Loopback targets for the uplink tests, and the shared ``collected`` / ``make_ctx`` fixtures."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sourcekit import collected, make_ctx  # noqa: F401 - fixtures shared with the other source tests

from lab.simulate.targets import DnsTarget, HttpTarget, TcpTarget

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture
def tcp() -> Iterator[TcpTarget]:
    with TcpTarget("127.0.0.1") as target:
        yield target


@pytest.fixture
def http() -> Iterator[HttpTarget]:
    with HttpTarget("127.0.0.1") as target:
        yield target


@pytest.fixture
def dns() -> Iterator[DnsTarget]:
    with DnsTarget("127.0.0.1") as target:
        yield target
