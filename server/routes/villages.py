"""``GET /villages``: the villages seen in the data, where they are and when they last reported."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from server.deps import READ_ERRORS, ScopeParams, ServiceDep, WindowParams, require_read
from server.models import VillagesOut

router = APIRouter(tags=["villages"], dependencies=[Depends(require_read)], responses=READ_ERRORS)


@router.get("/villages", response_model=VillagesOut)
def villages(service: ServiceDep, scope: ScopeParams, window: WindowParams) -> VillagesOut:
    return service.villages(scope, window)
