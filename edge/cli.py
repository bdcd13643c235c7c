"""``thonminh edge ...``: the gateway's commands."""

from __future__ import annotations

import json

import click

from edge.config import load_gateway_config
from thonminh.config import masked

__all__ = ["edge"]

config_option = click.option(
    "--config", "-c", "config_path", required=True, type=click.Path(dir_okay=False),
    envvar="THONMINH_CONFIG", help="gateway.toml (or set THONMINH_CONFIG)",
)


@click.group()
def edge() -> None:
    """The village gateway."""


@edge.command("check-config")
@config_option
def check_config(config_path: str) -> None:
    """Validate the config and print the effective settings, secrets masked. Exit 2 on errors."""
    config = load_gateway_config(config_path)
    click.echo(json.dumps(masked(config), indent=2, ensure_ascii=False, default=str))
    sources = config.source_instances()
    click.echo(f"ok: {config_path}: {len(sources)} source(s): " + ", ".join(
        f"{kind}:{cfg.name or kind}" for kind, cfg in sources), err=True)
