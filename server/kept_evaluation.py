"""The last default evaluation, kept on disk beside the verification results, for a restart.

A restarted service with a key registry adds every village's kept hours up again before its first evaluation:
about a second a village-month, half an hour for a province's 2,000 villages, during which every roll-up
answered 503. It now answers with the evaluation kept from before the restart, as a running service answers
with the hour before while the next one is made (``server.service.HourlyCache``); each answer says its windows,
hence its hour. One older than ``MAX_AGE_MS`` is not used (a service down that long says so, 503, rather than
show an old overview as the last one), nor one judged by other criteria (a threshold or a window changed).

The file is the service's own, like the results beside it: JSON, written whole and renamed into place.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Iterable
from dataclasses import asdict
from pathlib import Path
from typing import Any

from server.catalog import Evidence
from server.criteria import CriteriaSet, Criterion, Verdict
from server.evidence.faults import Fault
from server.evidence.registry import KeyRecord
from server.evidence.share import FigureVerification
from server.timeparse import Window

__all__ = ["MAX_AGE_MS", "KeptEvaluation"]

log = logging.getLogger(__name__)

VERSION = 1
MAX_AGE_MS = 24 * 3_600_000
Places = dict[str, dict[str, Any]]
Results = dict[str, dict[str, Verdict]]


class KeptEvaluation:
    """The file ``path``: ``save`` after each default evaluation, ``load`` at start."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def save(self, hour_ms: int, places: Places, results: Results) -> None:
        queries: dict[tuple[str, ...], int] = {}  # one copy of a roll-up's statements, not one per village
        verdicts = {
            cid: {village: _plain(v, queries) for village, v in per_village.items()}
            for cid, per_village in results.items()
        }
        criteria = {
            v.criterion.id: v.criterion for per_village in results.values() for v in per_village.values()
        }
        data = {"version": VERSION, "criteria": _fingerprint(criteria.values()), "hour_ms": hour_ms}
        data |= {"places": places, "queries": list(queries), "results": verdicts}
        try:
            part = self.path.with_name(self.path.name + ".part")
            part.write_text(json.dumps(data, ensure_ascii=False))
            os.replace(part, self.path)
        except OSError as err:  # the next evaluation writes it again
            log.warning("evaluation not kept", extra={"file": str(self.path), "error": str(err)})

    def load(self, criteria: CriteriaSet, now_ms: int) -> tuple[int, Places, Results] | None:
        """(hour, places, results) kept, if the file holds one of these criteria younger than ``MAX_AGE_MS``."""
        try:
            data = json.loads(self.path.read_text())
            by_id = {c.id: c for c in criteria.criteria}
            if (
                data["version"] != VERSION
                or data["criteria"] != _fingerprint(by_id.values())
                or now_ms - data["hour_ms"] > MAX_AGE_MS
            ):
                return None
            queries = [tuple(q) for q in data["queries"]]
            results = {
                cid: {
                    village: _verdict(by_id[cid], village, v, queries) for village, v in per_village.items()
                }
                for cid, per_village in data["results"].items()
            }
            return int(data["hour_ms"]), data["places"], results
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError, IndexError) as err:
            log.warning(
                "kept evaluation unreadable, not used", extra={"file": str(self.path), "error": str(err)}
            )
            return None


def _fingerprint(criteria: Iterable[Criterion]) -> str:
    """What the verdicts were judged by: a changed threshold or window is another evaluation."""
    text = json.dumps(sorted((c.model_dump(mode="json") for c in criteria), key=lambda c: c["id"]))
    return hashlib.sha256(text.encode()).hexdigest()


def _plain(v: Verdict, queries: dict[tuple[str, ...], int]) -> dict[str, Any]:
    ev, checked = v.evidence, v.verification
    return {
        "verdict": v.verdict,
        "evidence": {
            "value": ev.value,
            "unit": ev.unit,
            "coverage": ev.coverage,
            "samples": ev.samples,
            "window": [ev.window.start_ms, ev.window.end_ms],
            "queries": queries.setdefault(tuple(ev.queries), len(queries)),
            "detail": dict(ev.detail),
        },
        "verification": asdict(checked),
    }


def _verdict(
    criterion: Criterion, village: str, data: dict[str, Any], queries: list[tuple[str, ...]]
) -> Verdict:
    ev, checked = data["evidence"], data["verification"]
    evidence = Evidence(
        ev["value"],
        ev["unit"],
        ev["coverage"],
        ev["samples"],
        Window(*ev["window"]),
        queries[ev["queries"]],
        ev["detail"],
    )
    verification = FigureVerification(
        **{
            **checked,
            "keys": tuple(KeyRecord(**k) for k in checked["keys"]),
            "faults": tuple(map(Fault.from_plain, checked["faults"])),
        }
    )
    return Verdict(criterion, village, data["verdict"], evidence, verification)
