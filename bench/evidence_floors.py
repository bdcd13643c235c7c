"""The floors under verifying a village-month (bench/evidence_verify.py): InfluxDB's answers read as the
verifier reads them and nothing else, and the same statements answered to readers that only count the bytes.
No verifier, in any language, beats the second on this machine with this InfluxDB."""

from __future__ import annotations

import http.client
import sys
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from agent_cpu import cpu_s
from loads import SITE

from server.evidence.source import statements
from server.queries import Source
from thonminh.influx import InfluxClient

__all__ = ["answering_floor", "reading_floor"]


def reading_floor(
    client: InfluxClient, influx_pid: int, database: str, start_ms: int, end_ms: int, limit_s: float
) -> str:
    """The window's answers read as the verifier reads them (the same statements, a day at a time, packed),
    and nothing else: the CPU that InfluxDB and Python spend before a single point is hashed or checked. Half
    their sum is what two cores cannot beat, in any arrangement, with this InfluxDB and a Python verifier."""
    raw = partial(Source, database, None)
    influx0, cpu0 = cpu_s(influx_pid), time.process_time()
    for lo in range(start_ms, end_ms, 86_400_000):
        client.query(
            ";".join(statements(raw, SITE["village"], lo, min(end_ms, lo + 86_400_000))), packed=True
        )
    influx_cpu, read_cpu = cpu_s(influx_pid) - influx0, time.process_time() - cpu0
    return (
        f"| reading the same answers alone (no hash, no check) | {(influx_cpu + read_cpu) / 2:.1f} s on two cores "
        f"at best | {limit_s:.0f} s | - | CPU: InfluxDB answering {influx_cpu:.1f} s, Python "
        f"receiving {read_cpu:.1f} s |"
    )


def answering_floor(
    url: str, influx_pid: int, database: str, start_ms: int, end_ms: int, limit_s: float
) -> str:
    """InfluxDB answering the same statements to readers that only count the bytes, on two connections at
    once, a day each in turn: what no verifier, in any language, can beat on this machine with this InfluxDB,
    since each must read every point it checks."""
    raw = partial(Source, database, None)
    days = [(lo, min(end_ms, lo + 86_400_000)) for lo in range(start_ms, end_ms, 86_400_000)]
    where = urllib.parse.urlsplit(url)

    def read(share: list[tuple[int, int]]) -> int:
        # the standard library's client, reading into one buffer: httpx would add about 3 CPU-s of its own
        connection = http.client.HTTPConnection(where.hostname or "127.0.0.1", where.port, timeout=300)
        buffer, received = memoryview(bytearray(1 << 20)), 0
        for lo, hi in share:
            q = ";".join(statements(raw, SITE["village"], lo, hi))
            connection.request(
                "POST",
                "/query",
                urllib.parse.urlencode({"db": database, "epoch": "ms", "q": q}),
                {"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/x-msgpack"},
            )
            answer = connection.getresponse()
            assert answer.status == 200, answer.status
            while n := answer.readinto(buffer):
                received += n
        connection.close()
        return received

    influx0, cpu0, t0 = cpu_s(influx_pid), time.process_time(), time.perf_counter()
    with ThreadPoolExecutor(max_workers=2) as pool:
        received = sum(pool.map(read, [days[0::2], days[1::2]]))
    took, influx_cpu, read_cpu = (
        time.perf_counter() - t0,
        cpu_s(influx_pid) - influx0,
        time.process_time() - cpu0,
    )
    return (
        f"| InfluxDB answering the same statements to readers that do nothing (two at once) | {took:.1f} s | "
        f"{limit_s:.0f} s | {took / limit_s:.2f} | the floor of any verifier: "
        f"InfluxDB {influx_cpu:.1f} CPU-s for {received / 1e6:.0f} MB, the readers {read_cpu:.1f} |"
    )
