"""``GET /health``: the service and its InfluxDB connection. No key needed for the status (load balancers ask
it); the details, which name the database's address, need a read key."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Header, Request
from fastapi.responses import JSONResponse

from server.deps import api_key_header, authenticate
from server.errors import ApiError
from server.models import HealthOut

router = APIRouter(tags=["health"])


@router.get(
    "/health",
    response_model=HealthOut,
    response_model_exclude_none=True,
    responses={503: {"model": HealthOut}},
    # the key is optional here: OpenAPI's way to say so is an empty requirement beside the scheme
    openapi_extra={"security": [{}, {"APIKeyHeader": []}]},
)
def health(
    request: Request,
    key: Annotated[str | None, Depends(api_key_header)] = None,
    authorization: Annotated[str | None, Header(include_in_schema=False)] = None,
):
    try:
        detailed = request.app.state.open_read_only or authenticate(request, key, authorization) is not None
    except ApiError:  # a wrong key gets what a stranger gets
        detailed = False
    ok, body = request.app.state.service.health(detailed=detailed)  # no tz=: health has no times to read
    return body if ok else JSONResponse(body.model_dump(exclude_none=True), status_code=503)
