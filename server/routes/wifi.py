"""``GET /villages/{village}/wifi``: public Wi-Fi service and use."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from server import summaries
from server.deps import VILLAGE_ERRORS, KnownVillage, ServiceDep, WindowParams, require_read
from server.models import WifiOut

router = APIRouter(tags=["summaries"], dependencies=[Depends(require_read)], responses=VILLAGE_ERRORS)


@router.get("/villages/{village}/wifi", response_model=WifiOut)
def wifi(service: ServiceDep, village: KnownVillage, window: WindowParams) -> WifiOut:
    return summaries.wifi(service, village, window)
