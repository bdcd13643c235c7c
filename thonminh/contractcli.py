"""``thonminh contract``: the data contract as Markdown."""

from __future__ import annotations

from pathlib import Path

import click

from thonminh.contractdoc import contract_markdown, update_doc

__all__ = ["contract"]


@click.command()
@click.option(
    "--write",
    "doc",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="rewrite the generated section of this file (docs/data-model.md)",
)
def contract(doc: Path | None) -> None:
    """Print the measurements, tags and fields of the data contract."""
    if doc is None:
        click.echo(contract_markdown())
    else:
        click.echo(f"{doc}: {'updated' if update_doc(doc) else 'up to date'}")
