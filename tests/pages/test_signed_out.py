"""A session signed out stays ended after the service restarts: the ended ones were kept in memory only, so a
restart let a cookie copied before its sign-out (an admin's, which enters a village's figures) work again."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pages_kit import ADMIN_KEY, READ_KEY, page_config

from server.app import create_app
from server.config import ServerConfig, load_server_config
from server.pages.auth import COOKIE
from server.pages.ended_sessions import EndedSessions

FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def _signed_in(client: TestClient, key: str = ADMIN_KEY) -> str:
    """A new session's cookie, signed in through the form."""
    client.cookies.clear()
    answer = client.post(
        "/pages/signin", content=f"key={key}&next=/pages/", headers=FORM, follow_redirects=False
    )
    assert answer.status_code == 303, answer.text
    return client.cookies[COOKIE]


def _status(client: TestClient, cookie: str) -> int:
    client.cookies.clear()
    client.cookies.set(COOKIE, cookie)
    return client.get("/pages/", follow_redirects=False).status_code


def _sign_out(client: TestClient, cookie: str) -> None:
    client.cookies.clear()
    client.cookies.set(COOKIE, cookie)
    assert client.post("/pages/signout", follow_redirects=False).status_code == 303


def _restart_keeps_sign_outs(config: ServerConfig) -> None:
    with TestClient(create_app(config)) as before:
        copied = _signed_in(before)
        other = _signed_in(before, READ_KEY)
        _sign_out(before, copied)
        assert _status(before, copied) == 401
    with TestClient(create_app(config)) as after:  # the service restarted
        assert _status(after, copied) == 401
        assert _status(after, other) == 200  # only the session that signed out ended


def test_a_sign_out_outlives_a_restart_beside_the_key_registry(seeded, tmp_path: Path) -> None:
    config = page_config(seeded.url, seeded.database, evidence={"registry": str(tmp_path / "keys.sqlite")})
    _restart_keeps_sign_outs(config)
    assert (tmp_path / "signed-out.sqlite").is_file()


def test_a_sign_out_outlives_a_restart_in_its_configured_file(seeded, tmp_path: Path) -> None:
    """No key registry: ``[pages] signed_out``, relative to the config file like the service's other files."""
    toml = tmp_path / "server.toml"
    toml.write_text(
        f'[influxdb]\nurl = "{seeded.url}"\ndatabase = "{seeded.database}"\n'
        f'[auth]\nread_keys = {{officials = "{READ_KEY}"}}\nadmin_keys = {{officer-hoa = "{ADMIN_KEY}"}}\n'
        '[rollups]\nbackground = false\n[pages]\nsigned_out = "state/ended.sqlite"\n'
    )
    config = load_server_config(toml)
    assert config.signed_out_file == tmp_path / "state" / "ended.sqlite"
    _restart_keeps_sign_outs(config)
    assert (tmp_path / "state" / "ended.sqlite").is_file()


def test_an_unreadable_file_refuses_every_session_from_before_the_start(
    seeded, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Whatever sign-outs the file held are unknown: every earlier session is refused, none honoured by mistake,
    and the service still starts and signs people in."""
    kept = tmp_path / "signed-out.sqlite"
    config = page_config(seeded.url, seeded.database, pages={"signed_out": str(kept)})
    with TestClient(create_app(config)) as before:
        earlier = _signed_in(before)
    kept.write_bytes(b"not a SQLite file " * 100)
    time.sleep(1.05 - time.time() % 1)  # a cookie's time is in whole seconds: start in the next one
    with caplog.at_level(logging.ERROR), TestClient(create_app(config)) as after:
        assert _status(after, earlier) == 401
        later = _signed_in(after)
        assert _status(after, later) == 200
        _sign_out(after, later)  # not kept on disk, but ended while the service runs
        assert _status(after, later) == 401
    logged = [r for r in caplog.records if r.name == "server.pages.ended_sessions"]
    assert [r.getMessage() for r in logged] == [
        "signed-out sessions unreadable: every session issued before this start is refused",
        "sign-out not kept on disk: a restart would forget it",
    ]
    assert all(getattr(r, "file", None) == str(kept) for r in logged)


def test_ended_sessions_are_forgotten_once_their_cookies_would_have_expired(tmp_path: Path) -> None:
    now = [1_000.0]
    path = tmp_path / "signed-out.sqlite"
    ended = EndedSessions(path, clock=lambda: now[0])
    ended.end("a", until=1_500.0)
    ended.end("b", until=3_000.0)
    assert ended.ended("a", issued=900.0) and ended.ended("b", issued=900.0)
    assert not ended.ended("c", issued=900.0)
    now[0] = 2_000.0
    ended.end("c", until=4_000.0)  # "a" has expired by now: the file no longer holds it
    assert EndedSessions(path, clock=lambda: now[0])._ended == {"b": 3_000.0, "c": 4_000.0}
