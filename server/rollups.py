"""Hourly and daily rollups: per series, the sums and counts the figures need (``server.rollup_specs``), in
their own retention policy.

The sums are additive, so a window's figure is the same whether it is summed from raw samples or from rollups;
long windows and province roll-ups read daily rollups for whole UTC days, hourly ones for whole hours, and raw
samples only for the edges and for the hours not rolled yet (``server.plan``). The service writes the rollups
itself (no continuous queries, which exist on 1.x only): ``mode = "into"`` runs ``SELECT ... INTO`` inside
InfluxDB 1.x; ``mode = "write"`` reads the same hourly aggregates and writes them back through ``/write``,
which InfluxDB 2.x and 3.x also accept. Rewriting an hour writes the same points (same series, same time), so
every pass is idempotent; recent hours are rolled again on every pass to take in data the gateways forwarded
late.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial

from server.plan import DAILY, DAY_MS, HOURLY, RollupState, floor_day
from server.queries import Agg, Source, rollup_select
from server.rollup_parts import Group, each_part, samples_kept_since, village_groups
from server.rollup_rows import AuditStatus, Difference, audit, computed_points
from server.rollup_specs import SPECS, RollupSpec, specs_version
from server.timeparse import HOUR_MS, floor_hour, iso
from thonminh.contract import FieldType, Point
from thonminh.errors import InfluxError, InfluxQueryError
from thonminh.influx import InfluxClient, quote_ident
from thonminh.lineprotocol import encode_each, encode_line
from thonminh.logs import Episode

__all__ = ["Rollups"]

log = logging.getLogger(__name__)
STATE_MEASUREMENT = "thonminh_rollup_state"
#: villages an audited roll reads at once (``server.rollup_parts``)
AUDIT_VILLAGES = 50


# -- the rollup writer ----------------------------------------------------------------------------------------


@dataclass
class RollupStatus:
    last_run_ms: int | None = None
    last_error: str | None = None
    passes: int = 0
    statements: int = 0
    busy: bool = False
    #: rows left out of the rollups because the encoder refused their names (``encode_each``)
    refused: int = 0
    #: parts of audited rolls (a village's hour or day of a rollup) left out: InfluxDB could not answer them
    left_out: int = 0
    #: what comparing the stored rows of older days with their samples found (``server.rollup_rows``)
    audit: AuditStatus = field(default_factory=AuditStatus)
    reconcile_ms: int | None = field(default=None, repr=False)


class Rollups:
    """Writes and tracks the hourly rollups of one database. Thread-safe; ``run`` is the background loop."""

    def __init__(
        self,
        client: InfluxClient,
        *,
        database: str,
        source_rp: str | None,
        rollup_rp: str,
        mode: str = "into",
        late_window_h: int = 48,
        backfill_days: int = 400,
        reconcile_days: int = 35,
        reconcile_share: float = 0.1,
        create_retention_policy: bool = True,
        shard_duration: str = "52w",
        clock: Callable[[], float] = time.time,
        logger: logging.Logger | None = None,
    ) -> None:
        self.client = client
        self.database = database
        self.source_rp = source_rp
        self.rollup_rp = rollup_rp
        self.mode = mode
        self.late_ms = late_window_h * HOUR_MS
        self.backfill_ms = backfill_days * DAY_MS
        self.reconcile_ms = reconcile_days * DAY_MS
        self.reconcile_share = reconcile_share
        self._walk_due_s = 0.0
        self.create_retention_policy = create_retention_policy
        self.shard_duration = shard_duration
        self._clock = clock
        self._log = logger or log
        self._lock = threading.Lock()
        self._state: RollupState | None = None
        self._loaded = False
        self.status = RollupStatus()
        self._episode = Episode(self._log, "rollups")
        #: called with each range ``roll`` rolled (the verification's display copy, server/evidence_display.py)
        self.after_roll: list[Callable[[int, int], None]] = []
        #: told of the rows an audit found forged: a rollup's name and its rows (server/rollup_findings.py)
        self.audit_found: list[Callable[[str, Sequence[Difference]], None]] = []

    # -- sources ------------------------------------------------------------------------------------------
    def raw(self, measurement: str) -> Source:
        return Source(self.database, self.source_rp, measurement)

    def rolled(self, measurement: str, level: str = HOURLY) -> Source:
        spec = SPECS[measurement]
        return Source(self.database, self.rollup_rp, spec.daily if level == DAILY else spec.name)

    # -- state ----------------------------------------------------------------------------------------------
    @property
    def state(self) -> RollupState | None:
        with self._lock:
            return self._state

    def ensure_retention_policy(self) -> None:
        """Create the rollups' retention policy with year-long shards: a roll-up over a month then opens one
        shard per series instead of five, which is most of what InfluxDB 1.x spends on a roll-up."""
        target = f"{quote_ident(self.rollup_rp)} ON {quote_ident(self.database)}"
        try:
            self.client.query(
                f"CREATE RETENTION POLICY {target} DURATION INF REPLICATION 1 "
                f"SHARD DURATION {self.shard_duration}"
            )
        except InfluxQueryError as err:
            if "already exists" not in str(err):
                raise
            self.client.query(f"ALTER RETENTION POLICY {target} SHARD DURATION {self.shard_duration}")

    def prepare(self) -> RollupState | None:
        """Create the retention policy (when configured to) and read the persisted state."""
        if self.create_retention_policy:
            self.ensure_retention_policy()
        return self.load_state()

    def load_state(self) -> RollupState | None:
        """Read the persisted state; rollups of other definitions (another ``specs_version``) count as none."""
        src = Source(self.database, self.rollup_rp, STATE_MEASUREMENT)
        rows = self.client.select(
            f"SELECT last(from_ms) AS from_ms, last(until_ms) AS until_ms, last(version) AS version "
            f"FROM {src.ref()}"
        ).rows()
        state = None
        if rows and rows[0].get("version") == specs_version() and rows[0].get("from_ms") is not None:
            state = RollupState(int(rows[0]["from_ms"]), int(rows[0]["until_ms"]))
        with self._lock:
            self._state = state
            self._loaded = True
        return state

    def _save(self, state: RollupState) -> None:
        point = Point(
            STATE_MEASUREMENT,
            {"database": self.database},
            {"from_ms": state.from_ms, "until_ms": state.until_ms, "version": specs_version()},
            int(self._clock() * 1000),
        )
        self.client.write(encode_line(point), database=self.database, retention_policy=self.rollup_rp)
        with self._lock:
            self._state = state

    def mark(self, start_ms: int, end_ms: int) -> RollupState:
        """Record that ``[start, end)`` is rolled up; a range disjoint from the known one replaces it."""
        current = self.state
        if current and start_ms <= current.until_ms and end_ms >= current.from_ms:
            state = RollupState(min(start_ms, current.from_ms), max(end_ms, current.until_ms))
        else:
            state = RollupState(start_ms, end_ms)
        self._save(state)
        return state

    # -- rolling --------------------------------------------------------------------------------------------
    def roll(self, start_ms: int, end_ms: int, *, audit: bool = False) -> int:
        """Roll the whole hours of ``[start, end)`` a UTC day per request, then the days they touch from the
        hourly rollups (a day is read from its daily rollup only once all its hours are rolled). ``audit``
        (``server.rollup_rows``): a pass's hours (the late window, and any since the last pass) and the walk's
        day always, the history too in ``write`` mode, where it costs less than writing every row; an audited
        roll's rows pass through this process, so it reads ``AUDIT_VILLAGES`` villages at a time."""
        audit = audit or self.mode == "write"
        start_ms, end_ms = floor_hour(start_ms), floor_hour(end_ms)
        now_ms = int(self._clock() * 1000)
        kept_since = samples_kept_since(self.client, self.database, self.source_rp, now_ms) if audit else None
        groups: dict[str, list[Group | None]] = {
            m: [*village_groups(self.client, self.database, m, AUDIT_VILLAGES)] if audit else [None]
            for m in SPECS
        }
        count = 0
        for day in range(floor_day(start_ms), end_ms, DAY_MS):
            lo, hi = max(start_ms, day), min(end_ms, day + DAY_MS)
            for measurement, spec in SPECS.items():
                hours = partial(self._roll_hours, measurement, spec, kept_since=kept_since)
                count += each_part(groups[measurement], hours, lo, hi, HOUR_MS, self._left_out)
                days = partial(self._roll_day, measurement, spec, kept_since=kept_since)
                count += each_part(groups[measurement], days, day, day + DAY_MS, DAY_MS, self._left_out)
        self.status.statements += count
        for hook in self.after_roll:
            hook(start_ms, end_ms)
        return count

    def _roll_hours(
        self,
        measurement: str,
        spec: RollupSpec,
        group: Group | None,
        start: int,
        end: int,
        kept_since: int | None,
    ) -> int:
        # a group of villages is audited; without one, the hours are rolled inside InfluxDB (``INTO``)
        within = group.condition() if group else None
        statements = []
        for condition, outputs in spec.groups().items():
            aggs = [Agg(o.func, o.field, o.name) for o in outputs]
            statements.append(
                rollup_select(
                    self.raw(measurement),
                    aggs,
                    start,
                    end,
                    condition=" AND ".join(c for c in (within, condition) if c) or None,
                    into=None if group else self.rolled(measurement),
                )
            )
        results = self.client.query(";\n".join(statements), database=self.database)
        if within:
            self._audit(spec.name, self._types(spec), results, start, end, within, kept_since)
        return len(statements)

    def _roll_day(
        self,
        measurement: str,
        spec: RollupSpec,
        group: Group | None,
        day: int,
        _end: int,
        kept_since: int | None,
    ) -> int:
        within = group.condition() if group else None
        daily = rollup_select(
            self.rolled(measurement),
            spec.daily_aggs(),
            day,
            day + DAY_MS,
            condition=within,
            interval="1d",
            into=None if group else self.rolled(measurement, DAILY),
        )
        results = self.client.query(daily, database=self.database)
        if within:
            types = self._types(spec) | {"hours": True}
            self._audit(spec.daily, types, results, day, day + DAY_MS, within, kept_since)
        return 1

    def _left_out(self, group: Group, start: int, err: InfluxError) -> None:
        self.status.left_out += 1
        where = f"{group.describe()[:300]} from {iso(start)}"
        self._log.warning(
            "rollups: a part InfluxDB cannot answer is left out: %s", where, extra={"error": str(err)}
        )

    @staticmethod
    def _types(spec: RollupSpec) -> dict[str, bool]:
        """Which outputs are integers: written back with the type ``INTO`` would give them."""
        return {o.name: o.integer or spec.source.fields[o.field].type is FieldType.INT for o in spec.outputs}

    def _audit(
        self,
        name: str,
        integer: dict[str, bool],
        results: list,
        start_ms: int,
        end_ms: int,
        group: str,
        kept_since: int | None,
    ) -> None:
        """Compare rollup ``name``'s rows of ``group`` over ``[start, end)`` with ``results``; write those that
        differ."""
        target = Source(self.database, self.rollup_rp, name)
        points = computed_points(name, integer, results)
        kept = kept_since is not None and start_ms >= kept_since
        part = (start_ms, end_ms, group)
        points = audit(
            self.client, target, points, part, tuple(integer), self.status.audit, kept, self.audit_found
        )
        lines, refused = encode_each(points)
        if refused:  # a name the encoder refuses costs its own series, not every village's rollups
            self.status.refused += len(refused)
            log.warning("rollup rows left out", extra={"rows": len(refused), "first": refused[0]})
        self.client.write(lines, database=target.database, retention_policy=target.retention_policy)

    # -- maintenance ----------------------------------------------------------------------------------------
    def maintain(self, *, max_backfill_days: int = 7) -> RollupState | None:
        """One pass: roll the closed hours since the last pass (and the late window), then extend the history
        backwards by at most ``max_backfill_days`` days, then re-roll one older day to catch very late data."""
        self.status.busy = True
        try:
            if not self._loaded:
                self.prepare()
            now = int(self._clock() * 1000)
            target = floor_hour(now)
            state = self.state
            start = target - self.late_ms
            if state is not None and state.until_ms >= start - self.backfill_ms:
                start = min(start, state.until_ms)
            if start < target:
                # audited in either mode: in ``into`` mode an altered row of the late window would be written
                # over with no finding, so a row forged again after every pass would be served, never named
                self.roll(start, target, audit=True)
                if state is None or state.until_ms < start:
                    self._save(RollupState(start, target))  # too far behind: start a new range
                else:
                    self.mark(start, target)
            state = self.state
            oldest = target - self.backfill_ms
            for _ in range(max_backfill_days):
                if state is None or state.from_ms <= oldest:
                    break
                lower = max(state.from_ms - DAY_MS, oldest)
                self.roll(lower, state.from_ms)
                state = self.mark(lower, state.from_ms)
            self._reconcile_one_day(state, target)
            self.status.last_run_ms = now
            self.status.last_error = None
            self.status.passes += 1
            self._episode.ok()
            return state
        except InfluxError as err:
            self.status.last_error = str(err)
            self._episode.problem(str(err))
            return self.state
        finally:
            self.status.busy = False

    def _reconcile_one_day(self, state: RollupState | None, target: int) -> None:
        # Walk the rolled history a day per pass, newest first behind the late window, and start over at the
        # end: data that arrived later than the late window is taken in within one cycle. A step waits until
        # the walk has taken at most ``reconcile_share`` of the time: a village's day takes a fraction of a
        # second, a province's minutes (bench/rollup_audit.py), which a pass every 300 s would repeat forever.
        if state is None or self._clock() < self._walk_due_s:
            return
        upper = self.status.reconcile_ms or target - self.late_ms
        if upper <= max(state.from_ms, target - self.reconcile_ms):
            upper = target - self.late_ms
        lower = max(upper - DAY_MS, state.from_ms, target - self.reconcile_ms)
        if lower < upper:
            began = time.monotonic()
            self.roll(lower, upper, audit=True)
            took = time.monotonic() - began
            self._walk_due_s = self._clock() + took * (1 / self.reconcile_share - 1)
        self.status.reconcile_ms = lower

    def run(self, stop: threading.Event, interval_s: float) -> None:
        """Catch up at once, then a pass every ``interval_s`` until ``stop`` is set."""
        while not stop.is_set():
            try:
                state = self.maintain()
            except Exception as err:  # noqa: BLE001 - anything but InfluxDB's errors (a hook's: the display copy
                # with the key registry unreadable) must not end the roll-ups: the next pass tries again
                self.status.last_error = f"{type(err).__name__}: {err}"
                self._log.exception("rollups: the pass failed; the next one tries again")
                state = self.state
            behind = state is None or state.from_ms > floor_hour(int(self._clock() * 1000)) - self.backfill_ms
            if stop.wait(1.0 if behind and self.status.last_error is None else interval_s):
                return

    def describe(self) -> dict:
        state = self.state
        return {
            "mode": self.mode,
            "retention_policy": self.rollup_rp,
            "complete_from": iso(state.from_ms) if state else None,
            "complete_until": iso(state.until_ms) if state else None,
            "last_run": iso(self.status.last_run_ms) if self.status.last_run_ms else None,
            "last_error": self.status.last_error,
            "passes": self.status.passes,
            "refused": self.status.refused,
            "left_out": self.status.left_out,
            "audit": self.status.audit.describe(),
        }
