"""Manual indicators: ``PUT`` an entry (admin key), ``GET`` the record of entries (read key)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from server import indicators
from server.deps import (
    SLUG_PATTERN,
    VILLAGE_ERRORS,
    AdminKey,
    KnownVillage,
    OnceEach,
    ReadKey,
    ServiceDep,
    error_answers,
)
from server.indicator_models import IndicatorIn, IndicatorOut, IndicatorsOut

router = APIRouter(tags=["indicators"])
IndicatorPath = Annotated[str, Path(pattern=SLUG_PATTERN, description="e.g. eid_adoption_pct")]


@router.put(
    "/villages/{village}/indicators/{indicator}",
    response_model=IndicatorOut,
    responses=error_answers(400, 401, 403, 404, 413, 415, 422, 502, 503),
)
def put_indicator(
    principal: AdminKey,
    _: OnceEach,
    service: ServiceDep,
    village: KnownVillage,
    indicator: IndicatorPath,
    body: IndicatorIn,
) -> IndicatorOut:
    return indicators.put_indicator(service, village, indicator, body, principal.name)


@router.get("/villages/{village}/indicators", response_model=IndicatorsOut, responses=VILLAGE_ERRORS)
def list_indicators(_: ReadKey, service: ServiceDep, village: KnownVillage) -> IndicatorsOut:
    return indicators.history(service, village, None)


@router.get(
    "/villages/{village}/indicators/{indicator}", response_model=IndicatorsOut, responses=VILLAGE_ERRORS
)
def indicator_history(
    _: ReadKey, service: ServiceDep, village: KnownVillage, indicator: IndicatorPath
) -> IndicatorsOut:
    return indicators.history(service, village, indicator)
