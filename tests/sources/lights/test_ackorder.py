"""A QoS 1 message is acknowledged to the broker only after the journal commit that holds its effect.

Observed through a real Mosquitto: the source is stopped while messages it has received wait for their group's
commit; a client that then takes over the gateway's persistent session gets them again from the broker, which
only happens to messages nobody acknowledged. Once the commit has happened, nothing comes back.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import aiomqtt

from lab.localservices import MosquittoServer

from .conftest import Collector, lights_source, read_journal, running, wait_for


async def publish_states(port: int, device: str, seqs: range) -> None:
    async with aiomqtt.Client("127.0.0.1", port, identifier=f"pub-{device}") as client:
        for seq in seqs:
            state = {"v": 1, "seq": seq, "boot": 1, "on": bool(seq % 2)}
            await client.publish(f"thonminh/light/{device}/state", json.dumps(state), qos=1)


async def redelivered(port: int, client_id: str, *, expect: int = 0, wait_s: float = 2.0) -> list[int]:
    """The seqs the broker delivers to the gateway's session when a client takes it over (acknowledging them):
    until ``expect`` came (within 20 s), or for ``wait_s`` when none is expected."""
    seqs: list[int] = []
    async with aiomqtt.Client("127.0.0.1", port, identifier=client_id, clean_session=False) as client:

        async def collect() -> None:
            async for message in client.messages:
                if message.topic.value != "thonminh/light/sl-j1/state":
                    continue  # the broker is shared: other tests' devices
                assert isinstance(message.payload, bytes)
                seqs.append(json.loads(message.payload)["seq"])
                if expect and len(seqs) >= expect:
                    return

        try:
            await asyncio.wait_for(collect(), 20.0 if expect else wait_s)
        except TimeoutError:
            pass
    return seqs


async def test_received_messages_are_not_acknowledged_before_their_commit(
    tmp_path: Path,
    mosquitto: MosquittoServer,
    collector: Collector,
) -> None:
    source = lights_source(tmp_path, mosquitto.port, collector, commit_interval_ms=60_000)
    journal = tmp_path / "state" / "lights.sqlite"
    async with running(source):
        await publish_states(mosquitto.port, "sl-j1", range(1, 4))
        await wait_for(
            lambda: source.connection is not None and source.connection.received >= 3,
            what="the source to receive the messages",
        )
        await asyncio.sleep(0.5)  # far inside the group's commit interval and the quiet rule's 5 s
        assert source.acknowledged == 0
        assert read_journal(journal).get("j-1", {}).get("seq") is None  # not committed yet
    # stopped before the commit: the broker still holds all three for the gateway's session
    assert sorted(await redelivered(mosquitto.port, source.client_id, expect=3)) == [1, 2, 3]


async def test_committed_messages_are_acknowledged_and_never_come_back(
    tmp_path: Path,
    mosquitto: MosquittoServer,
    collector: Collector,
) -> None:
    source = lights_source(tmp_path, mosquitto.port, collector, commit_interval_ms=1_000)
    journal = tmp_path / "state" / "lights.sqlite"
    async with running(source):
        await publish_states(mosquitto.port, "sl-j1", range(1, 4))
        await wait_for(lambda: source.acknowledged >= 3, what="the group's commit and acknowledgement")
        assert read_journal(journal)["j-1"]["seq"] == 3  # the commit came first (it is on disk now)
    assert await redelivered(mosquitto.port, source.client_id) == []
