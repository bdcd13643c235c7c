"""API keys, the open read-only mode, and bad input answered with 4xx naming the parameter."""

from __future__ import annotations

import json
import logging
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import srv_scenario as sc
from srv_helpers import ADMIN, READ, READ_KEY, make_config

from server.app import create_app
from server.timeparse import iso
from thonminh.errors import ConfigError

A = sc.A["village"]
UPTIME = f"/api/v1/villages/{A}/uptime"
WINDOW = {"start": iso(sc.W_START), "end": iso(sc.W_END)}


def test_keys_read_for_get_admin_for_put(api):
    missing = api.get(UPTIME, params=WINDOW)
    assert missing.status_code == 401 and missing.headers["www-authenticate"] == "ApiKey"
    assert "missing API key" in missing.json()["detail"]
    assert api.get(UPTIME, params=WINDOW, headers={"X-API-Key": "not-a-key-at-all-123"}).status_code == 401
    assert api.get(UPTIME, params=WINDOW, headers=READ).status_code == 200
    assert api.get(UPTIME, params=WINDOW, headers={"Authorization": f"Bearer {READ_KEY}"}).status_code == 200
    assert api.get(UPTIME, params=WINDOW, headers=ADMIN).status_code == 200
    put = f"/api/v1/villages/{A}/indicators/eid_adoption_pct"
    body = {"value": 30.0, "unit": "%", "time": iso(sc.W_END + sc.DAY)}
    assert api.put(put, json=body).status_code == 401
    refused = api.put(put, json=body, headers=READ)
    assert refused.status_code == 403 and "read key" in refused.json()["detail"]
    # an unknown village is not revealed to someone without a key
    assert api.get("/api/v1/villages/nowhere/uptime").status_code == 401
    assert api.get("/api/v1/health").status_code == 200  # health needs no key
    # but tells a stranger nothing of where the database is; the read key gets the details
    assert set(api.get("/api/v1/health").json()) == {"status", "version"}
    assert set(api.get("/api/v1/health", headers={"X-API-Key": "wrong-key-0123456789"}).json()) == {
        "status",
        "version",
    }
    assert "url" in api.get("/api/v1/health", headers=READ).json()["influxdb"]


def test_without_keys_the_service_refuses_to_start(seeded):
    config = make_config(seeded.url, seeded.database, auth={"read_keys": {}, "admin_keys": {}})
    with pytest.raises(ConfigError, match="auth: no API keys configured.*--open-read-only"):
        create_app(config)


def test_the_command_refuses_to_start_without_keys(tmp_path: Path):
    config = tmp_path / "server.toml"
    config.write_text('[influxdb]\nurl = "http://127.0.0.1:9"\n')
    done = subprocess.run(
        [sys.executable, "-m", "thonminh.cli", "server", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "no API keys configured" in done.stderr


def test_open_read_only_mode_serves_get_without_keys_and_says_so(seeded, app_for, caplog):
    with caplog.at_level(logging.WARNING, logger="server"):
        api = app_for(seeded, open_read_only=True, auth={"read_keys": {}, "admin_keys": {}})
    assert any("open read-only mode" in r.getMessage() for r in caplog.records)
    assert api.get(UPTIME, params=WINDOW).status_code == 200
    assert api.get("/api/v1/health").json()["auth"] == "open-read-only"
    refused = api.put(f"/api/v1/villages/{A}/indicators/eid_adoption_pct", json={"value": 1.0}, headers=ADMIN)
    assert refused.status_code == 403 and "read-only" in refused.json()["detail"]


@pytest.mark.parametrize(
    ("path", "params", "status", "parameter", "text"),
    [
        ("/villages/nowhere/uptime", {}, 404, "village", "not in the data"),
        (
            f"/villages/{A}/uptime",
            {"start": iso(sc.W_END), "end": iso(sc.W_START)},
            422,
            "start",
            "not before end",
        ),
        (f"/villages/{A}/uptime", {"start": "-500d"}, 422, "start", "longer than the maximum"),
        (f"/villages/{A}/uptime", {"start": "2025-13-45"}, 422, "start", "not an ISO 8601 time"),
        (f"/villages/{A}/uptime", {"end": "yesterday"}, 422, "end", "not an ISO 8601 time"),
        (f"/villages/{A}/uptime", {"start": "1900-01-01"}, 422, "start", "outside 2000..2200"),
        (f"/villages/{A}/uptime", {**WINDOW, "link": "satellite"}, 422, "link", "not a link of"),
        (f"/villages/{A}/uptime", {**WINDOW, "step": "1x"}, 422, "step", "not a duration"),
        (f"/villages/{A}/uptime", {**WINDOW, "step": "30s"}, 422, "step", "at least 1m"),
        (f"/villages/{A}/uptime", {"start": "-300d", "step": "1m"}, 422, "step", "more than the maximum"),
        (f"/villages/{A}/uptime", {**WINDOW, "format": "xml"}, 422, "format", "format"),
        (f"/villages/{A}/outages", {**WINDOW, "link": "x\\y"}, 422, "link", "link"),
        (f"/villages/{A}/criteria", {"start": "now+1d"}, 422, "start", "not before end"),
        ("/criteria", {"province": "a\x01b"}, 422, "province", "province"),
        # no letter or digit: it named a filter matching nothing as province '' (a 404), not what was given
        ("/criteria", {"province": '"'}, 422, "province", "has no letter or digit"),
        ("/villages", {"commune": "·"}, 422, "commune", "has no letter or digit"),
        (f"/villages/{A}/uptime", {**WINDOW, "step": "500000w"}, 422, "step", "at most 3660d"),
        # a parameter the route does not read, or one given twice, answered the default window or the last value
        (f"/villages/{A}/criteria", {"month": "2026-11"}, 422, "month", "not a parameter of this request"),
        (
            "/criteria",
            {**WINDOW, "comune": "an-lac"},
            422,
            "comune",
            "(its parameters: commune, district, end,",
        ),
        (f"/villages/{A}/indicators", {"start": "-1d"}, 422, "start", "(its parameters: tz)"),
        (f"/villages/{A}/outages", [("start", "-2d"), ("start", "-1h")], 422, "start", "start: given twice"),
        (
            f"/villages/{A}/uptime",
            [*WINDOW.items(), ("format", "csv"), ("format", "json")],
            422,
            "format",
            "twice",
        ),
    ],
)
def test_bad_parameters_are_4xx_naming_the_parameter(api, path, params, status, parameter, text):
    response = api.get(f"/api/v1{path}", params=params, headers=READ)
    assert response.status_code == status, response.text
    assert response.json()["parameter"] == parameter
    assert text in response.json()["detail"]


def test_health_answers_a_probes_own_query(api):
    assert api.get("/api/v1/health", params={"_": "1733650000"}).status_code == 200


def test_a_parameter_no_route_reads_is_told_only_to_a_caller_with_a_key(api):
    assert api.get(f"/api/v1/villages/{A}/criteria", params={"month": "2026-11"}).status_code == 401
    assert api.get(f"/api/v1/villages/{A}/criteria", params=WINDOW, headers=READ).status_code == 200


@pytest.mark.parametrize(
    ("path", "body", "status", "parameter"),
    [
        (f"/villages/{A}/indicators/eid_adoption_pct", {"value": "lots"}, 422, "value"),
        (f"/villages/{A}/indicators/eid_adoption_pct", {"unit": "%"}, 422, "value"),
        (f"/villages/{A}/indicators/eid_adoption_pct", {"value": 1.0, "colour": "red"}, 422, "colour"),
        (f"/villages/{A}/indicators/eid_adoption_pct", {"value": 1.0, "time": "2999-01-01"}, 422, "time"),
        (f"/villages/{A}/indicators/Bad-Id", {"value": 1.0}, 422, "indicator"),
        ("/villages/nowhere/indicators/eid_adoption_pct", {"value": 1.0}, 404, "village"),
    ],
)
def test_bad_indicator_input_is_refused(api, path, body, status, parameter):
    response = api.put(f"/api/v1{path}", json=body, headers=ADMIN)
    assert response.status_code == status, response.text
    assert response.json()["parameter"] == parameter


def test_non_finite_indicator_values_are_refused(api):
    response = api.put(
        f"/api/v1/villages/{A}/indicators/eid_adoption_pct",
        headers={**ADMIN, "Content-Type": "application/json"},
        content=b'{"value": NaN}',
    )
    assert response.status_code == 422 and response.json()["parameter"] == "value"


@pytest.mark.parametrize(
    ("content_type", "status"),
    [
        ("text/plain", 415),
        ("application/x-www-form-urlencoded", 415),  # curl -d without -H
        ("multipart/form-data; boundary=x", 415),
        ("application/json; charset=utf-8", 200),
        ("application/merge-patch+json", 200),
    ],
)
def test_a_body_not_sent_as_json_is_told_so(api, content_type, status):
    """Any other type reached the route as no JSON at all, refused as "Input should be a valid dictionary"."""
    response = api.put(
        f"/api/v1/villages/{A}/indicators/eid_adoption_pct",
        headers={**ADMIN, "Content-Type": content_type},
        content=b'{"value": 30}',
    )
    assert response.status_code == status, response.text
    if status == 415:
        assert response.json()["parameter"] == "Content-Type"
        assert "is not JSON; send the body as JSON with Content-Type: application/json" in response.text


@pytest.mark.parametrize("depth", [2000, 20000])
def test_a_body_nested_too_deeply_is_a_clear_refusal(api, depth):
    """Under the body limit, a JSON text of brackets only is deep enough to exhaust Python's JSON reader."""
    response = api.put(
        f"/api/v1/villages/{A}/indicators/eid_adoption_pct",
        headers={**ADMIN, "Content-Type": "application/json"},
        content=b'{"value": ' + b"[" * depth + b"]" * depth + b"}",
    )
    assert response.status_code in (400, 422), response.text
    assert "Traceback" not in response.text and response.json()["detail"]


def test_openapi_and_docs_are_served(api):
    schema = api.get("/api/v1/openapi.json").json()
    assert "/api/v1/villages/{village}/criteria" in schema["paths"]
    assert api.get("/api/v1/docs").status_code == 200


@pytest.mark.parametrize("trusted", [None, ["127.0.0.2"]])
def test_the_session_cookie_is_secure_behind_a_trusted_tls_proxy(tmp_path: Path, trusted) -> None:
    """A TLS proxy on another address said https in X-Forwarded-Proto, and uvicorn believed only 127.0.0.1: the
    cookie lost ``Secure``. ``http.trusted_proxies`` names the proxies ``thonminh server`` believes."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proxies = "" if trusted is None else f"trusted_proxies = {json.dumps(trusted)}\n"
    config = tmp_path / "server.toml"
    config.write_text(
        f'[http]\nhost = "127.0.0.1"\nport = {port}\n{proxies}[influxdb]\nurl = "http://127.0.0.1:9"\n'
        f'[auth.read_keys]\nofficials = "{READ_KEY}"\n[rollups]\nenabled = false\n'
    )
    proc = subprocess.Popen([sys.executable, "-m", "thonminh.cli", "server", "--config", str(config)])
    try:
        proxy = httpx.Client(transport=httpx.HTTPTransport(local_address="127.0.0.2"), timeout=5)
        url = f"http://127.0.0.1:{port}/pages/signin"
        for _ in range(100):
            try:
                answer = proxy.post(
                    url,
                    content=f"key={READ_KEY}",
                    headers={
                        "Content-Type": "application/x-www-form-urlencoded",
                        "X-Forwarded-Proto": "https",
                    },
                )
                break
            except httpx.TransportError:
                time.sleep(0.2)
        else:
            raise AssertionError("the service did not start")
        assert answer.status_code == 303, answer.text
        cookie = answer.headers["set-cookie"]
        assert ("secure" in cookie.lower()) is (trusted is not None), cookie
    finally:
        proc.terminate()
        proc.wait(timeout=30)
