"""What every answer needs: the configuration, the InfluxDB reader, the rollups, the criteria and the clock.

Each resource's answers are plain functions over a ``Service`` in a module of their own (``server.uplinks``,
``server.summaries``, ``server.verdicts``, ``server.indicators``): routes parse, call one function, return.
``Service`` itself answers what every resource shares: the window asked for, whether a village and a link exist,
the service's health and the list of villages.
"""

from __future__ import annotations

import copy
import logging
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any, Generic, TypeVar
from zoneinfo import ZoneInfo

from server import models as m
from server.config import ServerConfig
from server.criteria import CriteriaSet, Criterion
from server.errors import NotFound, NotReady, ParameterError
from server.evidence.hourly import Verifier
from server.evidence.registry import RegistryUnreadable
from server.evidence.service_key import ServiceKey
from server.kept_evaluation import KeptEvaluation
from server.queries import Scope
from server.reader import Reader
from server.rollups import Rollups
from server.timeparse import Window, iso, resolve_window
from thonminh import __version__
from thonminh.errors import InfluxError

__all__ = ["HourlyCache", "Service"]

log = logging.getLogger(__name__)

#: every window includes its start and excludes its end; how it was chosen is said in every answer
WINDOW_NOTES = {
    "request": "[start, end): the start and end of the request, or its defaults (docs/api.md)",
    "criterion": "[end - the criterion's window, end), end = the last whole hour (UTC): the hour still running "
    "is left out; give start and end for another window",
}


T = TypeVar("T")


class HourlyCache(Generic[T]):
    """One value per whole hour and key (the time zone), computed by the first caller. Meanwhile the others get
    the value it replaces, which says its own hour, and wait only when there is none: a province's evaluation
    with signed evidence takes minutes (every village's month of verified hours added up again), and no
    official's request should wait for it at every hour. A first start over a province's old signed data
    verifies every village cold (hours): a caller then waits at most ``patience_s`` and is told so
    (``NotReady``) rather than hang."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self._lock = threading.Lock()
        self._values: dict[str, tuple[tuple[int, ...], T]] = {}
        self._computing: dict[str, threading.Lock] = defaultdict(threading.Lock)
        #: when the computation under way for a key began
        self._since: dict[str, float] = {}

    def get(
        self,
        stamp: tuple[int, ...],
        key: str,
        compute: Callable[[], T],
        *,
        wait: bool = False,
        patience_s: float | None = None,
    ) -> T:
        """The value of ``key`` computed for ``stamp`` (the hour first, then whatever else it depends on), or
        the one before while another caller computes it, unless ``wait`` (what is published from it). With
        nothing before, ``NotReady`` after ``patience_s`` of waiting for another caller (None: no limit)."""
        with self._lock:
            before = self._values.get(key)
            if before is not None and before[0] == stamp:
                return before[1]
            computing = self._computing[key]
        if before is not None and not wait:
            if not computing.acquire(blocking=False):
                return before[1]
        elif not computing.acquire(timeout=-1 if wait or patience_s is None else patience_s):
            since = self._since.get(key, self.clock())
            raise NotReady(
                f"the service is still making its first evaluation of every village (since {iso(int(since * 1000))}): "
                "try again in a minute",
                since_ms=int(since * 1000),
            )
        self._since[key] = self.clock()
        try:
            with self._lock:  # computed meanwhile by the caller this one waited for
                found = self._values.get(key)
            if found is not None and found[0] == stamp:
                return found[1]
            value = compute()
            with self._lock:
                self._values[key] = (stamp, value)
            return value
        finally:
            computing.release()

    def seed(self, key: str, value: T) -> None:
        """``value`` as the one before for ``key``, if it has none: answered while the first is computed (the
        evaluation kept from before a restart); no stamp matches it, so it is never taken for the current."""
        with self._lock:
            self._values.setdefault(key, ((), value))


class Service:
    def __init__(
        self,
        config: ServerConfig,
        reader: Reader,
        rollups: Rollups,
        criteria: CriteriaSet,
        *,
        clock: Callable[[], float] = time.time,
        auth_mode: str = "keys",
        verifier: Verifier | None = None,
    ) -> None:
        self.config = config
        self.reader = reader
        self.rollups = rollups
        self.criteria = criteria
        self.zone = config.zone
        self.clock = clock
        self.auth_mode = auth_mode
        #: signed evidence, when a key registry is configured (``server.evidence``)
        self.verifier = verifier
        #: the key that signs the manual indicators this service enters; None: entered unsigned (no registry)
        self.indicator_key: ServiceKey | None = None
        #: the default windows' roll-up of every village, evaluated once an hour (``server.verdicts``)
        self.hourly: HourlyCache[Any] = HourlyCache(clock)
        #: the default evaluation kept on disk for a restart (``server.kept_evaluation``); None: not kept
        self.kept: KeptEvaluation | None = None
        #: the evaluation last written as Grafana's copy (``server.verdicts.publish``), by whichever thread:
        #: ``keep_warm`` does not write again what the evidence sweep has just published
        self.published: Any = None

    # -- parameters that need the clock or the data ----------------------------------------------------------
    def now(self) -> datetime:
        return datetime.fromtimestamp(self.clock(), UTC)

    def today(self) -> date:
        """The local calendar day (``timezone``) it is now."""
        return self.now().astimezone(self.zone).date()

    def window(self, start: str | None, end: str | None, *, default_days: int | None = None) -> Window:
        return resolve_window(
            start,
            end,
            now=self.now(),
            zone=self.zone,
            default=timedelta(days=default_days or self.config.default_window_days),
            maximum=timedelta(days=self.config.max_window_days),
        )

    def in_zone(self, zone: ZoneInfo) -> Service:
        """The same service reading day and week boundaries and times without an offset in ``zone``
        (``tz=`` of a request); it shares the reader, the rollups and the hour's roll-ups."""
        other = copy.copy(self)
        other.zone = zone
        other.reader = copy.copy(self.reader)
        other.reader.zone = zone
        return other

    def window_out(self, w: Window) -> m.WindowOut:
        return m.WindowOut(start=w.start, end=w.end, seconds=w.seconds, timezone=self.zone.key)

    def min_coverage(self, link: str) -> float:
        """The minimum coverage of the criteria on this link's availability (the default where none names it)."""
        levels = [
            c.min_coverage
            for c in self.criteria.criteria
            if c.figure == "uplink.availability" and c.params.get("link") == link
        ]
        return max(levels) if levels else Criterion.model_fields["min_coverage"].default

    def require_village(self, village: str) -> None:
        if not self.reader.village_exists(village):
            raise NotFound(f"village: {village!r} is not in the data", parameter="village")

    def require_link(self, village: str, link: str | None) -> list[str]:
        links = self.reader.links(village)
        if link is not None and link not in links:
            raise ParameterError(
                f"link: {link!r} is not a link of {village!r} (known: {', '.join(links) or 'none'})",
                parameter="link",
            )
        return [link] if link else links

    # -- health and villages ------------------------------------------------------------------------------------
    def health(self, *, detailed: bool) -> tuple[bool, m.HealthOut]:
        started = time.perf_counter()
        influx: dict[str, Any] = {"url": self.config.influxdb.url, "database": self.config.influxdb.database}
        try:
            influx |= {"ok": True, "version": self.reader.client.ping()}
        except InfluxError as err:
            # the error text holds the address: logged, and shown only to key holders
            influx |= {"ok": False, "error": f"InfluxDB is unavailable ({type(err).__name__})"}
        influx["latency_ms"] = round((time.perf_counter() - started) * 1000, 1)
        evidence = self._registry_health()
        ok = influx["ok"] and (evidence is None or evidence["ok"])
        status = "ok" if ok else "unavailable"
        if not detailed:
            return ok, m.HealthOut(status=status, version=__version__)
        rollups = self.rollups.describe() if self.config.rollups.enabled else None
        return ok, m.HealthOut(
            status=status,
            version=__version__,
            auth=self.auth_mode,
            timezone=self.zone.key,
            influxdb=influx,
            rollups=rollups,
            evidence=evidence,
        )

    def _registry_health(self) -> dict[str, Any] | None:
        if self.verifier is None:
            return None
        try:
            return {"ok": True, "keys": len(self.verifier.registry.snapshot().records)}
        except RegistryUnreadable:  # its file and error are in the log of the requests that met it
            return {"ok": False, "error": "the gateways' key registry cannot be read"}

    def villages(self, scope: Scope, window: Window) -> m.VillagesOut:
        rows = self.reader.villages(scope, window)
        out = [
            m.VillageOut(
                village=r["village"],
                gateway=r["gateway"] or None,
                commune=r["commune"] or None,
                district=r["district"] or None,
                province=r["province"] or None,
                last_seen=iso(r["last_ms"]),
                last_seen_precision=r["precision"],
            )
            for r in sorted(rows.rows, key=lambda r: (r["village"], r["gateway"]))
        ]
        return m.VillagesOut(window=self.window_out(window), villages=out, queries=rows.queries)
