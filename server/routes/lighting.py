"""``GET /villages/{village}/lighting``: street lighting availability, per light, and lights by fault."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from server import summaries
from server.deps import VILLAGE_ERRORS, KnownVillage, ServiceDep, WindowParams, require_read
from server.models import LightingOut

router = APIRouter(tags=["summaries"], dependencies=[Depends(require_read)], responses=VILLAGE_ERRORS)


@router.get("/villages/{village}/lighting", response_model=LightingOut)
def lighting(service: ServiceDep, village: KnownVillage, window: WindowParams) -> LightingOut:
    return summaries.lighting(service, village, window)
