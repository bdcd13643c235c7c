"""A light's current fault by the API's rule, in InfluxQL: the lighting board's faults table and map, the
street-light alert, and the count of faulty lights on the village and lighting boards (``faulty_lights``), all
read ``current_faults``.

The API (``GET /villages/{v}/lighting``: ``by_fault`` and the repair list, server/summaries.py) gives a light the
fault of its latest sample when that has one, else the fault of its latest sample taken in the dark
(``expected_on = 1``), both within the last ``LOOKBACK`` of the window: a lamp failure can only be seen in the
dark, so by day a failed lamp reports nothing wrong and the failure stands until a later report in the dark shows
the lamp working. A rule on the latest sample alone drops it at dawn.
"""

from __future__ import annotations

from dataclasses import replace

from dashboards.influxql import PANEL, Select, TimeRange, agg, field_ref, field_value
from thonminh import influxql as core
from thonminh.contract import STREETLIGHT
from thonminh.figures import LIGHT_FAULT_LOOKBACK_S
from thonminh.influxql import ident

__all__ = ["LOOKBACK", "LOOKBACK_S", "current_faults", "faulty_lights", "panel_window"]

#: the API's look-back for faults (thonminh/figures.py), as Grafana writes a duration
LOOKBACK_S = LIGHT_FAULT_LOOKBACK_S
LOOKBACK = f"{LOOKBACK_S // 3600}h"


def panel_window() -> TimeRange:
    """A panel's range cut to its last ``LOOKBACK``, as the API cuts its window for faults."""
    return replace(PANEL, filter=f"{PANEL.filter} AND time >= ${{__to}}ms - {LOOKBACK}")


def current_faults(
    scope: tuple[str, ...], window: TimeRange, by: tuple[str, ...], fields: tuple[str, ...] = ()
) -> core.Select:
    """Per light (grouped ``by``), its current fault as ``fault`` and ``fields`` from the same sample; no row for
    a light without one."""
    m = STREETLIGHT
    fault = field_ref(m, "fault")
    picked = tuple(field_ref(m, f) for f in fields)

    def newest(*where: str) -> core.Select:
        # last() is a selector: the other fields come from the same sample
        select = Select(m, (agg("last", m, "fault", "fault"), *picked), where, by, scope=scope, window=window)
        return select.statement()

    latest, in_dark = newest(), newest(field_value(m, "expected_on", "=", 1))
    # a plain SELECT merges the two (an aggregate over several subqueries would read only the first); where both
    # have a fault, last() takes the latest sample's, which is never older than the latest in the dark
    merged = core.Select((fault, *picked), (latest, in_dark), (field_value(m, "fault", "!=", ""),), by)
    return core.Select((f"last({fault}) AS {fault}", *picked), (merged,), group_tags=by)


def faulty_lights(scope: tuple[str, ...], window: TimeRange) -> core.Select:
    """Per village, ``faulty``: how many lights ``current_faults`` gives a fault (the API's ``by_fault`` lights),
    0 where none has one."""
    per_light = ("village", "light")
    faulty = core.Select(
        [f"count({ident('fault')}) AS {ident('faulty')}"],
        (current_faults(scope, window, per_light),),
        group_tags=per_light,
    )
    # a zero row per light that reported: a village without faults shows 0, not "No data"
    observed = field_ref(STREETLIGHT, "observed_s")
    zero = Select(
        STREETLIGHT,
        (f"0 * count({observed}) AS {ident('faulty')}",),
        (),
        per_light,
        scope=scope,
        window=window,
    )
    # merged by a plain SELECT first: an aggregate over several subqueries would read only the first
    merged = core.Select([ident("faulty")], (faulty, zero.statement()))
    return core.Select([f"sum({ident('faulty')}) AS {ident('faulty')}"], (merged,), group_tags=("village",))
