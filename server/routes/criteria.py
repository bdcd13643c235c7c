"""Criteria verdicts with evidence: one village, or the roll-up of a province, district or commune."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request

from server import csvout, verdicts
from server.deps import (
    READ_ERRORS,
    Format,
    KnownVillage,
    RawWindow,
    ScopeParams,
    ServiceDep,
    error_answers,
    require_read,
)
from server.models import CriteriaRollupOut, VillageCriteriaOut

router = APIRouter(tags=["criteria"], dependencies=[Depends(require_read)], responses=READ_ERRORS)


@router.get(
    "/villages/{village}/criteria",
    response_model=VillageCriteriaOut,
    responses=csvout.CSV_RESPONSE | error_answers(404),
)
def village_criteria(
    request: Request, service: ServiceDep, village: KnownVillage, window: RawWindow, format: Format = None
):
    result = verdicts.village_criteria(service, village, *window)
    if csvout.wants_csv(request, format):
        return csvout.csv_response(
            csvout.CRITERIA_COLUMNS,
            csvout.criteria_rows(result),
            f"criteria-{village}.csv",
            zone=service.zone,
            fmt=format,
        )
    return result


@router.get(
    "/criteria",
    response_model=CriteriaRollupOut,
    responses=csvout.CSV_RESPONSE
    | error_answers(
        404,
        503,
        meaning={
            404: "the province, district or commune filter matches no village (`parameter`: the filter after "
            "which none is left)",
            503: "InfluxDB is unavailable, or the service's first evaluation of every village is still being "
            "made (Retry-After)",
        },
    ),
)
def criteria_rollup(
    request: Request, service: ServiceDep, scope: ScopeParams, window: RawWindow, format: Format = None
):
    result = verdicts.rollup_criteria(service, scope, *window)
    if csvout.wants_csv(request, format):
        name = scope.commune or scope.district or scope.province or "all"
        return csvout.csv_response(
            csvout.ROLLUP_COLUMNS,
            csvout.rollup_rows(result),
            f"criteria-{name}.csv",
            zone=service.zone,
            fmt=format,
        )
    return result
