"""Benchmark of the monthly dossier: one village's PDF for a whole month, against the 5 s limit of issue 20.

    .venv/bin/python bench/server_report.py [--requests 5] [--quick]

Seeds a private InfluxDB 1.x with the standard village of bench/loads.py (30 street lights, two uplinks every
10 s, modem, Wi-Fi and self-metrics: about 67,700 points a day) for the last 31-day month that has ended, lets
the service roll it up hourly as its background loop would, then asks the app for the village's dossier
(``GET /villages/{village}/report.pdf``, in-process) and prints markdown rows: the median time, the limit, the
share of the limit, and the split between assembling the service's answers and laying out the PDF.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import loads
from fastapi.testclient import TestClient

from lab.localservices import InfluxDBServer
from server.app import create_app
from server.config import ServerConfig
from server.report.data import village_dossier
from server.report.month import parse_month
from server.report.pdf import village_pdf
from server.report.period import Period
from thonminh.influx import InfluxClient
from thonminh.lineprotocol import encode_lines

KEY = "bench-key-0123456789abcdef"
LIMIT_S = 5.0
ZONE = ZoneInfo("Asia/Ho_Chi_Minh")


def long_month(now: datetime) -> date:
    """The first day of the last 31-day month that has ended: the most days a dossier charts."""
    first = now.astimezone(ZONE).date().replace(day=1)
    while True:
        first = (first - timedelta(days=1)).replace(day=1)
        if (first + timedelta(days=31)).day == 1:
            return first


def seed(client: InfluxClient, start_ms: int, days: int) -> int:
    written = 0
    for day in range(days):
        lines = [p for chunk in loads.village_points(start_ms + day * 86_400_000, 86_400) for p in chunk]
        client.write(encode_lines(lines))
        written += len(lines)
    return written


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=5, help="timed dossiers")
    parser.add_argument("--quick", action="store_true", help="three timed dossiers")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="bench-report-"))
    influx = InfluxDBServer(workdir / "influxdb")
    influx.start()
    try:
        return run(influx, 3 if args.quick else args.requests)
    finally:
        influx.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def timed(fn, n: int) -> list[float]:  # type: ignore[no-untyped-def]
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def run(influx: InfluxDBServer, n: int) -> int:
    first = long_month(datetime.now(UTC))
    start_ms = int(datetime.combine(first, datetime.min.time(), ZONE).timestamp() * 1000)
    client = InfluxClient(influx.url, database="thonminh", timeout=600)
    client.create_database("thonminh")
    t0 = time.perf_counter()
    points = seed(client, start_ms - 86_400_000, 33)  # a day either side: the month's edges have neighbours
    seed_s = time.perf_counter() - t0
    config = ServerConfig.model_validate(
        {
            "influxdb": {"url": influx.url, "database": "thonminh", "timeout_s": 120},
            "auth": {"read_keys": {"bench": KEY}},
            "rollups": {"background": False},
            "villages": {"kha-ly-thuong": {"name": "Khả Lý Thượng"}},
        }
    )
    app = create_app(config)
    village, month = loads.SITE["village"], f"{first:%Y-%m}"
    with TestClient(app) as http:
        t0 = time.perf_counter()
        app.state.rollups.roll(start_ms - 86_400_000, start_ms + 32 * 86_400_000)
        app.state.rollups.mark(start_ms - 86_400_000, start_ms + 32 * 86_400_000)
        rollup_s = time.perf_counter() - t0

        def dossier() -> bytes:
            response = http.get(
                f"/api/v1/villages/{village}/report.pdf", params={"month": month}, headers={"X-API-Key": KEY}
            )
            assert response.status_code == 200, response.text
            return response.content

        size = len(dossier())  # warm up: fonts registered, first queries planned
        total = timed(dossier, n)
        service = app.state.service
        parsed = Period.of_month(parse_month(month, now=service.now(), zone=service.zone))
        assembled = village_dossier(service, village, parsed)
        data = timed(lambda: village_dossier(service, village, parsed), n)
        layout = timed(lambda: village_pdf(assembled, service.zone), n)
    median = statistics.median(total)
    print(
        f"\nMonthly dossier of the standard village ({first:%m/%Y}, 31 days, {points:,} points seeded in "
        f"{seed_s:.0f} s, rolled up in {rollup_s:.0f} s), InfluxDB 1.x on this machine, app in-process; "
        f"the PDF is {size / 1024:.0f} KiB.\n"
    )
    print("| measurement | median | limit | share of limit |")
    print("| --- | --- | --- | --- |")
    print(
        f"| village dossier, GET report.pdf | {median:.2f} s (max {max(total):.2f}) | {LIMIT_S:.0f} s | "
        f"{median / LIMIT_S:.2f} |"
    )
    print(
        f"| of which: the service's answers (month, 31 days, lighting per day) | {statistics.median(data):.2f} s "
        "| - | - |"
    )
    print(f"| of which: layout and PDF (ReportLab) | {statistics.median(layout):.2f} s | - | - |")
    return 0 if median < LIMIT_S else 1


if __name__ == "__main__":
    sys.exit(main())
