"""Criteria verdicts with their evidence: one village, or every village of a province, district or commune."""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import partial
from typing import Any

from server import models as m
from server.criteria import VERDICTS, Criterion, Verdict, evaluate
from server.errors import NotFound
from server.evidence.hourly import Sweep
from server.evidence.share import FigureVerification
from server.queries import Scope
from server.service import Service
from server.timeparse import Window, floor_hour, iso
from server.verdict_display import verdict_points, write_verdicts
from thonminh.errors import InfluxError

__all__ = [
    "Evaluation",
    "default_evaluation",
    "keep_warm",
    "publish",
    "restore",
    "reverify",
    "reverify_pass",
    "rollup_criteria",
    "village_criteria",
]

log = logging.getLogger(__name__)
#: seconds between two passes of the evidence sweep (``reverify``)
SWEEP_EVERY_S = 60.0
#: seconds between two looks of ``keep_warm`` at the default roll-up within an hour: Grafana's copy of the
#: verdicts follows a key registered or retired within this
CHANGES_EVERY_S = 60.0
#: seconds into a whole hour before its evaluation: the hour's first rollup pass has had its chance
AFTER_HOUR_S = 90
#: seconds a request waits for the first evaluation another thread is making before it is told to come back:
#: a first start over a province's old signed data verifies every village's month cold, for hours
FIRST_EVALUATION_WAIT_S = 20.0

#: every window includes its start and excludes its end; how it was chosen is said in every answer
WINDOW_NOTES = {
    "request": "[start, end): the start and end of the request, or its defaults (docs/api.md)",
    "criterion": "[end - the criterion's window, end), end = the last whole hour (UTC): the hour still running "
    "is left out; give start and end for another window",
}


def _window_for(
    service: Service, start: str | None, end: str | None
) -> tuple[str, Callable[[Criterion], Window]]:
    if start or end:
        fixed = service.window(start, end)
        return "request", lambda c: fixed
    # whole hours: the last, unfinished hour would be read from raw samples for every village of a roll-up
    return "criterion", _default_windows(service, floor_hour(int(service.now().timestamp() * 1000)))


def _default_windows(service: Service, hour_ms: int) -> Callable[[Criterion], Window]:
    windows = {c.id: Window(hour_ms - c.window_s * 1000, hour_ms) for c in service.criteria.criteria}
    return lambda c: windows[c.id]


def village_criteria(
    service: Service, village: str, start: str | None, end: str | None
) -> m.VillageCriteriaOut:
    rule, window_for = _window_for(service, start, end)
    results = evaluate(
        service.criteria.criteria,
        service.reader,
        Scope(village=village),
        [village],
        window_for,
        verifier=service.verifier,
    )
    verdicts = [results[c.id][village] for c in service.criteria.criteria]
    return m.VillageCriteriaOut(
        village=village,
        window_rule=rule,
        timezone=service.zone.key,
        criteria=[_verdict_out(service, v, rule) for v in verdicts],
        counts=_counts(v.verdict for v in verdicts),
    )


def default_evaluation(service: Service, *, wait: bool = False) -> Evaluation:
    """Every village's verdicts over the criteria's default windows, evaluated once an hour (the windows end at
    the last whole hour, so they change only then) and shared by every roll-up that asks for them: a
    province's overview is then a filter, not 2,000 villages read again. Late data for the past hour shows
    at the next hour. While another thread evaluates it anew, the one before, unless ``wait``; with none
    before, ``NotReady`` after ``FIRST_EVALUATION_WAIT_S``."""
    _, window_for = _window_for(service, None, None)
    hour_ms = floor_hour(int(service.now().timestamp() * 1000))

    def compute() -> Evaluation:
        places = {r["village"]: r for r in service.reader.places(Scope()).rows}
        results = evaluate(
            service.criteria.criteria, service.reader, Scope(), places, window_for, verifier=service.verifier
        )
        if service.kept is not None:
            service.kept.save(hour_ms, places, results)
        return Evaluation(hour_ms, places, results, window_for)

    # a key registered or retired, a settled hour the sweep found changed, or forged rollup rows put right
    # change verdicts at once, not at the next hour; in the stamp, not the key, so the cache holds one evaluation
    verifier, audit = service.verifier, service.rollups.status.audit
    checked = (verifier.registry.version(), verifier.changes) if verifier is not None else ()
    # rows rewritten or deleted, not found: an extra row a server keeps (3.x) is found at every pass
    stamp = (hour_ms, audit.altered, audit.removed, *checked)
    evaluation: Evaluation = service.hourly.get(
        stamp, service.zone.key, compute, wait=wait, patience_s=FIRST_EVALUATION_WAIT_S
    )
    return evaluation


def restore(service: Service) -> None:
    """The evaluation kept from before a restart (``server.kept_evaluation``), answered until the first one."""
    if service.kept is None:
        return
    found = service.kept.load(service.criteria, int(service.now().timestamp() * 1000))
    if found is not None:
        hour_ms, places, results = found
        evaluation = Evaluation(hour_ms, places, results, _default_windows(service, hour_ms))
        service.hourly.seed(service.zone.key, evaluation)
        log.info("answering with the evaluation kept from before the restart", extra={"hour": iso(hour_ms)})


def publish(service: Service, evaluation: Evaluation | None = None) -> Evaluation:
    """The default roll-up (``evaluation``, or evaluated if it is not yet), written as Grafana's copy
    (``server.verdict_display``): its verdict panels and alert rules show what the API answers."""
    evaluation = evaluation or default_evaluation(service, wait=True)
    points = verdict_points(
        evaluation.hour_ms,
        evaluation.places,
        evaluation.results,
        partial(service.config.place_name, "village"),
    )
    write_verdicts(service.reader.client, service.config.influxdb.database, points)
    service.published = evaluation
    return evaluation


def keep_warm(service: Service, stop: threading.Event, *, every_s: float = CHANGES_EVERY_S) -> None:
    """Evaluate the default roll-up at start and soon after each whole hour, so no official waits for it, and
    publish it to Grafana; within the hour, look every ``every_s`` whether it changed (a key registered or
    retired changes it at once) and publish it again if so."""
    forgotten: int | None = None  # the hour whose evaluation last dropped the hours out of reach
    while not stop.is_set():
        wait = every_s
        try:
            now = service.clock()
            into_hour = now % 3600
            if service.published is not None and into_hour < AFTER_HOUR_S:
                wait = AFTER_HOUR_S - into_hour  # the hour's first rollup pass first
            else:
                # the same object until something changes; a request may be evaluating it meanwhile
                evaluation = default_evaluation(service, wait=True)
                if evaluation is not service.published:  # the sweep may have published it already
                    publish(service, evaluation)
                if service.verifier is not None and evaluation.hour_ms != forgotten:
                    # a daily figure reads back to the local midnight before its window (catalog.read_span)
                    cutoff = int(now * 1000) - (service.config.max_window_days + 1) * 86_400_000
                    service.verifier.forget_before(cutoff)  # hours no window may reach any more
                    forgotten = evaluation.hour_ms
            wait = min(wait, 3600 - into_hour + AFTER_HOUR_S)
        except InfluxError as err:
            log.warning("criteria: the default roll-up could not be evaluated", extra={"error": str(err)})
            wait = 60
        except Exception:  # noqa: BLE001 - anything else (the key registry's file unreadable) must not end the
            # thread: the verdicts would stop at their last hour while the service still answered
            log.exception("criteria: the default roll-up failed; it is tried again in a minute")
            wait = 60
        stop.wait(wait)


def reverify(service: Service, stop: threading.Event, *, every_s: float = SWEEP_EVERY_S) -> None:
    """Read settled hours of evidence again, a pass every ``every_s``, so that an alteration of an old hour
    shows within about ``[evidence] reverify_s`` (``Verifier.sweep``); no request ever does."""
    while not stop.wait(every_s):
        reverify_pass(service, every_s=every_s)


def reverify_pass(service: Service, *, every_s: float = SWEEP_EVERY_S) -> Sweep | None:
    """One pass of the sweep. A result it found changed is said in the log, and the default roll-up is
    evaluated and published again here, so the next official's request does not wait for it and Grafana
    shows it at once."""
    if service.verifier is None:
        return None
    try:
        found = service.verifier.sweep(every_s=every_s)
        if found.changed:
            log.warning(
                "evidence: settled hours verify differently than when they were first read",
                extra={
                    "hours": [f"{village} {iso(hour)}" for village, hour in found.changed[:20]],
                    "changed": len(found.changed),
                },
            )
            publish(service)
    except InfluxError as err:  # the due hours stay due: the next pass reads them
        log.warning("evidence: the sweep could not read InfluxDB", extra={"error": str(err)})
        return None
    except Exception:  # noqa: BLE001 - as keep_warm: the next pass tries again, the thread goes on
        log.exception("evidence: the sweep failed")
        return None
    if found.read or found.dropped:
        log.info(
            "evidence: sweep pass",
            extra={
                "read": len(found.read),
                "changed": len(found.changed),
                "dropped": found.dropped,
                "behind": found.behind,
            },
        )
    return found


def _evaluation(service: Service, scope: Scope, start: str | None, end: str | None) -> Evaluation:
    if start or end:
        _, window_for = _window_for(service, start, end)
        places = {r["village"]: r for r in service.reader.places(scope).rows}
        if not places and scope != Scope():
            raise _no_match(scope, service.reader.places(Scope()).rows)
        return Evaluation(
            0,
            places,
            evaluate(
                service.criteria.criteria,
                service.reader,
                scope,
                places,
                window_for,
                verifier=service.verifier,
            ),
            window_for,
        )
    whole = default_evaluation(service)
    places = {v: p for v, p in whole.places.items() if scope.holds(p)}
    if not places and scope != Scope():
        raise _no_match(scope, whole.places.values())
    results = {
        cid: {v: verdict for v, verdict in per.items() if v in places or scope == Scope()}
        for cid, per in whole.results.items()
    }
    return Evaluation(whole.hour_ms, places, results, whole.window_for)


def rollup_criteria(
    service: Service, scope: Scope, start: str | None, end: str | None
) -> m.CriteriaRollupOut:
    rule = "request" if start or end else "criterion"
    evaluation = _evaluation(service, scope, start, end)
    places, results, window_for = evaluation.places, evaluation.results, evaluation.window_for
    villages = sorted({v for per in results.values() for v in per})
    return m.CriteriaRollupOut(
        filter={"province": scope.province, "district": scope.district, "commune": scope.commune},
        window_rule=rule,
        timezone=service.zone.key,
        criteria=[
            m.RollupCriterionOut(
                **_criterion(c),
                counts=_counts(v.verdict for v in results[c.id].values()),
                windows=[service.window_out(window_for(c))],
                queries=_queries_of(results[c.id].values()),
            )
            for c in service.criteria.criteria
        ],
        villages=[
            m.RollupVillageOut(
                village=v,
                **{
                    k: (places.get(v, {}).get(k) or None)
                    for k in ("gateway", "commune", "district", "province")
                },
                verdicts={
                    c.id: _short(results[c.id][v]) for c in service.criteria.criteria if v in results[c.id]
                },
            )
            for v in villages
        ],
    )


def _no_match(scope: Scope, everywhere: Iterable[dict[str, Any]]) -> NotFound:
    """A 404 naming the filter after which no village is left, and the places at its level: a misspelling shows."""
    left, within, error = list(everywhere), "", NotFound("no village matches")
    for level in ("province", "district", "commune"):
        if (wanted := getattr(scope, level)) is None:
            continue
        known = ", ".join(sorted({r[level] for r in left if r.get(level)})) or "none"
        left = [r for r in left if r.get(level) == wanted]
        error = NotFound(f"no village matches {level} {wanted!r}{within} (known: {known})", parameter=level)
        if not left:
            break
        within += f" {'and' if within else 'in'} {level} {wanted!r}"
    return error


def _verdict_out(service: Service, v: Verdict, rule: str) -> m.CriterionVerdictOut:
    ev = v.evidence
    return m.CriterionVerdictOut(
        **_criterion(v.criterion),
        verdict=v.verdict,
        evidence=m.EvidenceOut(
            value=ev.value,
            unit=ev.unit,
            coverage=ev.coverage,
            samples=ev.samples,
            window=service.window_out(ev.window),
            window_rule=WINDOW_NOTES[rule],
            queries=list(ev.queries),
            detail=dict(ev.detail),
            **_verification_out(v.verification),
        ),
    )


def _verification_out(f: FigureVerification) -> dict[str, Any]:
    return {
        "verified_pct": f.verified_pct,
        "verification": m.VerificationOut(
            status=f.status,
            min_verified_pct=f.min_verified_pct,
            points=f.points,
            verified_points=f.verified_points,
            keys=[
                m.KeyPeriodOut(
                    gateway=k.gateway,
                    village=k.village,
                    fingerprint=k.fingerprint,
                    valid_from=iso(k.valid_from_ms),
                    valid_until=None if k.valid_until_ms is None else iso(k.valid_until_ms),
                )
                for k in f.keys
            ],
            faults=[
                m.FaultOut(
                    kind=x.kind, gateway=x.gateway, start=iso(x.start_ms), end=iso(x.end_ms), detail=x.detail
                )
                for x in f.faults
            ],
            faults_total=f.faults_total,
        ),
    }


def _criterion(c: Criterion) -> dict:
    return {
        "id": c.id,
        "title": c.title.model_dump(),
        "figure": c.figure,
        "params": dict(c.params),
        "comparator": c.comparator,
        "threshold": c.threshold,
        "unit": c.unit,
        "min_coverage": c.min_coverage,
        "min_verified_pct": c.min_verified_pct,
        "window": c.window,
    }


@dataclass(frozen=True, slots=True)
class Evaluation:
    """Verdicts of every criterion for the villages of a scope, with their places and the windows used."""

    hour_ms: int
    places: dict[str, dict[str, Any]]
    results: dict[str, dict[str, Verdict]]
    window_for: Callable[[Criterion], Window]


def _counts(verdicts) -> dict[str, int]:
    counted = Counter(verdicts)
    return {v: counted.get(v, 0) for v in VERDICTS}


def _short(v: Verdict) -> m.RollupVerdict:
    return m.RollupVerdict(
        verdict=v.verdict,
        value=v.evidence.value,
        coverage=v.evidence.coverage,
        samples=v.evidence.samples,
        verified_pct=v.verification.verified_pct,
    )


def _queries_of(verdicts) -> list[str]:
    seen: dict[str, None] = {}
    for v in verdicts:
        for query in v.evidence.queries:
            seen.setdefault(query, None)
    return list(seen)
