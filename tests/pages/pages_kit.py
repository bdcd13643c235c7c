"""What the page tests share: the keys, the server's config, Chromium's locked-down arguments, screenshots."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from server.app import create_app
from server.config import ServerConfig

READ_KEY = "read-key-0123456789abcdef"
ADMIN_KEY = "admin-key-0123456789abcdef"
ARTEFACTS = Path(__file__).resolve().parent / "artefacts"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
    "--proxy-server=127.0.0.1:9",
]
VILLAGES = {"kha-ly-thuong": {"name": "Khả Lý Thượng", "public": True}, "ban-ven": {"name": "Bản Vẹn"}}
#: the names of the scenario's places; lang-son's and huu-lung's are left out: they show as their slugs
PLACES = {
    "communes": {"an-lac": {"name": "An Lạc"}},
    "districts": {"son-dong": {"name": "Sơn Động"}},
    "provinces": {"bac-giang": {"name": "Bắc Giang"}},
}


def page_config(url: str, database: str, *, read_key: str = READ_KEY, **more: Any) -> ServerConfig:
    """The pages' server config; ``more`` adds sections (``evidence={"registry": ...}``)."""
    return ServerConfig.model_validate(
        {
            "influxdb": {"url": url, "database": database, "timeout_s": 10},
            "auth": {"read_keys": {"officials": read_key}, "admin_keys": {"officer-hoa": ADMIN_KEY}},
            "rollups": {"background": False},
            "villages": VILLAGES,
            **PLACES,
            **more,
        }
    )


def shot(page, name: str) -> Path:
    ARTEFACTS.mkdir(exist_ok=True)
    path = ARTEFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def controls_on_a_phone(page, form: str, width: int = 360) -> int:
    """How many controls the form ``form`` (a selector) has, once it is seen that the page is no wider than a
    phone of ``width`` px, that each control is on its screen and that each is a finger's target (44 px)."""
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    boxes = page.eval_on_selector_all(
        f"{form} select, {form} input, {form} button",
        "els => els.map(e => { const r = e.getBoundingClientRect(); return [r.left, r.right, r.height]; })",
    )
    assert all(left >= 0 and right <= width and height >= 44 for left, right, height in boxes), boxes
    return len(boxes)


@contextmanager
def signing_site(url: str, database: str, tmp_path: Path) -> Iterator[TestClient]:
    """The service with a key registry (so it signs what it enters), as a browser reaches it."""
    config = page_config(url, database, evidence={"registry": str(tmp_path / "keys.sqlite")})
    with TestClient(create_app(config)) as client:
        yield client
