"""Property-based requests from the OpenAPI schema (schemathesis generates them): never a 5xx.

Schemathesis builds the cases from ``/api/v1/openapi.json``; they are sent in-process through Starlette's
TestClient (the ASGI app with its lifespan), as the installed schemathesis' own ASGI transport trips over
the installed urllib3.
"""

from __future__ import annotations

import json

import schemathesis
import srv_scenario as sc
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.generation import GenerationMode
from srv_helpers import ADMIN, make_config

from server.app import create_app


def _send(client: TestClient, case) -> int:
    headers = {**{k: str(v) for k, v in (case.headers or {}).items()}, **ADMIN}
    kwargs = {}
    body = case.body
    if body is not None and type(body).__name__ != "NotSet":
        # negative cases include bodies that are not JSON at all: send them as they are
        kwargs["content"] = body if isinstance(body, bytes) else json.dumps(body, allow_nan=True).encode()
        headers.setdefault("Content-Type", case.media_type or "application/json")
    response = client.request(case.method, case.formatted_path, params=case.query or None, headers=headers, **kwargs)
    assert response.status_code < 500, f"{case.method} {case.formatted_path} {case.query}: {response.text}"
    return response.status_code


def test_no_input_gives_a_server_error(seeded):
    app = create_app(make_config(seeded.url, seeded.database))
    with TestClient(app) as client:
        schema = schemathesis.openapi.from_dict(client.get("/api/v1/openapi.json").json())
        known = {"village": sc.A["village"]}
        cases = st.one_of(
            schema.as_strategy(GenerationMode.POSITIVE),
            schema.as_strategy(GenerationMode.NEGATIVE),
            # a village in the data, so generated windows, links and steps reach the figures
            schema.as_strategy(GenerationMode.POSITIVE, path_parameters=known),
            schema.as_strategy(GenerationMode.NEGATIVE, path_parameters=known),
        )
        seen: dict[int, int] = {}

        @given(case=cases)
        @settings(max_examples=200, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        def run(case):
            status = _send(client, case)
            seen[status] = seen.get(status, 0) + 1

        run()
    assert seen.get(200, 0) > 10, seen  # a share of the requests were valid and answered
    assert any(400 <= status < 500 for status in seen), seen
