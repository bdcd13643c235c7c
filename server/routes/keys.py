"""The gateways' public keys (signed evidence): register and retire with an admin key, list with a read key."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from server.deps import TAG_PATTERN, AdminKey, OnceEach, ReadKey, ServiceDep, error_answers
from server.evidence import keys
from server.evidence.keys import KeyIn, KeyOut, KeysOut, RetireIn

router = APIRouter(tags=["keys"])
GatewayPath = Annotated[
    str, Path(min_length=1, max_length=128, pattern=TAG_PATTERN, description="the gateway id (tag `gateway`)")
]
FingerprintPath = Annotated[str, Path(pattern=r"^[0-9a-f]{16}$", description="the key's fingerprint")]
_NO_REGISTRY = "no key registry is configured"
CHANGE_ERRORS = error_answers(
    400, 401, 403, 404, 409, 413, 415, 422, meaning={404: _NO_REGISTRY + ", or no such key"}
)


@router.post(
    "/gateways/{gateway}/keys",
    response_model=KeyOut,
    status_code=201,
    responses=error_answers(400, 401, 403, 404, 409, 413, 415, 422, meaning={404: _NO_REGISTRY}),
)
def register_key(
    principal: AdminKey, _: OnceEach, service: ServiceDep, gateway: GatewayPath, body: KeyIn
) -> KeyOut:
    return keys.register(service, gateway, body, principal.name)


@router.post("/gateways/{gateway}/keys/{fingerprint}/retire", response_model=KeyOut, responses=CHANGE_ERRORS)
def retire_key(
    _: AdminKey,
    __: OnceEach,
    service: ServiceDep,
    gateway: GatewayPath,
    fingerprint: FingerprintPath,
    body: RetireIn,
) -> KeyOut:
    return keys.retire(service, gateway, fingerprint, body)


@router.get(
    "/gateways/{gateway}/keys",
    response_model=KeysOut,
    responses=error_answers(401, 404, 422, meaning={404: _NO_REGISTRY + ", or the gateway has no key"}),
)
def gateway_keys(_: ReadKey, service: ServiceDep, gateway: GatewayPath) -> KeysOut:
    return keys.list_keys(service, gateway=gateway)


@router.get(
    "/keys", response_model=KeysOut, responses=error_answers(401, 404, 422, meaning={404: _NO_REGISTRY})
)
def all_keys(
    _: ReadKey,
    service: ServiceDep,
    village: Annotated[
        str | None,
        Query(min_length=1, max_length=128, pattern=TAG_PATTERN, description="only this village's keys"),
    ] = None,
) -> KeysOut:
    return keys.list_keys(service, village=village)
