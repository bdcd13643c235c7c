"""The agent's buffer opened by a command (``edge drain``, ``edge dead-letters``, ``edge status``, ``edge test
--send``) as the agent opens it, with a refusal in words where the agent holds it or the file is damaged."""

from __future__ import annotations

import os
import pwd
from pathlib import Path
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from edge.buffer import Buffer
    from edge.config import GatewayConfig

__all__ = ["BufferDamagedError", "as_agents_user", "open_buffer"]


class BufferDamagedError(click.ClickException):
    """The buffer is not a database or fails SQLite's quick check: said in words (exit 1, no traceback), the
    file left as it is. Setting it aside is the agent's, at its next start (``Buffer(set_aside_damaged=True)``):
    a command doing it beside a crash-looping agent, or as root, would only add a second way."""

    def __init__(self, path: Path, reason: str) -> None:
        from edge.status import damaged_buffer, default_lang

        super().__init__(damaged_buffer(path, reason, default_lang()))
        self.reason = reason


def as_agents_user(config: GatewayConfig, command: str) -> None:
    """Refuse ``command`` (``drain``, ``test ... --send``, ``dead-letters requeue|purge``) run by another user than
    the one who owns the agent's state directory. Run by root (plain ``sudo``), it leaves files beside the buffer
    (SQLite's journal) that the agent cannot write; and what ``drain`` and ``test --send`` forward is signed as the
    next manifests of the gateway's chain, whose live state is on tmpfs under the agent's user id: root's would be
    a chain of its own beside the agent's (a fork, and numbers missing from both)."""
    try:
        owner = config.state_dir.stat().st_uid
    except FileNotFoundError:
        return  # nothing of the agent's yet: whoever runs this starts it
    if owner == os.geteuid():
        return
    try:
        user = pwd.getpwuid(owner).pw_name
    except KeyError:
        user = str(owner)
    raise click.ClickException(
        f"{config.state_dir} is {user}'s: run it as the agent's user (sudo -u {user} thonminh edge {command}), "
        "whose files these are and whose tmpfs holds the signing chain's live state"
    )


def open_buffer(
    config: GatewayConfig, *, exclusive: bool = False, readonly: bool = False, create: bool = False
) -> Buffer:
    """The agent's buffer as the agent opens it; ``create`` (``edge test --send``) makes it if the agent has not."""
    # imported here: every ``thonminh edge`` command imports this module, most never open the buffer
    from edge.buffer import Buffer, BufferDamaged, BufferLocked
    from edge.clock import read_boot_id

    if not create and not config.buffer.path.exists():
        raise click.ClickException(f"no buffer at {config.buffer.path} (has the agent run yet?)")
    try:
        return Buffer(
            config.buffer.path,
            max_bytes=config.buffer.max_bytes,
            boot_id=read_boot_id(),
            dead_letters_max=config.buffer.dead_letters_max,
            row_points=config.buffer.row_points,
            # the agent's intake: read beside it, taken over when it is stopped; never two writers
            intake=config.buffer.intake_path() if exclusive or readonly else None,
            exclusive=exclusive,
            readonly=readonly,
        )
    except BufferLocked as err:
        raise click.ClickException(f"{err}: stop the agent first") from err
    except BufferDamaged as err:
        raise BufferDamagedError(err.path, err.reason) from err
