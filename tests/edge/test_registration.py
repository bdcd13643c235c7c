"""The ``thonminh keys add`` line ``edge init`` and ``edge key`` print is whole: run as printed, with only its
placeholders filled in, against the real criteria service, it registers the key from when it was made, so
what the gateway signed before its registration verifies (not ``expired_key``)."""

from __future__ import annotations

import os
import shlex
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from srv_helpers import ADMIN_KEY, READ_KEY, make_config, serving

from edge.cli import edge
from edge.config import load_gateway_config
from server.app import create_app
from thonminh.cli import main
from thonminh.influx import InfluxClient

MADE = datetime(2025, 3, 1, 10, 30, 5, tzinfo=UTC)


@pytest.fixture
def served(influx: InfluxClient, tmp_path: Path) -> Iterator[str]:
    config = make_config(influx.url, influx.database, evidence={"registry": str(tmp_path / "keys.sqlite")})
    with serving(create_app(config)) as base:
        yield base


def init(tmp_path: Path) -> tuple[Path, list[str]]:
    out = tmp_path / "gateway.toml"
    flags = [
        "--name",
        "Khả Lý Thượng",
        "--gateway",
        "klt-gw1",
        "--latitude",
        "21.38",
        "--longitude",
        "106.57",
    ]
    args = [
        "init",
        "--no-input",
        "-o",
        str(out),
        *flags,
        "--influx-url",
        "http://127.0.0.1:9",
        "--state-dir",
        "s",
    ]
    result = CliRunner().invoke(edge, args)
    assert result.exit_code == 0, result.output
    return out, result.stdout.splitlines()


def keys_add(lines: list[str]) -> str:
    (line,) = [line for line in lines if line.startswith("thonminh keys add ")]
    return line


def test_the_printed_line_registers_the_key_from_when_it_was_made(
    tmp_path: Path, served: str, capsys: pytest.CaptureFixture[str]
):
    out, printed = init(tmp_path)
    key = load_gateway_config(out).evidence_key_path
    os.utime(key, (MADE.timestamp(), MADE.timestamp()))  # a key made a while before it is registered
    shown = CliRunner().invoke(edge, ["key", "--config", str(out)])
    assert shown.exit_code == 0, shown.output
    line = keys_add(shown.stdout.splitlines())
    assert keys_add(printed).split(" --valid-from ")[0] == line.split(" --valid-from ")[0]  # init's, the same
    assert line.startswith(
        "thonminh keys add --url https://<criteria service>/api/v1 --admin-key <admin key> "
    )
    assert line.endswith(" --valid-from 2025-03-01T10:30:05Z")

    filled = line.replace("https://<criteria service>", served).replace("<admin key>", ADMIN_KEY)
    try:
        main(shlex.split(filled)[1:])
    except SystemExit as ended:
        assert not ended.code, capsys.readouterr()
    assert "2025-03-01T10:30:05Z .. open" in capsys.readouterr().out
    main(["keys", "list", "--url", served, "--api-key", READ_KEY, "--gateway", "klt-gw1"])
    listed = capsys.readouterr().out
    assert "klt-gw1" in listed and "village kha-ly-thuong  2025-03-01T10:30:05Z .. open" in listed


def test_the_line_says_where_the_url_and_admin_key_may_come_from(tmp_path: Path):
    _, printed = init(tmp_path)
    text = "\n".join(printed)
    assert "THONMINH_URL" in text and "THONMINH_ADMIN_KEY" in text
    made = keys_add(printed).rsplit(" --valid-from ", 1)[1]
    assert abs(datetime.fromisoformat(made).timestamp() - datetime.now(UTC).timestamp()) < 60
