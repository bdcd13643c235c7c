"""The ``thonminh`` command.

Subcommands live beside the code they drive (``edge/cli.py``, ``server/cli.py``, ...) and are imported only
when called, so the core never imports edge or server at import time and a gateway never loads FastAPI.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

import click

from thonminh import __version__
from thonminh.errors import ConfigError

__all__ = ["main", "cli"]

#: command name -> "module:attribute" of a click command or group
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "edge": ("edge.cli:edge", "the village gateway: init, check-config, test, run, status, drain, dead-letters"),
    "server": ("server.cli:server", "the criteria service and uptime API"),
    "report": ("server.report.cli:report", "the monthly dossier of a village or commune as a PDF"),
    "simulate": ("edge.simulate.cli:simulate", "a whole simulated village (lights, uplinks, modem, AP)"),
    "dashboards": ("dashboards.cli:dashboards", "build the Grafana dashboards or push them to a Grafana"),
    "contract": ("thonminh.contractcli:contract", "print the data contract, or --write it into docs/data-model.md"),
    "demo": ("thonminh.demo:demo", "the whole village in one command: services, simulator, gateway, API"),
}


class LazyGroup(click.Group):
    """A group whose subcommands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(SUBCOMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in SUBCOMMANDS:
            return None
        module_name, attr = SUBCOMMANDS[name][0].split(":")
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as err:
            if err.name and module_name.startswith(err.name):
                return _unavailable(name, f"{module_name} is not part of this installation")
            raise
        command: click.Command = getattr(module, attr)
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, SUBCOMMANDS[name][1]) for name in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


def _unavailable(name: str, why: str) -> click.Command:
    @click.command(name=name, help=f"(unavailable: {why})")
    def command() -> None:
        raise click.ClickException(why)

    return command


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="thonminh")
def cli() -> None:
    """thonminh: continuous, evidence-backed proof that a smart village's digital infrastructure works."""


def main(argv: list[str] | None = None) -> Any:
    """Console entry point. Configuration errors exit with code 2 and a message naming file and key."""
    try:
        result = cli.main(args=argv, prog_name="thonminh", standalone_mode=False)
    except ConfigError as err:
        click.echo(f"error: {err}", err=True)
        sys.exit(2)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.ClickException as err:
        err.show()
        sys.exit(err.exit_code)
    except click.exceptions.Exit as err:
        sys.exit(err.exit_code)
    if isinstance(result, int) and not isinstance(result, bool):
        sys.exit(result)
    return result


if __name__ == "__main__":
    main()
