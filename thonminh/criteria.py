"""The criteria set (``criteria.yaml``): one pydantic model, used by the criteria service and the dashboards.

A criterion names a figure of ``thonminh.figures`` with its parameters, a comparator, a threshold, a window
and a minimum coverage. A verdict is ``pass``, ``fail``, ``insufficient_data`` (no value, or coverage
under the minimum) or ``unverified`` (a value, but too few of its samples covered by the gateways' signed
evidence: ``min_verified_pct``); the rule is ``verdict`` below, and every surface (API, Grafana, pages, demo
report) applies this one.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final, Literal

import yaml
from pydantic import Field, ValidationError, field_validator, model_validator

from thonminh.config import StrictModel, format_validation_error
from thonminh.duration import duration_seconds
from thonminh.errors import ConfigError
from thonminh.figures import FIGURES, INDICATORS, FigureDescription

__all__ = [
    "COMPARATORS",
    "DEFAULT_CRITERIA_FILE",
    "VERDICTS",
    "CriteriaSet",
    "Criterion",
    "TitleModel",
    "load_criteria",
    "verdict",
]

#: The defaults shipped with thonminh; ``criteria_file`` in server.toml replaces them.
DEFAULT_CRITERIA_FILE: Final = Path(__file__).with_name("criteria.yaml")
COMPARATORS: Final[dict[str, Callable[[float, float], bool]]] = {
    ">=": operator.ge,
    ">": operator.gt,
    "<=": operator.le,
    "<": operator.lt,
    "==": operator.eq,
}
VERDICTS: Final = ("pass", "fail", "insufficient_data", "unverified")


class TitleModel(StrictModel):
    vi: str = Field(min_length=1)
    en: str = Field(min_length=1)


class Criterion(StrictModel):
    """One criterion as written in the YAML file."""

    id: str = Field(pattern=r"^[a-z][a-z0-9_]{0,63}$")
    title: TitleModel
    figure: str
    params: dict[str, str | int | float] = Field(default_factory=dict)
    comparator: Literal[">=", ">", "<=", "<", "=="]
    threshold: float
    window: str = "30d"
    min_coverage: float = Field(0.8, ge=0, le=1)
    #: percent of the figure's samples that signed evidence must cover; under it a decided verdict is
    #: ``unverified``. Unset: the criteria set's ``min_verified_pct`` (``CriteriaSet`` fills it in).
    min_verified_pct: float | None = Field(None, ge=0, le=100)
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
        if duration_seconds(value) is None:
            raise ValueError(f"{value!r} is not a duration like 30d, 12h, 15m or 1h30m")
        return value

    @model_validator(mode="after")
    def _params_fit_the_figure(self) -> Criterion:
        spec = FIGURES[self.figure]
        known = {p.name for p in spec.params}
        for name in self.params:
            if name not in known:
                raise ValueError(
                    f"params.{name}: unknown parameter of {self.figure} "
                    f"(known: {', '.join(sorted(known)) or 'none'})"
                )
        for param in spec.params:
            value = self.params.get(param.name)
            if value is None:
                if param.required:
                    raise ValueError(f"params.{param.name}: required by {self.figure}")
                continue
            if not isinstance(value, param.kind) or isinstance(value, bool):
                raise ValueError(f"params.{param.name}: expected {param.kind.__name__}, got {value!r}")
            if param.choices is not None and value not in param.choices:
                raise ValueError(f"params.{param.name}: {value!r} is not one of {list(param.choices)}")
            if param.pattern is not None and not re.match(param.pattern, str(value)):
                raise ValueError(f"params.{param.name}: {value!r} does not match {param.pattern}")
        return self

    @property
    def description_of_figure(self) -> FigureDescription:
        return FIGURES[self.figure]

    @property
    def unit(self) -> str:
        """The figure's unit; a manual indicator's is its indicator's (VNeID adoption: %), which every surface
        prints beside the threshold as beside the value."""
        indicator = INDICATORS.get(str(self.params.get("indicator")))
        return indicator.unit if indicator is not None else FIGURES[self.figure].unit

    @property
    def window_s(self) -> int:
        seconds = duration_seconds(self.window)
        assert seconds is not None  # validated above
        return seconds

    def verdict(
        self, value: float | None, coverage: float, verified_pct: float | None = None, *, forged: bool = False
    ) -> str:
        return verdict(
            value,
            coverage,
            comparator=self.comparator,
            threshold=self.threshold,
            min_coverage=self.min_coverage,
            verified_pct=verified_pct,
            min_verified_pct=self.min_verified_pct,
            forged=forged,
        )


class CriteriaSet(StrictModel):
    version: Literal[1] = 1
    #: the default of every criterion's ``min_verified_pct`` (None: no minimum)
    min_verified_pct: float | None = Field(None, ge=0, le=100)
    criteria: list[Criterion] = Field(min_length=1)

    @model_validator(mode="before")
    @classmethod
    def _default_min_verified(cls, data: Any) -> Any:
        # filled in before validation, so each criterion holds the level it is judged by (models are frozen)
        if not isinstance(data, dict) or data.get("min_verified_pct") is None:
            return data
        items = data.get("criteria")
        if isinstance(items, list):
            data = {
                **data,
                "criteria": [
                    {**item, "min_verified_pct": data["min_verified_pct"]}
                    if isinstance(item, dict) and item.get("min_verified_pct") is None
                    else item
                    for item in items
                ],
            }
        return data

    @model_validator(mode="after")
    def _unique_ids(self) -> CriteriaSet:
        seen: set[str] = set()
        for c in self.criteria:
            if c.id in seen:
                raise ValueError(f"criterion id {c.id!r} appears twice")
            seen.add(c.id)
        return self


def _name_criteria(message: str, raw: Any) -> str:
    """``criteria[2].threshold`` becomes ``criterion 'wifi_use' (criteria[2]): threshold``."""
    items = raw.get("criteria") if isinstance(raw, dict) else None

    def named(match: re.Match[str]) -> str:
        index = int(match.group(1))
        item = items[index] if isinstance(items, list) and index < len(items) else None
        cid = item.get("id") if isinstance(item, dict) else None
        rest = match.group(2)
        return f"criterion {cid!r} (criteria[{index}])" + (f": {rest[1:]}" if rest else "")

    return re.sub(r"criteria\[(\d+)\]((?:\.[^:]+)?)", named, message)


def load_criteria(path: str | Path = DEFAULT_CRITERIA_FILE) -> CriteriaSet:
    """Read and validate a criteria file; ``ConfigError`` names the file, the criterion id and the field."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as err:
        raise ConfigError(f"{path}: cannot read: {err.strerror or err}") from err
    except yaml.YAMLError as err:
        raise ConfigError(f"{path.name}: invalid YAML: {err}") from err
    except RecursionError as err:
        # the YAML reader nests recursively: a deep enough document exhausts the stack
        raise ConfigError(f"{path.name}: invalid YAML (nested too deeply)") from err
    try:
        return CriteriaSet.model_validate(raw)
    except ValidationError as err:
        raise ConfigError(_name_criteria(format_validation_error(err, path.name), raw)) from err


def verdict(
    value: float | None,
    coverage: float,
    *,
    comparator: str,
    threshold: float,
    min_coverage: float,
    verified_pct: float | None = None,
    min_verified_pct: float | None = None,
    forged: bool = False,
) -> str:
    """``insufficient_data`` without a value or under the minimum coverage; ``unverified`` when signed evidence
    covers less than ``min_verified_pct`` percent of the samples (``None``: not known, so not held against
    the value: verification is not configured, or the figure has no gateway samples), or when data the value
    reads is known ``forged`` and still there (a rollup row the server could not delete) or signed data is gone
    (a deleted point or batch, which the share of what is left cannot count); else ``pass``/``fail``."""
    # rounded as the value and the share are, so that what the pages write beside the minimum is on its side
    if value is None or round(coverage, 9) < min_coverage:
        return "insufficient_data"
    if min_verified_pct is not None and (
        forged or (verified_pct is not None and round(verified_pct, 9) < min_verified_pct)
    ):
        return "unverified"
    # a figure computed as 99.00000000001 or 98.99999999999 is 99 as far as anyone reading it is concerned
    return "pass" if COMPARATORS[comparator](round(value, 9), threshold) else "fail"
