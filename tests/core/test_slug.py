"""One slug rule (the contract's), one site-tags function: every config that takes a tag value uses them."""

from __future__ import annotations

import pytest

from edge.config import SiteConfig
from edge.sources.modem.config import ModemConfig
from edge.sources.uplink.config import UplinkConfig
from edge.sources.wifi.config import WifiConfig
from thonminh.config import format_validation_error
from thonminh.contract import check_slug, site_tags

GOOD = ["kha-ly-thuong", "gw1", "4g", "a", "x" * 64]
# "gw1\n" passed the old per-module checks (re.match with '$' allows a trailing newline) and broke the line
BAD = ["Kha-Ly", "kha ly", "-x", "x-", "", "x" * 65, "ký", "a_b", "a.b", "gw1\n"]


@pytest.mark.parametrize("value", GOOD)
def test_slugs(value: str):
    assert check_slug(value) == value


@pytest.mark.parametrize("value", BAD)
def test_not_slugs(value: str):
    with pytest.raises(ValueError, match=r"is not a slug \(lower-case ASCII letters, digits and '-'"):
        check_slug(value)


def _error(model: type, **data: object) -> str:
    with pytest.raises(Exception) as info:
        model(**data)
    return format_validation_error(info.value, "gateway.toml")  # type: ignore[arg-type]


def test_every_tag_value_in_the_config_follows_the_same_rule():
    """The site, a modem's link and id, an uplink's link and a Wi-Fi AP all refuse 'EC 25' with one message."""
    expected = "'EC 25' is not a slug (lower-case ASCII letters, digits and '-', e.g. 'kha-ly-thuong')"
    site = _error(SiteConfig, village="EC 25", gateway="gw1", latitude=0, longitude=0)
    modem = _error(ModemConfig, port="/dev/ttyUSB2", id="EC 25", link="EC 25")
    uplink = _error(UplinkConfig, link="EC 25", targets=[{"kind": "tcp", "host": "127.0.0.1", "port": 80}])
    wifi = _error(WifiConfig, backend="ubus", ap="EC 25")
    assert f"gateway.toml: village: {expected}" in site
    assert f"gateway.toml: id: {expected}" in modem and f"gateway.toml: link: {expected}" in modem
    assert f"gateway.toml: link: {expected}" in uplink
    assert f"gateway.toml: ap: {expected}" in wifi


def test_a_trailing_newline_is_not_a_slug_in_the_config():
    error = _error(SiteConfig, village="kha-ly-thuong", gateway="gw1\n", latitude=0, longitude=0)
    assert "gateway.toml: gateway: 'gw1\\n' is not a slug" in error


def test_the_site_config_tags_are_the_contracts_site_tags():
    site = SiteConfig(village="v", gateway="g", province="bac-giang", latitude=21.0, longitude=106.0)
    assert (
        site.tags()
        == site_tags("v", "g", province="bac-giang")
        == {"village": "v", "gateway": "g", "province": "bac-giang"}
    )
