"""``GET /villages/{village}/uptime``: availability, up, down and unknown time per link (and per step)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request

from server import csvout, uplinks
from server.deps import (
    VILLAGE_ERRORS,
    Format,
    KnownVillage,
    LinkQuery,
    ServiceDep,
    StepParam,
    WindowParams,
    require_read,
)
from server.models import UptimeOut

router = APIRouter(tags=["uptime"], dependencies=[Depends(require_read)], responses=VILLAGE_ERRORS)


@router.get("/villages/{village}/uptime", response_model=UptimeOut, responses=csvout.CSV_RESPONSE)
def uptime(
    request: Request,
    service: ServiceDep,
    village: KnownVillage,
    window: WindowParams,
    step: StepParam,
    link: LinkQuery = None,
    format: Format = None,
):
    result = uplinks.uptime(service, village, window, link, step)
    if csvout.wants_csv(request, format):
        return csvout.csv_response(
            csvout.UPTIME_COLUMNS,
            csvout.uptime_rows(result),
            f"uptime-{village}.csv",
            zone=service.zone,
            fmt=format,
        )
    return result
