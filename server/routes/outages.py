"""``GET /villages/{village}/outages``: each outage with its start, end (or open), duration and reason."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request

from server import csvout, uplinks
from server.deps import (
    VILLAGE_ERRORS,
    Format,
    KnownVillage,
    LinkQuery,
    ServiceDep,
    WindowParams,
    require_read,
)
from server.models import OutagesOut

router = APIRouter(tags=["outages"], dependencies=[Depends(require_read)], responses=VILLAGE_ERRORS)


@router.get("/villages/{village}/outages", response_model=OutagesOut, responses=csvout.CSV_RESPONSE)
def outages(
    request: Request,
    service: ServiceDep,
    village: KnownVillage,
    window: WindowParams,
    link: LinkQuery = None,
    format: Format = None,
):
    result = uplinks.outages(service, village, window, link)
    if csvout.wants_csv(request, format):
        return csvout.csv_response(
            csvout.OUTAGE_COLUMNS,
            csvout.outage_rows(result),
            f"outages-{village}.csv",
            zone=service.zone,
            fmt=format,
        )
    return result
