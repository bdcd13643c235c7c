"""``thonminh edge ...``: the gateway's commands."""

from __future__ import annotations

import asyncio
import json
import signal
import sqlite3
import sys
import time
from datetime import UTC, datetime

import click

from edge.bufferopen import BufferDamagedError, as_agents_user, open_buffer
from edge.config import load_gateway_config
from edge.init import init_command
from edge.status import Lang
from edge.testrun import test_command
from thonminh.config import masked
from thonminh.errors import ConfigError

__all__ = ["edge"]

config_option = click.option(
    "--config",
    "-c",
    "config_path",
    required=True,
    type=click.Path(dir_okay=False),
    envvar="THONMINH_CONFIG",
    help="gateway.toml (or set THONMINH_CONFIG)",
)


@click.group()
def edge() -> None:
    """The village gateway."""


edge.add_command(init_command)
edge.add_command(test_command)


@edge.command("check-config")
@config_option
@click.option(
    "--static", is_flag=True, help="only check the file, not this machine (interfaces, serial ports, files)"
)
@click.option(
    "--print", "print_config", is_flag=True, help="print the effective settings (secrets masked) as JSON"
)
@click.option("--strict", is_flag=True, help="treat warnings as errors")
def check_config(config_path: str, static: bool, print_config: bool, strict: bool) -> None:
    """Validate the config (and, unless --static, what this machine has for it). Exit 2 on errors.

    Errors stop the gateway; warnings name what it survives but will not measure (a Wi-Fi tool missing).
    Each names where the value came from: the file, or the environment variable that set it.
    """
    config = load_gateway_config(config_path)
    problems = [] if static else config.environment_problems()
    warnings = config.static_warnings() + ([] if static else config.environment_warnings())
    if strict:
        problems, warnings = problems + warnings, []
    for warning in warnings:
        click.echo(f"warning: {config.origin(warning)}: {warning}", err=True)
    if problems:
        raise ConfigError("\n".join(f"{config.origin(problem)}: {problem}" for problem in problems))
    if print_config:
        click.echo(json.dumps(masked(config), indent=2, ensure_ascii=False, default=str))
    sources = config.source_instances()
    note = f" ({len(warnings)} warning(s))" if warnings else ""
    click.echo(
        f"ok: {config_path}: {len(sources)} source(s): "
        + ", ".join(f"{kind}:{cfg.name or kind}" for kind, cfg in sources)
        + note,
        err=True,
    )


@edge.command("run")
@config_option
def run(config_path: str) -> None:
    """Run the gateway until SIGTERM or SIGINT, then flush and stop cleanly."""
    from edge.agent import Agent
    from edge.buffer import BufferLocked
    from thonminh.logs import setup_logging

    config = load_gateway_config(config_path)
    setup_logging(config.log.level, fmt=config.log.format)

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await Agent(config).run(stop)

    try:
        asyncio.run(main())
    except BufferLocked as err:
        raise click.ClickException(str(err)) from err


def _ago(ms: int | None) -> str:
    if not ms:
        return "never"
    when = datetime.fromtimestamp(ms / 1000, tz=UTC).isoformat(timespec="seconds")
    return f"{when} ({max(0.0, time.time() - ms / 1000):.0f} s ago)"


lang_option = click.option(
    "--lang",
    type=click.Choice(["vi", "en"]),
    default=None,
    envvar="THONMINH_LANG",
    help="Vietnamese or English (default: English under an English locale, else Vietnamese)",
)


@edge.command("status")
@config_option
@click.option("--json", "as_json", is_flag=True, help="machine-readable output")
@lang_option
def status(config_path: str, as_json: bool, lang: Lang | None) -> None:
    """Each source's health and since when, the clock, InfluxDB and the backlog; also with the agent stopped."""
    from edge.clock import Clock
    from edge.status import agent_running, collect, default_lang, text

    config = load_gateway_config(config_path)
    buffer, damaged = None, None
    if config.buffer.path.exists():
        try:
            with open_buffer(config, readonly=True) as opened:
                buffer = opened.status()
        except BufferDamagedError as err:
            damaged = err.reason  # said beside the sources' health, which status exists to show
        except sqlite3.DatabaseError as err:
            # the agent's first start: the file is there before its tables; the backlog shows once they are
            if "no such table" not in str(err):
                raise click.ClickException(f"cannot read the buffer {config.buffer.path}: {err}") from err
    data = collect(
        config,
        buffer,
        running=agent_running(config.buffer.path),
        clock_synced=Clock.from_settings(config.clock).synced(),
        damaged=damaged,
    )
    if as_json:
        click.echo(json.dumps(data, ensure_ascii=False))
    else:
        click.echo(text(data, lang or default_lang(), tz=config.site.timezone))


@edge.command("key")
@config_option
def key(config_path: str) -> None:
    """The gateway's signing key: its fingerprint, its public key and how to register it with the criteria
    service (docs/evidence.md). Reads the key the agent (or ``edge init``) made; makes none."""
    from edge.init import registration
    from thonminh.evidencekeys import GatewayKey, grouped

    config = load_gateway_config(config_path)
    path = config.evidence_key_path
    try:
        found = GatewayKey.from_pem(path.read_text(), path)
    except FileNotFoundError:
        raise click.ClickException(
            f"no signing key at {path}: the agent makes it at its first start, or run thonminh edge init"
        ) from None
    except (OSError, ValueError) as err:
        raise click.ClickException(f"cannot read the signing key {path}: {err}") from err
    click.echo(f"signing key {path}, fingerprint {grouped(found.fingerprint)}")
    for line in registration(config, found):
        click.echo(line)


@edge.command("drain")
@config_option
@click.option("--timeout", "timeout_s", type=float, default=None, help="give up after this many seconds")
def drain(config_path: str, timeout_s: float | None) -> None:
    """Forward the whole backlog to InfluxDB with a progress bar, then exit (the agent must be stopped)."""
    from edge.clock import Clock
    from edge.forwarder import Forwarder
    from edge.signing import open_signer
    from thonminh.logs import setup_logging

    config = load_gateway_config(config_path)
    setup_logging("warning", fmt=config.log.format)
    clock = Clock.from_settings(config.clock)
    as_agents_user(config, "drain")  # it signs what it forwards, as the next manifests of the agent's chain
    buffer = open_buffer(config, exclusive=True)
    writer = config.influxdb.writer()
    try:
        if buffer.held and clock.synced():
            buffer.correct(clock.now_ms(), clock.monotonic())
        if buffer.held:
            click.echo(
                f"{buffer.held} points wait for the clock to be synchronised and stay buffered", err=True
            )
        signer = open_signer(config)
        forwarder = Forwarder(
            buffer, writer, config.forwarder, timeout_s=config.influxdb.timeout_s, signer=signer
        )
        moved = 0

        def progress(n: int) -> None:
            nonlocal moved
            moved += n
            bar.update(n)

        with click.progressbar(length=buffer.ready, label="draining", show_pos=True, file=sys.stderr) as bar:
            done = asyncio.run(forwarder.drain(on_progress=progress, deadline_s=timeout_s))
        # a point InfluxDB refused left the buffer too, for the dead letters: it is not one written
        refused = forwarder.refused_points
        said = f", {refused} refused by InfluxDB (see thonminh edge dead-letters list)" if refused else ""
        click.echo(
            f"{'done' if done else 'timed out'}: {moved - refused} written{said}, {buffer.points} left",
            err=True,
        )
        signer.stop()
    finally:
        writer.close()
        buffer.close()
    if not done or refused:
        raise SystemExit(1)


@edge.group("dead-letters")
def dead_letters() -> None:
    """Points InfluxDB refused (or that could not be encoded): list, requeue or purge them."""


@dead_letters.command("list")
@config_option
@click.option("--limit", type=int, default=100, show_default=True)
def dead_letters_list(config_path: str, limit: int) -> None:
    """Print dead letters, oldest first: id, when, error, and the line (or the point that could not encode)."""
    config = load_gateway_config(config_path)
    with open_buffer(config, readonly=True) as buffer:
        letters = buffer.dead_letters(limit=limit)
    for d in letters:
        click.echo(
            f"#{d.id} {_ago(d.at_ms)}\n  error: {d.error}\n  {'line' if d.line else 'point'}: "
            f"{d.line or d.point}"
        )
    click.echo(f"{len(letters)} dead letter(s) shown", err=True)


def _ids(ids: tuple[int, ...], all_: bool) -> list[int] | None:
    if not ids and not all_:
        raise click.UsageError("give dead-letter ids or --all")
    return None if all_ else list(ids)


@dead_letters.command("requeue")
@config_option
@click.argument("ids", nargs=-1, type=int)
@click.option("--all", "all_", is_flag=True, help="every dead letter that has a line")
def dead_letters_requeue(config_path: str, ids: tuple[int, ...], all_: bool) -> None:
    """Put dead letters back into the buffer (after fixing what InfluxDB refused). The agent must be stopped."""
    config = load_gateway_config(config_path)
    as_agents_user(config, "dead-letters requeue")
    with open_buffer(config, exclusive=True) as buffer:
        count = buffer.requeue_dead_letters(_ids(ids, all_))
    click.echo(f"requeued {count} point(s)")


@dead_letters.command("purge")
@config_option
@click.argument("ids", nargs=-1, type=int)
@click.option("--all", "all_", is_flag=True, help="every dead letter")
def dead_letters_purge(config_path: str, ids: tuple[int, ...], all_: bool) -> None:
    """Delete dead letters for good (they stay counted in rejected_total)."""
    config = load_gateway_config(config_path)
    as_agents_user(config, "dead-letters purge")
    with open_buffer(config, exclusive=False) as buffer:
        count = buffer.purge_dead_letters(_ids(ids, all_))
    click.echo(f"purged {count} dead letter(s)")
