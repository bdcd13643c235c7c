"""A display copy of the service's verification results in InfluxDB, for Grafana (which reads InfluxDB only).

After each rollup pass rolls a range of hours, the same hours' verification (``server.evidence``'s, the very
results the API answers from, cached per hour) is written as ``verification_hourly`` (thonminh/contract.py):
per village, UTC hour and verified measurement the points, the verified points and the faults, in the
retention policy ``thonminh_verified`` under the measurement's own name, so that a dashboard's statement can
merge them with the figure's rows. The API never reads
it: whoever can write InfluxDB can write this too, so it is a picture of the results, not evidence; the pages,
the dossier and ``thonminh verify`` verify for themselves. Only the last ``days`` are written: older hours
serve no dashboard window.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from server.evidence.hourly import Verifier, verify_or_fail
from server.queries import Scope
from server.reader import Reader
from server.timeparse import HOUR_MS, floor_hour
from thonminh.contract import SITE_TAGS, VERIFICATION_HOURLY, VERIFICATION_RP, Point
from thonminh.errors import InfluxError, InfluxQueryError
from thonminh.influx import InfluxClient, quote_ident
from thonminh.lineprotocol import encode_each, encode_line

__all__ = ["DAYS", "DisplayCopy", "ensure_retention_policy"]

log = logging.getLogger(__name__)
#: hours written back from now: older ones serve no dashboard window (the longest criterion's is 30 days)
DAYS = 35


def ensure_retention_policy(client: InfluxClient, database: str) -> None:
    """The display copy's policy (InfluxDB 1.x; on 2.x a bucket mapped as ``thonminh_verified``, which
    deploy/compose/influxdb-init makes), a few days longer than what is written. Created with or without a key
    registry: the verdict panels read it either way, and a policy that does not exist is an error there."""
    target = f"{quote_ident(VERIFICATION_RP)} ON {quote_ident(database)}"
    try:
        client.query(f"CREATE RETENTION POLICY {target} DURATION {DAYS + 5}d REPLICATION 1")
    except InfluxQueryError as err:
        if "already exists" not in str(err):
            raise


class DisplayCopy:
    """Writes ``verification_hourly`` for the hours a rollup pass rolled (``write`` is the rollups' hook)."""

    def __init__(
        self,
        client: InfluxClient,
        verifier: Verifier,
        reader: Reader,
        *,
        database: str,
        days: int = DAYS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.client = client
        self.verifier = verifier
        self.reader = reader
        self.database = database
        self.days = days
        self.clock = clock

    def points(self, start_ms: int, end_ms: int) -> list[Point]:
        """The display points of every village's whole hours in ``[start, end)`` within the last ``days``."""
        now_ms = int(self.clock() * 1000)
        lo = max(floor_hour(start_ms), floor_hour(now_ms) - self.days * 24 * HOUR_MS)
        hi = min(floor_hour(end_ms), floor_hour(now_ms))
        out: list[Point] = []
        if lo >= hi:
            return out
        for place in self.reader.places(Scope()).rows:
            village = place["village"]
            site = {t: place[t] for t in SITE_TAGS if place.get(t)}
            if verify_or_fail(self.verifier, village, lo, hi).failed:  # one read; the hours below: the cache
                continue
            for hour in range(lo, hi, HOUR_MS):
                found = verify_or_fail(self.verifier, village, hour, hour + HOUR_MS)  # with rollup findings
                for source, (points, verified) in sorted(found.counts.items()):
                    fields = {
                        "points": points,
                        "verified_points": verified,
                        "faults": len(found.faults_of(source)),
                    }
                    out.append(Point(source, site, fields, hour))
        return out

    @staticmethod
    def line(point: Point) -> str:
        """The encoder's line under the descriptor's name, renamed to the verified measurement: the encoder
        would hold a point named ``uplink`` to the contract's ``uplink`` (its ``link`` tag)."""
        encoded = encode_line(Point(VERIFICATION_HOURLY.name, point.tags, point.fields, point.time_ms))
        return point.measurement + encoded[len(VERIFICATION_HOURLY.name) :]

    def write(self, start_ms: int, end_ms: int) -> None:
        try:
            lines, refused = encode_each(self.points(start_ms, end_ms), self.line)
            if refused:  # a village named in InfluxDB as the encoder refuses: the others are written
                log.warning(
                    "verification left out of the display copy",
                    extra={"points": len(refused), "first": refused[0]},
                )
            self.client.write(lines, database=self.database, retention_policy=VERIFICATION_RP)
        except InfluxError as err:
            # a display copy: the next pass writes these hours again (recent hours are rolled on every pass)
            log.warning("verification display copy not written", extra={"error": str(err)})
