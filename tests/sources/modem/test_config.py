"""Bad modem config: static errors at check-config, and what is wrong with the port on this machine."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from edge.config import load_gateway_config
from edge.sources.modem.config import ModemConfig
from thonminh.errors import ConfigError

SITE = '[site]\nvillage = "kha-ly-thuong"\ngateway = "gw1"\nlatitude = 21.38\nlongitude = 106.57\n'


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "gateway.toml"
    path.write_text(SITE + text)
    return path


def test_check_config_rejects_a_relative_port(tmp_path: Path):
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "thonminh.cli",
            "edge",
            "check-config",
            "-c",
            str(write(tmp_path, '[sources.modem]\nport = "ttyUSB2"\n')),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 2
    assert "gateway.toml: sources.modem[0].port: 'ttyUSB2' is not an absolute device path" in run.stderr


@pytest.mark.parametrize(
    ("snippet", "message"),
    [
        ("[sources.modem]\n", "sources.modem[0].port: required value is missing"),
        (
            '[sources.modem]\nport = "/dev/ttyUSB2"\nbaudrate = 12345\n',
            "sources.modem[0].baudrate: 12345 is not a standard baud rate",
        ),
        (
            '[sources.modem]\nport = "/dev/ttyUSB2"\nvendor = "huawei"\n',
            "sources.modem[0].vendor: Input should be 'auto', 'quectel', 'simcom' or 'generic'",
        ),
        (
            '[sources.modem]\nport = "/dev/ttyUSB2"\ncommand_timeout_s = 30\n',
            "sources.modem[0]: command_timeout_s (30.0) must be below interval_s",
        ),
        (
            '[sources.modem]\nport = "/dev/ttyUSB2"\nid = "EC 25"\n',
            "sources.modem[0].id: 'EC 25' is not a slug",
        ),
    ],
)
def test_static_errors_name_the_key(tmp_path: Path, snippet: str, message: str):
    with pytest.raises(ConfigError) as info:
        load_gateway_config(write(tmp_path, snippet))
    assert message in str(info.value)


def test_port_problems_on_this_machine(tmp_path: Path):
    missing = ModemConfig(port="/dev/serial/by-id/usb-Quectel_EC25-if02-port0")
    assert missing.environment_problems("sources.modem") == [
        "sources.modem.port: /dev/serial/by-id/usb-Quectel_EC25-if02-port0 does not exist (modem unplugged or not "
        "enumerated yet? see firmware_config/modem/README.md)"
    ]
    plain_file = tmp_path / "ttyUSB2"
    plain_file.write_text("")
    assert ModemConfig(port=str(plain_file)).environment_problems("sources.modem[0]") == [
        f"sources.modem[0].port: {plain_file} is not a serial device"
    ]
    master, slave = os.openpty()
    try:
        assert ModemConfig(port=os.ttyname(slave)).environment_problems("sources.modem") == []
    finally:
        os.close(master)
        os.close(slave)


def test_sample_config_and_instance_names(tmp_path: Path):
    sample = (Path(__file__).parents[3] / "edge" / "sources" / "modem" / "sample.toml").read_text()
    [(kind, config)] = load_gateway_config(write(tmp_path, sample)).source_instances()
    assert (kind, config.name, config.link, config.vendor) == ("modem", config.id, "4g", "auto")
