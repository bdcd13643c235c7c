"""Evaluating the criteria set: every criterion's verdict for every village of a scope, with its evidence.

The criteria themselves (their YAML model and the verdict rule) live in the core, ``thonminh.criteria``, so
the dashboards read the same definitions; the figures they name are computed by ``server.catalog``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from server.catalog import Evidence, FigureReader, compute, read_span
from server.evidence.hourly import Verifier, verify_or_fail
from server.evidence.indicator_record import indicators_verified
from server.evidence.share import FigureVerification, figure_verification, not_configured
from server.queries import Scope
from server.reader import Reader
from server.timeparse import Window
from thonminh.contract import INDICATOR
from thonminh.criteria import VERDICTS, CriteriaSet, Criterion, load_criteria, verdict

__all__ = ["VERDICTS", "CriteriaSet", "Criterion", "Verdict", "evaluate", "load_criteria", "verdict"]


@dataclass(frozen=True, slots=True)
class Verdict:
    criterion: Criterion
    village: str
    verdict: str
    evidence: Evidence
    verification: FigureVerification


def evaluate(
    criteria: Iterable[Criterion],
    reader: Reader,
    scope: Scope,
    villages: Iterable[str],
    window_for: Callable[[Criterion], Window],
    *,
    workers: int = 4,
    verifier: Verifier | None = None,
) -> dict[str, dict[str, Verdict]]:
    """Every criterion for every village of ``scope``: ``{criterion_id: {village: Verdict}}``.

    Villages without any data for a figure get ``insufficient_data`` with zero coverage. With a ``verifier``
    each verdict also weighs the share of its samples that signed evidence covers (``unverified``)."""
    criteria = list(criteria)
    villages = sorted(set(villages))
    shared = FigureReader(reader)

    def verification(c: Criterion, village: str, window: Window) -> FigureVerification:
        measurement = c.description_of_figure.measurement.name
        if verifier is None:
            return not_configured(c.min_verified_pct)
        start_ms, end_ms = read_span(c.description_of_figure, window, reader.daily_zone)
        keys = shared.once(("verification keys",), verifier.keys)  # the registry read once per evaluation
        selection = c.description_of_figure.tag_filters(c.params)
        if measurement == INDICATOR.name:  # signed by the service itself, checked for the whole scope at once
            indicator = str(c.params["indicator"])
            by_village = shared.once(
                ("indicator verification", indicator, start_ms, end_ms),
                lambda: indicators_verified(reader, scope, villages, verifier, (start_ms, end_ms), indicator),
            )
            return figure_verification(
                by_village.get(village), measurement, c.min_verified_pct, keys, village, selection
            )
        found = shared.once(
            ("verification", village, start_ms, end_ms),
            lambda: verify_or_fail(verifier, village, start_ms, end_ms),
        )
        return figure_verification(found, measurement, c.min_verified_pct, keys, village, selection)

    def one(c: Criterion) -> tuple[str, dict[str, Verdict]]:
        window = window_for(c)
        found, queries = compute(c.description_of_figure, shared, scope, window, c.params)
        results = {}
        # a series without a village tag (written by hand, or forged) is no village: reads group it under ''
        for village in sorted(set(villages) | {v for v in found if v}):
            ev = found.get(village) or Evidence(None, c.unit, 0.0, 0, window, queries)
            checked = verification(c, village, window)
            results[village] = Verdict(
                c,
                village,
                c.verdict(ev.value, ev.coverage, checked.verified_pct, forged=checked.held_against),
                ev,
                checked,
            )
        return c.id, results

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        return dict(pool.map(one, criteria))
