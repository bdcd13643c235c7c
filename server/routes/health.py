"""``GET /health``: the service and its InfluxDB connection (no key needed: load balancers ask it)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from server.deps import ServiceDep
from server.models import HealthOut

router = APIRouter(tags=["health"])


@router.get("/health", response_model=HealthOut, responses={503: {"model": HealthOut}})
def health(service: ServiceDep):
    ok, body = service.health()
    return body if ok else JSONResponse(body.model_dump(), status_code=503)
