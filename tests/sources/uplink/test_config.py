"""Bad uplink config fails with the key path: statically at check-config, and on this machine at init."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from edge.config import load_gateway_config
from edge.sources.uplink.source import UplinkSource
from thonminh.errors import ConfigError

SITE = '[site]\nvillage = "kha-ly-thuong"\ngateway = "gw1"\nlatitude = 21.38\nlongitude = 106.57\n'
GOOD_LINK = (
    '[[sources.uplink]]\nlink = "fiber"\ninterface = "lo"\n'
    '[[sources.uplink.targets]]\nkind = "tcp"\nhost = "127.0.0.1"\nport = 80\n'
)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "gateway.toml"
    path.write_text(SITE + text)
    return path


def test_check_config_names_a_tcp_target_without_port(tmp_path: Path):
    bad = (
        GOOD_LINK + '[[sources.uplink]]\nlink = "4g"\ninterface = "lo"\n'
        '[[sources.uplink.targets]]\nkind = "icmp"\nhost = "127.0.0.1"\n'
        '[[sources.uplink.targets]]\nkind = "tcp"\nhost = "127.0.0.1"\n'
    )
    run = subprocess.run(
        [sys.executable, "-m", "thonminh.cli", "edge", "check-config", "-c", str(write(tmp_path, bad))],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 2, run.stderr
    assert "gateway.toml: sources.uplink[1].targets[1].port: a tcp target needs 'port'" in run.stderr


@pytest.mark.parametrize(
    ("snippet", "message"),
    [
        (
            '[[sources.uplink]]\nlink = "fiber"\ninterface = "lo"\n[[sources.uplink.targets]]\nkind = "http"\n',
            "sources.uplink[0].targets[0].url: an http target needs 'url'",
        ),
        (
            '[[sources.uplink]]\nlink = "fiber"\ninterface = "lo"\n[[sources.uplink.targets]]\nkind = "dns"\n',
            "sources.uplink[0].targets[0].host: a dns target needs 'host'",
        ),
        (
            '[[sources.uplink]]\nlink = "fiber"\ninterface = "lo"\n[[sources.uplink.targets]]\nkind = "http"\n'
            'url = "ftp://x/"\n',
            "sources.uplink[0].targets[0].url: invalid URL 'ftp://x/'",
        ),
        (
            '[[sources.uplink]]\nlink = "fiber"\ninterface = "lo"\n[[sources.uplink.targets]]\nkind = "smtp"\n',
            "sources.uplink[0].targets[0].kind: Input should be 'tcp', 'http', 'dns' or 'icmp'",
        ),
        (
            '[[sources.uplink]]\nlink = "fiber"\n[[sources.uplink.targets]]\nkind = "icmp"\nhost = "1.1.1.1"\n',
            "sources.uplink[0]: set 'interface' or 'source_address'",
        ),
        (
            GOOD_LINK.replace('interface = "lo"', 'interface = "lo"\ntimeout_s = 10'),
            "sources.uplink[0]: timeout_s (10.0) must be below interval_s (10.0)",
        ),
        (
            GOOD_LINK.replace('interface = "lo"', 'interface = "lo"\nmin_ok = 2'),
            "sources.uplink[0]: min_ok (2) is more than the 1 target(s)",
        ),
        (
            GOOD_LINK.replace('"fiber"', '"Fiber Optic"'),
            "sources.uplink[0].link: 'Fiber Optic' is not a slug",
        ),
        (
            GOOD_LINK.replace('"lo"', '"eth0/1"'),
            "sources.uplink[0].interface: 'eth0/1' is not a valid interface",
        ),
        (
            GOOD_LINK.replace('interface = "lo"', 'source_address = "10.0.0.300"'),
            "sources.uplink[0].source_address: '10.0.0.300' is not an IP address",
        ),
        (
            '[[sources.uplink]]\nlink = "fiber"\ninterface = "lo"\ntargets = []\n',
            "sources.uplink[0].targets: List should have at least 1 item",
        ),
    ],
)
def test_static_errors_name_the_key(tmp_path: Path, snippet: str, message: str):
    with pytest.raises(ConfigError) as info:
        load_gateway_config(write(tmp_path, snippet))
    assert message in str(info.value)


def test_a_single_table_is_one_instance_named_after_its_link(tmp_path: Path):
    config = load_gateway_config(write(tmp_path, GOOD_LINK.replace("[[sources.uplink]]", "[sources.uplink]")))
    [(kind, cfg)] = config.source_instances()
    assert (kind, cfg.name, cfg.link, cfg.targets[0].label) == (
        "uplink",
        "fiber",
        "fiber",
        "tcp 127.0.0.1:80",
    )


async def test_init_rejects_an_unknown_interface_naming_its_key(tmp_path: Path, make_ctx):
    text = GOOD_LINK + GOOD_LINK.replace('"fiber"', '"4g"').replace('"lo"', '"wwan7"')
    config = load_gateway_config(write(tmp_path, text))
    (_, path0, link0), (_, path1, link1) = config.source_entries()
    assert (path0, path1) == ("sources.uplink[0]", "sources.uplink[1]")
    assert (await UplinkSource(link0, make_ctx(key_path=path0)).init()) is None
    with pytest.raises(ConfigError) as info:
        await UplinkSource(link1, make_ctx(key_path=path1)).init()
    assert "sources.uplink[1].interface: no network interface 'wwan7' on this machine" in str(info.value)
    # a USB modem's interface may be absent at start: allowed when said so
    allowed = link1.model_copy(update={"allow_missing_interface": True})
    assert await UplinkSource(allowed, make_ctx()).init() is None


async def test_init_rejects_a_source_address_that_is_not_ours(make_ctx):
    config = UplinkSource.Config(
        link="fiber", source_address="192.0.2.254", targets=[{"kind": "icmp", "host": "127.0.0.1"}]
    )
    with pytest.raises(
        ConfigError, match=r"sources.uplink\[3\].source_address: 192.0.2.254 is not an address"
    ):
        await UplinkSource(config, make_ctx(key_path="sources.uplink[3]")).init()
