"""The ``thonminh`` command.

Subcommands live beside the code they drive (``edge/cli.py``, ``server/cli.py``, ``lab/demo.py``, ...) and are
imported only when called, so the core never imports edge, server or the tools in ``lab`` at import time and a
gateway never loads FastAPI. A command whose part is not installed says which extra brings it.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

import click

from thonminh import __version__
from thonminh.errors import ConfigError

__all__ = ["main", "cli"]

#: command name -> ("module:attribute" of a click command or group, help, the extra that installs what it needs)
SUBCOMMANDS: dict[str, tuple[str, str, str | None]] = {
    "edge": (
        "edge.cli:edge",
        "the village gateway: init, check-config, test, run, status, drain, dead-letters",
        None,
    ),
    "server": ("server.cli:server", "the criteria service and uptime API", "server"),
    "report": ("server.report.cli:report", "the monthly dossier of a village or commune as a PDF", "server"),
    "simulate": (
        "lab.simulate.cli:simulate",
        "a whole simulated village (lights, uplinks, modem, AP)",
        "lab",
    ),
    "dashboards": (
        "dashboards.cli:dashboards",
        "build the Grafana dashboards or push them to a Grafana",
        "dashboards",
    ),
    "contract": (
        "thonminh.contractcli:contract",
        "print the data contract, or --write it into docs/data-model.md",
        None,
    ),
    "keys": (
        "server.evidence.cli:keys",
        "the gateways' public keys: add, list, retire (through the service's API)",
        "server",
    ),
    "verify": (
        "server.evidence.cli:verify",
        "verify a village's samples against its gateways' signed manifests",
        "server",
    ),
    "demo": ("lab.demo:demo", "the whole village in one command: services, simulator, gateway, API", "lab"),
}


class LazyGroup(click.Group):
    """A group whose subcommands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(SUBCOMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in SUBCOMMANDS:
            return None
        target, _, extra = SUBCOMMANDS[name]
        module_name, attr = target.split(":")
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as err:
            if not err.name or (extra is None and not part_of(module_name, err.name)):
                raise
            return _unavailable(name, missing_install(module_name, err.name, extra))
        command: click.Command = getattr(module, attr)
        return command

    def invoke(self, ctx: click.Context) -> Any:
        # a command that imports its dependencies when it runs (``server`` imports uvicorn then) names its extra too
        try:
            return super().invoke(ctx)
        except ModuleNotFoundError as err:
            name = ctx.invoked_subcommand or ""
            target, _, extra = SUBCOMMANDS.get(name, ("", "", None))
            if extra is None or not err.name:
                raise
            raise click.ClickException(missing_install(target.split(":")[0], err.name, extra)) from err

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, SUBCOMMANDS[name][1]) for name in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


def part_of(module_name: str, package: str) -> bool:
    return module_name == package or module_name.startswith(f"{package}.")


def missing_install(module_name: str, missing: str, extra: str | None) -> str:
    """The message of a command whose code or dependencies this installation leaves out, naming the extra."""
    if part_of(module_name, missing):
        what = f"{module_name} is not part of this installation"
    else:
        what = f"{module_name} needs the module {missing}, which is not installed"
    if extra is None:
        return what
    return f"{what}: install thonminh with its '{extra}' extra (from a checkout: pip install -e '.[{extra}]')"


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
        for problem in str(err).splitlines():  # one line per problem, each grep-able as an error
            click.echo(f"error: {problem}", err=True)
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
