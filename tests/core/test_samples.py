"""Every source folder ships a README and a sample config that passes check-config, and example configs pass."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge.config import load_gateway_config
from edge.sources.registry import load_source_class, source_kinds

ROOT = Path(__file__).resolve().parents[2]
SITE = """
[site]
village = "kha-ly-thuong"
gateway = "gw1"
latitude = 21.38
longitude = 106.57
"""


def test_the_gateway_sources_are_all_present():
    assert {"gateway", "uplink", "modem", "wifi", "lights"} <= set(source_kinds())


@pytest.mark.parametrize("kind", source_kinds())
def test_each_source_folder_has_readme_and_valid_sample(kind: str, tmp_path: Path):
    folder = ROOT / "edge" / "sources" / kind
    assert (folder / "README.md").is_file()
    sample = (folder / "sample.toml").read_text(encoding="utf-8")
    config_file = tmp_path / "gateway.toml"
    config_file.write_text(SITE + "\n" + sample, encoding="utf-8")
    # sample files may point at files beside them (inventories): resolve relative to the source folder
    for name in ("lights.example.csv", "lights.example.toml"):
        if (folder / name).exists():
            (tmp_path / name).write_text((folder / name).read_text(encoding="utf-8"), encoding="utf-8")
    config = load_gateway_config(config_file)
    instances = [cfg for k, cfg in config.source_instances() if k == kind]
    assert instances, f"{kind}/sample.toml configures no [sources.{kind}] instance"
    assert all(isinstance(cfg, load_source_class(kind).Config) for cfg in instances)


@pytest.mark.parametrize(
    "path", sorted(ROOT.glob("**/gateway*.toml")), ids=lambda p: str(p.relative_to(ROOT))
)
def test_shipped_gateway_configs_pass_check_config(path: Path):
    if ".venv" in path.parts:
        pytest.skip("not ours")
    load_gateway_config(path)
