"""``thonminh edge init``'s answers as a technician gives them: a long village name (its slugs proposed cut at a
word, within the slug limit), a slug too long (refused naming the length), a latitude with a decimal comma, and
a password typed unseen."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from edge.cli import edge
from edge.config import load_gateway_config
from edge.init import gateway_id_of, slug_of
from edge.initconfig import check_coordinate
from thonminh.contract import SLUG_MAX, check_slug

LONG_NAME = " ".join(["Thôn Khả Lý Thượng"] * 12)  # 227 characters
REST = [
    "--latitude",
    "21.38",
    "--longitude",
    "106.57",
    "--influx-url",
    "http://192.0.2.10:8086",
    "--state-dir",
    "s",
]


def typed(*first: str, state: Path, user: str = "", password: str = "") -> list[str]:
    """Prompt answers: ``first`` (name to InfluxDB URL), then the proposals, ``state`` for the state directory
    (the proposal is /var/lib/thonminh, where the signing key would be made)."""
    return [*first, "", "", "", "", user, password, "", str(state)]


def init(out: Path, *args: str, answers: list[str] | None = None) -> Result:
    no_input = [] if answers is not None else ["--no-input"]
    stdin = None if answers is None else "\n".join(answers) + "\n"
    return CliRunner().invoke(edge, ["init", *no_input, "--output", str(out), *args], input=stdin)


def test_the_slug_limit_is_the_contracts():
    assert check_slug("a" * SLUG_MAX)
    with pytest.raises(ValueError, match="not a slug"):
        check_slug("a" * (SLUG_MAX + 1))


def test_a_long_name_proposes_slugs_cut_at_a_word_that_fit():
    whole = "-".join(["thon-kha-ly-thuong"] * 12) + "-"
    village = slug_of(LONG_NAME)
    assert len(village) <= SLUG_MAX and whole.startswith(village + "-"), village  # whole words only
    assert len(village) > SLUG_MAX - len("-thuong")  # as many words as fit
    gateway = gateway_id_of(village)
    assert len(gateway) <= SLUG_MAX and gateway.endswith("-gw1") and whole.startswith(gateway[:-3]), gateway
    assert gateway_id_of("kha-ly-thuong") == "kha-ly-thuong-gw1"
    assert gateway_id_of("x" * 64) == "x" * 60 + "-gw1"  # one word: cut where it must
    assert slug_of("Khả " + "x" * 70) == "kha"


def test_a_long_name_without_input_writes_a_config(tmp_path: Path):
    out = tmp_path / "gateway.toml"
    result = init(out, "--name", LONG_NAME, *REST)
    assert result.exit_code == 0, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    site = load_gateway_config(out).site
    assert site.name == LONG_NAME and site.gateway == gateway_id_of(site.village)
    assert len(site.gateway) <= SLUG_MAX and len(site.village) <= SLUG_MAX


def test_a_long_name_interactively_accepts_the_proposals(tmp_path: Path):
    out = tmp_path / "gateway.toml"
    answers = [LONG_NAME, "", "", "", "", "", "21.38", "106.57", "http://192.0.2.10:8086"]
    result = init(out, answers=typed(*answers, state=tmp_path / "s"))
    assert result.exit_code == 0, result.output
    assert "is not a slug" not in result.output and "Error" not in result.output
    site = load_gateway_config(out).site
    assert site.gateway == gateway_id_of(slug_of(LONG_NAME))


@pytest.mark.parametrize("flag", ["--gateway", "--village"])
def test_a_slug_too_long_is_refused_naming_the_length(tmp_path: Path, flag: str):
    too_long = "-".join(["kha-ly-thuong"] * 5) + "-gw1"  # 73 characters, otherwise a slug
    result = init(tmp_path / "g.toml", "--name", "Khả Lý Thượng", flag, too_long, *REST)
    assert result.exit_code == 2, result.output
    assert f"Invalid value for '{flag}'" in result.output
    assert "at most 64 characters, this one has 73" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_a_slug_too_long_typed_is_asked_again_naming_the_length(tmp_path: Path):
    out = tmp_path / "gateway.toml"
    answers = [
        "Khả Lý Thượng",
        "",
        "x" * 68,
        "klt-gw1",
        "",
        "",
        "",
        "21.38",
        "106.57",
        "http://192.0.2.10:8086",
    ]
    result = init(out, answers=typed(*answers, state=tmp_path / "s"))
    assert result.exit_code == 0, result.output
    assert "at most 64 characters, this one has 68" in result.output
    assert load_gateway_config(out).site.gateway == "klt-gw1"


@pytest.mark.parametrize(("typed", "read"), [("21,38", 21.38), ("-8,5", -8.5), (" 21,38 ", 21.38)])
def test_a_decimal_comma_is_read_as_the_point(typed: str, read: float):
    assert check_coordinate("latitude", typed) == read


def test_a_latitude_with_a_decimal_comma_is_written_with_the_point(tmp_path: Path):
    out = tmp_path / "gateway.toml"
    rest = list(REST)
    rest[1], rest[3] = "21,38", "106,57"
    result = init(out, "--name", "Khả Lý Thượng", *rest)
    assert result.exit_code == 0, result.output
    site = load_gateway_config(out).site
    assert (site.latitude, site.longitude) == (21.38, 106.57)
    answers = ["Khả Lý Thượng", "", "", "", "", "", "21,38", "106,57", "http://192.0.2.10:8086"]
    asked = init(tmp_path / "asked.toml", answers=typed(*answers, state=tmp_path / "s"))
    assert asked.exit_code == 0, asked.output
    assert load_gateway_config(tmp_path / "asked.toml").site.latitude == 21.38


def test_the_password_is_typed_unseen(tmp_path: Path):
    out = tmp_path / "gateway.toml"
    answers = ["Khả Lý Thượng", "", "", "", "", "", "21.38", "106.57", "http://192.0.2.10:8086"]
    result = init(
        out, answers=typed(*answers, state=tmp_path / "s", user="gateway", password="pa55-word-typed")
    )
    assert result.exit_code == 0, result.output
    assert "InfluxDB password" in result.output and "pa55-word-typed" not in result.output
    assert load_gateway_config(out).influxdb.password.get_secret_value() == "pa55-word-typed"
