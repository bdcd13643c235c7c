"""Criteria definitions (YAML), their validation at start-up, verdicts, and their evaluation.

A verdict is ``pass``, ``fail`` or ``insufficient_data`` (no value, or coverage under the criterion's
minimum) and always carries its evidence. Definitions are data: ``criteria.yaml`` ships the defaults and
``criteria_file`` in server.toml replaces them; a bad file stops the service with the file, the criterion id
and the field named.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import Field, ValidationError, field_validator, model_validator

from server.catalog import FIGURES, Evidence, FigureReader
from server.errors import ParameterError
from server.queries import Scope
from server.reader import Reader
from server.timeparse import Window, parse_duration
from thonminh.config import StrictModel
from thonminh.errors import ConfigError

__all__ = ["COMPARATORS", "CriteriaSet", "Criterion", "Verdict", "evaluate", "load_criteria", "verdict"]

COMPARATORS: dict[str, Callable[[float, float], bool]] = {
    ">=": operator.ge, ">": operator.gt, "<=": operator.le, "<": operator.lt, "==": operator.eq,
}
VERDICTS = ("pass", "fail", "insufficient_data")


class Title(StrictModel):
    vi: str = Field(min_length=1)
    en: str = Field(min_length=1)


class Criterion(StrictModel):
    """One criterion as written in the YAML file."""

    id: str = Field(pattern=r"^[a-z][a-z0-9_]{0,63}$")
    title: Title
    figure: str
    params: dict[str, str | int | float] = Field(default_factory=dict)
    comparator: Literal[">=", ">", "<=", "<", "=="]
    threshold: float
    window: str = "30d"
    min_coverage: float = Field(0.8, ge=0, le=1)
    description: str = ""

    @field_validator("figure")
    @classmethod
    def _known_figure(cls, value: str) -> str:
        if value not in FIGURES:
            raise ValueError(f"unknown figure {value!r}; known: {', '.join(FIGURES)}")
        return value

    @field_validator("threshold")
    @classmethod
    def _finite(cls, value: float) -> float:
        if not math.isfinite(value):
            raise ValueError("threshold must be a finite number")
        return value

    @field_validator("window")
    @classmethod
    def _duration(cls, value: str) -> str:
        try:
            parse_duration(value, "window")
        except ParameterError as err:
            raise ValueError(str(err).removeprefix("window: ")) from None
        return value

    @model_validator(mode="after")
    def _params_fit_the_figure(self) -> Criterion:
        spec = FIGURES[self.figure]
        for name in self.params:
            if name not in spec.params:
                raise ValueError(f"params.{name}: unknown parameter of {self.figure} "
                                 f"(known: {', '.join(spec.params) or 'none'})")
        for name, param in spec.params.items():
            value = self.params.get(name)
            if value is None:
                if param.required:
                    raise ValueError(f"params.{name}: required by {self.figure}")
                continue
            if not isinstance(value, param.kind) or isinstance(value, bool):
                raise ValueError(f"params.{name}: expected {param.kind.__name__}, got {value!r}")
            if param.choices is not None and value not in param.choices:
                raise ValueError(f"params.{name}: {value!r} is not one of {list(param.choices)}")
            if param.pattern is not None and not re.match(param.pattern, str(value)):
                raise ValueError(f"params.{name}: {value!r} does not match {param.pattern}")
        return self

    @property
    def unit(self) -> str:
        return FIGURES[self.figure].unit

    @property
    def window_delta(self) -> timedelta:
        return parse_duration(self.window, "window")


class CriteriaSet(StrictModel):
    version: Literal[1] = 1
    criteria: list[Criterion] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_ids(self) -> CriteriaSet:
        seen: set[str] = set()
        for c in self.criteria:
            if c.id in seen:
                raise ValueError(f"criterion id {c.id!r} appears twice")
            seen.add(c.id)
        return self


def _describe(err: ValidationError, filename: str, raw: Any) -> str:
    lines = []
    for e in err.errors(include_url=False):
        loc = list(e["loc"])
        msg = e["msg"].removeprefix("Value error, ")
        if e["type"] == "extra_forbidden":
            msg = "unknown key"
        elif e["type"] == "missing":
            msg = "required value is missing"
        where = "(top level)"
        if len(loc) >= 2 and loc[0] == "criteria" and isinstance(loc[1], int):
            index = loc[1]
            item = raw.get("criteria", [])[index] if isinstance(raw, dict) else None
            cid = item.get("id") if isinstance(item, dict) else None
            rest = ".".join(str(p) for p in loc[2:])
            where = f"criterion {cid!r} (criteria[{index}])" + (f": {rest}" if rest else "")
        elif loc:
            where = ".".join(str(p) for p in loc)
        lines.append(f"{filename}: {where}: {msg}")
    return "\n".join(lines)


def load_criteria(path: str | Path) -> CriteriaSet:
    """Read and validate a criteria file; ``ConfigError`` names the file, the criterion id and the field."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as err:
        raise ConfigError(f"{path}: cannot read: {err.strerror or err}") from err
    except yaml.YAMLError as err:
        raise ConfigError(f"{path.name}: invalid YAML: {err}") from err
    try:
        return CriteriaSet.model_validate(raw)
    except ValidationError as err:
        raise ConfigError(_describe(err, path.name, raw)) from err


# -- verdicts ---------------------------------------------------------------------------------------------------


def verdict(value: float | None, coverage: float, *, comparator: str, threshold: float, min_coverage: float) -> str:
    """``insufficient_data`` without a value or under the minimum coverage, else ``pass``/``fail``."""
    if value is None or coverage < min_coverage:
        return "insufficient_data"
    # a figure computed as 99.00000000001 or 98.99999999999 is 99 as far as anyone reading it is concerned
    return "pass" if COMPARATORS[comparator](round(value, 9), threshold) else "fail"


@dataclass(frozen=True, slots=True)
class Verdict:
    criterion: Criterion
    village: str
    verdict: str
    evidence: Evidence


def evaluate(
    criteria: Iterable[Criterion],
    reader: Reader,
    scope: Scope,
    villages: Iterable[str],
    window_for: Callable[[Criterion], Window],
    *,
    workers: int = 4,
) -> dict[str, dict[str, Verdict]]:
    """Every criterion for every village of ``scope``: ``{criterion_id: {village: Verdict}}``.

    Villages without any data for a figure get ``insufficient_data`` with zero coverage."""
    criteria = list(criteria)
    villages = sorted(set(villages))
    shared = FigureReader(reader)

    def one(c: Criterion) -> tuple[str, dict[str, Verdict]]:
        window = window_for(c)
        found, queries = FIGURES[c.figure].compute(shared, scope, window, c.params)
        results = {}
        for village in sorted(set(villages) | set(found)):
            ev = found.get(village) or Evidence(None, c.unit, 0.0, 0, window, queries)
            results[village] = Verdict(c, village, verdict(ev.value, ev.coverage, comparator=c.comparator,
                                                           threshold=c.threshold, min_coverage=c.min_coverage), ev)
        return c.id, results

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        return dict(pool.map(one, criteria))
