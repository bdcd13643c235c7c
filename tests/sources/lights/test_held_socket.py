"""The lights connection leaves its socket unread while 64 KiB of messages wait for the source (issue 18.6: large
hostile messages must not pile up in memory), and only then: a persistent session's backlog, delivered before
the SUBACK, must not keep the SUBACK from being read (a reconnect after an outage would never finish)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from lab.localservices import MosquittoServer

from .conftest import Collector, lights_source, running, wait_for
from .test_hostile import publish_all

#: Well over the inbox's 64 KiB: 2 MB of reports from known lights, 1 KB each (over 64 KiB even within the
#: broker's in-flight window of 100 messages).
BACKLOG = 2_000
PAD = "x" * 1_000


async def test_a_backlog_over_the_inbox_limit_is_taken_after_a_reconnect(
    tmp_path: Path,
    mosquitto_server: MosquittoServer,
    collector: Collector,
) -> None:
    # the first run creates the gateway's persistent session, then leaves
    async with running(lights_source(tmp_path, mosquitto_server.port, collector)):
        pass
    reports = [
        (
            f"tele/sl-t{1 + i % 2}/STATE",
            f'{{"POWER":"{"ON" if i % 4 < 2 else "OFF"}","pad":"{PAD}"}}'.encode(),
        )
        for i in range(BACKLOG)
    ]
    strangers = [("tele/stranger/STATE", f'{{"POWER":"ON","pad":"{PAD}"}}'.encode())] * 200
    await asyncio.to_thread(publish_all, mosquitto_server.port, reports + strangers)
    async with running(lights_source(tmp_path, mosquitto_server.port, collector)) as source:
        await wait_for(
            lambda: source.acknowledged >= BACKLOG + 200,
            timeout=60,
            what="the whole backlog taken in after the reconnect",
        )
        assert source.router.stats.applied + source.router.stats.duplicate == BACKLOG
        assert source.router.stats.unknown_device == 200
