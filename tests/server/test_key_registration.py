"""What the key registry takes (a review registered odd keys and ids, each a 201): a key that is no point of the
curve's main group (all zeros: libsodium verifies nothing under it, so it could only stand in a real key's
place), and gateway or village ids no gateway's config can give (whitespace, a right-to-left override)."""

from __future__ import annotations

import pytest
from signed_kit import Gateway
from srv_helpers import ADMIN

SMALL_ORDER = ["AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", "AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="]


@pytest.fixture
def api(influx, app_for, tmp_path):
    return app_for(influx, evidence={"registry": str(tmp_path / "keys.sqlite")})


@pytest.mark.parametrize("public_key", SMALL_ORDER)
def test_a_key_of_small_order_is_refused(api, public_key: str) -> None:
    answer = api.post(
        "/api/v1/gateways/gw-1/keys", headers=ADMIN, json={"village": "v", "public_key": public_key}
    )
    assert answer.status_code == 422, answer.text
    assert answer.json()["parameter"] == "public_key" and "main group" in answer.json()["detail"]


@pytest.mark.parametrize(
    ("gateway", "village", "parameter"),
    [
        ("%20", "v", "gateway"),
        ("%E2%80%AE", "v", "gateway"),
        ("GW-1", "v", "gateway"),
        ("gw-1", "Kha Ly", "village"),
    ],
)
def test_an_id_no_gateway_config_can_give_is_refused(api, gateway: str, village: str, parameter: str) -> None:
    body = {"village": village, "public_key": Gateway().public_key}
    answer = api.post(f"/api/v1/gateways/{gateway}/keys", headers=ADMIN, json=body)
    assert answer.status_code == 422, answer.text
    assert answer.json()["parameter"] == parameter and "is not a slug" in answer.json()["detail"]


def test_a_real_key_for_slugs_is_registered(api) -> None:
    body = {"village": "kha-ly-thuong", "public_key": Gateway().public_key}
    assert api.post("/api/v1/gateways/klt-gw1/keys", headers=ADMIN, json=body).status_code == 201
