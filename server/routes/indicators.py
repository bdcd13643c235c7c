"""``PUT /villages/{village}/indicators/{indicator}``: officials enter manual indicators (admin key)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from server.deps import SLUG_PATTERN, Admin, KnownVillage, ServiceDep, error_answers
from server.models import IndicatorIn, IndicatorOut

router = APIRouter(tags=["indicators"], responses=error_answers(400, 401, 403, 404, 422, 502, 503))


@router.put("/villages/{village}/indicators/{indicator}", response_model=IndicatorOut)
def put_indicator(
    principal: Admin,
    service: ServiceDep,
    village: KnownVillage,
    indicator: Annotated[str, Path(pattern=SLUG_PATTERN, description="e.g. eid_adoption_pct")],
    body: IndicatorIn,
) -> IndicatorOut:
    return service.put_indicator(village, indicator, body, principal.name)
