"""A request body larger than any the service takes is refused (413) as it arrives, never read whole: the
sign-in form needs no key, so anyone who reached the service could make it hold a body of any size in memory."""

from __future__ import annotations

import json

import httpx
import srv_scenario as sc
from srv_helpers import ADMIN, READ, make_config, serving

from server.app import create_app

A = sc.A["village"]
PUT = f"/api/v1/villages/{A}/indicators/eid_adoption_pct"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}
#: an entry with a note of 100,000 characters: over the 64 KiB the service takes by default
BIG = json.dumps({"value": 30.0, "note": "x" * 100_000})


def test_an_api_body_over_the_limit_is_a_413_naming_the_body(api) -> None:
    refused = api.put(PUT, content=BIG, headers=ADMIN | {"Content-Type": "application/json"})
    assert refused.status_code == 413
    assert refused.json() == {
        "detail": "body: larger than the 65536 bytes this service takes ([http] max_body_kib)",
        "parameter": "body",
    }
    assert api.get(f"/api/v1/villages/{A}/indicators", headers=READ).json()["entries"] == []


def test_credentials_are_refused_before_the_body_is_weighed(api) -> None:
    assert api.put(PUT, content=BIG, headers={"Content-Type": "application/json"}).status_code == 401


def test_a_sign_in_posted_with_a_huge_body_is_a_page_saying_so(api) -> None:
    refused = api.post("/pages/signin", content=b"key=" + b"x" * (2 << 20), headers=FORM)
    assert refused.status_code == 413 and refused.headers["content-type"].startswith("text/html")
    assert "Biểu mẫu gửi lên quá lớn" in refused.text


def test_a_body_sent_in_chunks_is_counted_as_it_arrives(api) -> None:
    def chunks():
        for _ in range(64):
            yield b"x" * 4096

    refused = api.post("/pages/signin", content=chunks(), headers=FORM)
    assert refused.status_code == 413


def test_the_limit_is_the_configs(seeded, app_for) -> None:
    small = app_for(seeded, http={"max_body_kib": 1})
    note = {"value": 30.0, "note": "x" * 190, "time": "2025-03-01"}
    assert small.put(PUT, json=note, headers=ADMIN).status_code == 200  # an entry is far under a kibibyte
    padded = json.dumps(note) + " " * 1024
    answer = small.put(PUT, content=padded, headers=ADMIN | {"Content-Type": "application/json"})
    assert answer.status_code == 413 and "1024 bytes" in answer.json()["detail"]


def test_uvicorn_answers_the_413_while_the_client_is_still_sending(seeded) -> None:
    """As deployed: the refusal reaches a client still writing a body of 20 MB, or of 64 MiB in chunks."""
    with serving(create_app(make_config(seeded.url, seeded.database)), access_log=False) as base:
        whole = httpx.post(f"{base}/pages/signin", content=b"key=" + b"x" * 20_000_000, headers=FORM)
        chunked = httpx.post(
            f"{base}/pages/signin", content=(b"x" * 65536 for _ in range(1024)), headers=FORM
        )
    assert (whole.status_code, chunked.status_code) == (413, 413)
    assert "Biểu mẫu gửi lên quá lớn" in whole.text


def test_the_published_schema_says_which_routes_answer_413(api) -> None:
    paths = api.get("/api/v1/openapi.json").json()["paths"]
    with_body = [
        (path, method)
        for path, methods in paths.items()
        for method, operation in methods.items()
        if "requestBody" in operation
    ]
    assert len(with_body) == 3  # an indicator entered, a key registered, a key retired
    assert all("413" in paths[path][method]["responses"] for path, method in with_body), with_body
