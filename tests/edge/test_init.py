"""``thonminh edge init``: a first gateway.toml from flags or prompts, that ``check-config --static`` accepts."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from edge.cli import edge
from edge.config import load_gateway_config
from edge.init import detect_interfaces, detect_modem_ports, slug_of

FLAGS = [
    "--name",
    "Khả Lý Thượng",
    "--gateway",
    "klt-gw1",
    "--commune",
    "Tiên Dũng",
    "--province",
    "Bắc Giang",
    "--latitude",
    "21.38",
    "--longitude",
    "106.57",
    "--influx-url",
    "http://192.0.2.10:8086",
    "--influx-username",
    "gateway",
    "--influx-password",
    "s3cret",
    "--fiber-interface",
    "lo",
    "--modem-port",
    "/dev/serial/by-id/usb-Quectel_EG25-G-if02-port0",
    "--state-dir",
    "var",
]


def thonminh(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "thonminh.cli", *args], capture_output=True, text=True, timeout=60
    )


@pytest.mark.parametrize(
    ("name", "slug"),
    [
        ("Khả Lý Thượng", "kha-ly-thuong"),
        ("Đồng Đăng", "dong-dang"),
        ("  Bắc  Giang ", "bac-giang"),
        ("Thôn 3 / Ấp Mới", "thon-3-ap-moi"),
    ],
)
def test_a_name_as_people_write_it_becomes_a_slug(name: str, slug: str):
    assert slug_of(name) == slug


def test_flags_write_a_config_that_check_config_accepts(tmp_path: Path):
    out = tmp_path / "etc" / "gateway.toml"
    result = thonminh("edge", "init", "--no-input", "--output", str(out), *FLAGS)
    assert result.returncode == 0, result.stderr
    assert f"wrote {out} for Khả Lý Thượng (kha-ly-thuong), gateway klt-gw1" in result.stdout
    check = thonminh("edge", "check-config", "--static", "--config", str(out))
    assert check.returncode == 0, check.stderr
    config = load_gateway_config(out)
    site = config.site
    assert (site.name, site.village, site.gateway, site.commune, site.province) == (
        "Khả Lý Thượng",
        "kha-ly-thuong",
        "klt-gw1",
        "tien-dung",
        "bac-giang",
    )
    assert config.influxdb.url == "http://192.0.2.10:8086" and config.influxdb.username == "gateway"
    assert [(u.link, u.interface) for u in config.sources.uplink] == [("fiber", "lo")]
    assert config.sources.modem[0].port.endswith("EG25-G-if02-port0")
    assert stat.S_IMODE(out.stat().st_mode) == 0o600  # it holds a password


def test_an_existing_file_is_kept_unless_forced(tmp_path: Path):
    out = tmp_path / "gateway.toml"
    out.write_text("# the technician's own\n")
    kept = thonminh("edge", "init", "--no-input", "--output", str(out), *FLAGS)
    assert kept.returncode == 1 and f"{out} exists; give --force to replace it" in kept.stderr
    assert out.read_text() == "# the technician's own\n"
    forced = thonminh("edge", "init", "--no-input", "--force", "--output", str(out), *FLAGS)
    assert forced.returncode == 0, forced.stderr
    assert 'name = "Khả Lý Thượng"' in out.read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("flag", "value", "message"),
    [
        ("--gateway", "GW 1", "Invalid value for '--gateway': 'GW 1' is not a slug"),
        ("--name", "!!!", "Invalid value for '--name': the village's name '!!!' has no letters or digits"),
        ("--influx-url", "htp:/x", "Invalid value for '--influx-url': invalid URL 'htp:/x'"),
        (
            "--latitude",
            "north",
            "Invalid value for '--latitude': 'north' is not a latitude (a number from -90 to 90)",
        ),
        (
            "--latitude",
            "200",
            "Invalid value for '--latitude': '200' is not a latitude (a number from -90 to 90)",
        ),
        ("--latitude", "nan", "Invalid value for '--latitude': 'nan' is not a latitude"),
        (
            "--longitude",
            "inf",
            "Invalid value for '--longitude': 'inf' is not a longitude (a number from -180 to 180)",
        ),
        (
            "--commune",
            "!!!",
            "Invalid value for '--commune': the commune's name '!!!' has no letters or digits",
        ),
        ("--province", "???", "Invalid value for '--province': the province's name '???' has no letters"),
    ],
)
def test_a_bad_flag_is_named_without_a_traceback(tmp_path: Path, flag: str, value: str, message: str):
    args = list(FLAGS)
    args[args.index(flag) + 1] = value
    result = thonminh("edge", "init", "--no-input", "--output", str(tmp_path / "g.toml"), *args)
    assert result.returncode == 2 and message in result.stderr, result.stderr
    assert "Traceback" not in result.stderr and not (tmp_path / "g.toml").exists()
    missing = thonminh("edge", "init", "--no-input", "--output", str(tmp_path / "g.toml"), "--gateway", "g1")
    assert missing.returncode == 2 and "--name is needed with --no-input" in missing.stderr


def test_latitude_and_longitude_swapped_are_named_before_anything_is_written(tmp_path: Path):
    """The range is the config's own (``SiteConfig``): checked where the answer is read, not after every
    question, so no traceback and no lost answers."""
    args = list(FLAGS)
    args[args.index("--latitude") + 1], args[args.index("--longitude") + 1] = "106.57", "21.38"
    result = thonminh("edge", "init", "--no-input", "--output", str(tmp_path / "g.toml"), *args)
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    assert (
        "Invalid value for '--latitude': '106.57' is not a latitude (a number from -90 to 90)"
        in result.stderr
    )
    assert not (tmp_path / "g.toml").exists()


def test_prompts_ask_again_after_a_bad_answer_and_propose_the_slug(tmp_path: Path):
    out = tmp_path / "gateway.toml"
    answers = [
        "Khả Lý Thượng",  # name
        "",  # village slug: the proposal
        "GW 1",
        "klt-gw1",  # a bad gateway id, asked again
        "Tiên Dũng",
        "!!!",
        "",
        "Bắc Giang",  # commune, a district with no letters asked again, then none, province
        "200",
        "21.38",  # a latitude out of range, asked again
        "106.57",
        "http://192.0.2.10:8086",
        "lo",
        "",
        "",  # fiber interface, no 4G interface, no modem
        "",
        "",
        "",
        "",
        "",  # database (proposal), no user, no password, no lights, state dir (proposal)
    ]
    result = CliRunner().invoke(edge, ["init", "--output", str(out)], input="\n".join(answers) + "\n")
    assert result.exit_code == 0, result.output
    assert "[kha-ly-thuong]" in result.output  # the slug proposed
    assert "'GW 1' is not a slug" in result.output
    assert "the district's name '!!!' has no letters or digits" in result.output
    assert "'200' is not a latitude (a number from -90 to 90)" in result.output
    config = load_gateway_config(out)
    assert (config.site.village, config.site.gateway, config.site.district) == (
        "kha-ly-thuong",
        "klt-gw1",
        None,
    )
    assert config.influxdb.database == "thonminh" and config.state_dir == Path("/var/lib/thonminh")
    assert not config.sources.modem


def test_this_machines_modem_ports_and_interfaces_are_detected(tmp_path: Path):
    by_id = tmp_path / "by-id"
    by_id.mkdir()
    for name in (
        "usb-Quectel_EG25-G-if00-port0",
        "usb-Quectel_EG25-G-if02-port0",
        "usb-Quectel_EG25-G-if03-port0",
    ):
        os.symlink("../../ttyUSB0", by_id / name)
    assert detect_modem_ports(by_id)[0] == str(by_id / "usb-Quectel_EG25-G-if02-port0")
    assert detect_modem_ports(tmp_path / "absent") == []
    found = detect_interfaces()  # this machine's /sys/class/net
    names = set(os.listdir("/sys/class/net"))
    assert set(found.wired + found.cellular + found.wireless) <= names - {"lo"}
    if "eth0" in names:
        assert "eth0" in found.wired
