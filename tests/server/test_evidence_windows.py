"""The verifier's windows: a window's verification is kept to answer the same window again within
``recent_ttl_s``, and only that long. A review asked 2,280 distinct windows of one village with a read key and
the service kept every one (4.4 KB each) for 401 days: memory a read key could grow without bound."""

from __future__ import annotations

import time

from signed_kit import VILLAGE, Gateway, register, registry_at, uplink_points
from test_evidence_sweep import Clock

from server.evidence.hourly import Verifier
from server.evidence.source import HOUR_MS
from server.queries import Source

NOW = int(time.time() * 1000)
T0 = NOW - NOW % HOUR_MS - 6 * HOUR_MS


def test_windows_asked_once_are_not_kept_past_their_reuse(influx, tmp_path) -> None:
    registry = registry_at(tmp_path)
    gw = Gateway()
    register(registry, gw, valid_from_ms=T0 - HOUR_MS)
    influx.write(gw.sign(uplink_points(T0, 4)))
    clock = Clock(NOW / 1000)
    verifier = Verifier(influx, lambda m: Source(influx.database or "", None, m), registry, clock=clock)
    windows = [(T0 + a * HOUR_MS, T0 + b * HOUR_MS) for a in range(4) for b in range(a + 1, 5)]
    first = [verifier.verify(VILLAGE, *w) for w in windows]
    assert verifier.verify(VILLAGE, *windows[0]) is first[0]  # asked again at once: added up once
    assert len(verifier._windows[VILLAGE]) == len(windows)
    clock.now_s += verifier.recent_ttl_s
    again = verifier.verify(VILLAGE, *windows[-1])  # the others, past their reuse, are let go
    assert again is not first[-1] and again.of("uplink") == first[-1].of("uplink")
    assert list(verifier._windows[VILLAGE]) == [windows[-1]]
