"""``GET /villages/{village}/modem``: registration share, RSRP shares and signal medians."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from server import summaries
from server.deps import VILLAGE_ERRORS, KnownVillage, ServiceDep, WindowParams, require_read
from server.models import ModemOut

router = APIRouter(tags=["summaries"], dependencies=[Depends(require_read)], responses=VILLAGE_ERRORS)


@router.get("/villages/{village}/modem", response_model=ModemOut)
def modem(service: ServiceDep, village: KnownVillage, window: WindowParams) -> ModemOut:
    return summaries.modem(service, village, window)
