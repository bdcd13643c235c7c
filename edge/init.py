"""``thonminh edge init``: a first ``gateway.toml`` from a few answers, with this machine's devices proposed.

The village's name is kept as people write it (``site.name``) and turned into its slug (``Khả Lý Thượng`` ->
``kha-ly-thuong``); the modem's stable ``/dev/serial/by-id/`` path and the network interfaces are read from this
machine and proposed. Pure functions here; the prompts and flags live in ``edge/cli.py``. The file written
passes ``thonminh edge check-config --static`` (tested).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from edge.initconfig import Answers, check_coordinate, render_config
from thonminh.config import validate_http_url
from thonminh.contract import SLUG_MAX, check_slug, slugify

if TYPE_CHECKING:  # imported where used: init asks its questions before it needs either
    from edge.config import GatewayConfig
    from thonminh.evidencekeys import GatewayKey

__all__ = [
    "Answers",
    "init_command",
    "Interfaces",
    "detect_interfaces",
    "detect_modem_ports",
    "gateway_id_of",
    "render_config",
    "slug_of",
    "write_config",
]

#: The AT port of the modems we know: Quectel EC25/EG25 and SIMCom SIM7600 answer AT on USB interface 2.
_AT_INTERFACE = "-if02-"
#: What the proposed gateway id adds to the village's slug.
_GATEWAY_SUFFIX = "-gw1"


def slug_of(name: str, what: str = "the village's name") -> str:
    """The slug of a name as people write it, cut at a word to fit (``slugify``); ``ValueError`` when nothing
    usable is left."""
    slug = slugify(name)
    if not slug:
        raise ValueError(f"{what} {name!r} has no letters or digits to make a slug from")
    return check_slug(slug)


def gateway_id_of(village: str) -> str:
    """The proposed gateway id, ``<village>-gw1``, the village's slug cut at a word so that it fits."""
    return slugify(village, SLUG_MAX - len(_GATEWAY_SUFFIX)) + _GATEWAY_SUFFIX


def detect_modem_ports(by_id: Path = Path("/dev/serial/by-id")) -> list[str]:
    """Stable serial paths, the likely AT port first (see firmware_config/modem/README.md)."""
    try:
        names = sorted(p.name for p in by_id.iterdir())
    except OSError:
        return []
    return [str(by_id / n) for n in sorted(names, key=lambda n: _AT_INTERFACE not in n)]


@dataclass(frozen=True, slots=True)
class Interfaces:
    """This machine's network interfaces by what they likely are."""

    wired: list[str] = field(default_factory=list)
    cellular: list[str] = field(default_factory=list)
    wireless: list[str] = field(default_factory=list)


def detect_interfaces(sys_class_net: Path = Path("/sys/class/net")) -> Interfaces:
    """Wired (``eth0``, ``enp1s0``: the fiber ONT), cellular (``wwan0``, ``usb0``: the modem) and wireless.

    Virtual interfaces (loopback, bridges, tunnels) have no ``device`` link and are left out.
    """
    found = Interfaces()
    try:
        names = sorted(p.name for p in sys_class_net.iterdir())
    except OSError:
        return found
    for name in names:
        path = sys_class_net / name
        if name.startswith(("wwan", "usb")) or (path / "qmi").exists():
            found.cellular.append(name)
        elif (path / "wireless").exists() or name.startswith("wl"):
            found.wireless.append(name)
        elif (path / "device").exists() or name.startswith(("eth", "en")):
            found.wired.append(name)
    return found


def write_config(path: Path, text: str, *, force: bool, secret: bool) -> None:
    """Write ``text`` to ``path``; ``FileExistsError`` unless ``force``. 0600 when it holds a password."""
    if path.exists() and not force:
        raise FileExistsError(f"{path} exists; give --force to replace it")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600 if secret else 0o640)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text)


# -- the command ----------------------------------------------------------------------------------------------


def _check(validate: Callable[[str], object]) -> Callable[[str], str]:
    """A click ``value_proc``: the value if ``validate`` accepts it, else ``BadParameter`` (the prompt asks again)."""

    def proc(value: str) -> str:
        try:
            validate(value)
        except ValueError as err:
            raise click.BadParameter(str(err).removeprefix("Value error, ")) from None
        return value

    return proc


class _Asker:
    """Takes each answer from its flag (checked, naming the flag), else a prompt, else the proposal."""

    def __init__(self, params: dict[str, Any], *, interactive: bool) -> None:
        self.params = params
        self.interactive = interactive

    def __call__(
        self,
        key: str,
        text: str,
        check: Callable[[str], object] = str,
        *,
        default: str | None = None,
        required: bool = True,
        hide: bool = False,
    ) -> str | None:
        flag = "--" + key.replace("_", "-")
        given = self.params.get(key)
        if given is not None:
            try:
                check(str(given))
            except ValueError as err:
                raise click.BadParameter(str(err), param_hint=f"'{flag}'") from None
            return str(given)
        if self.interactive:
            answer = click.prompt(
                text,
                default=default or ("" if not required else None),
                value_proc=_check(check) if required else _optional(check),
                show_default=not hide,
                hide_input=hide,  # a password: not shown to whoever stands beside the technician
            )
            return str(answer) if answer != "" else None
        if default is None and required:
            raise click.UsageError(f"{flag} is needed with --no-input")
        return default or None


def _optional(check: Callable[[str], object]) -> Callable[[str], str]:
    checked = _check(check)
    return lambda value: value if value == "" else checked(value)


def _ask_all(ask: _Asker) -> Answers:
    name = ask("name", "The village's name, as people write it (e.g. Khả Lý Thượng)", slug_of)
    assert name is not None
    village = ask("village", "Village slug (a tag on every point)", check_slug, default=slug_of(name))
    gateway = ask("gateway", "Gateway id", check_slug, default=gateway_id_of(str(village)))
    place_slug = {
        key: partial(slug_of, what=f"the {key}'s name") for key in ("commune", "district", "province")
    }
    places = {
        key: ask(key, f"The {key}'s name (empty: none)", check, default="", required=False)
        for key, check in place_slug.items()
    }
    lat = ask(
        "latitude", "Latitude of the cultural house (e.g. 21.38)", partial(check_coordinate, "latitude")
    )
    lon = ask("longitude", "Longitude (e.g. 106.57)", partial(check_coordinate, "longitude"))
    assert lat is not None and lon is not None
    url = ask("influx_url", "InfluxDB URL (e.g. https://influx.province.example:8086)", validate_http_url)
    interfaces, ports = detect_interfaces(), detect_modem_ports()
    found = {
        "fiber_interface": next(iter(interfaces.wired), None),
        "cellular_interface": next(iter(interfaces.cellular), "wwan0" if ports else None),
        "modem_port": next(iter(ports), None),
    }
    optional = {
        key: ask(key, text, default=found[key] or "", required=False)
        for key, text in (
            (
                "fiber_interface",
                f"Fiber (Ethernet) interface; found: {', '.join(interfaces.wired) or 'none'}",
            ),
            ("cellular_interface", f"4G modem interface; found: {', '.join(interfaces.cellular) or 'none'}"),
            ("modem_port", f"Modem AT port; found: {', '.join(ports) or 'none'}"),
        )
    }
    return Answers(
        name=name,
        village=str(village),
        gateway=str(gateway),
        latitude=check_coordinate("latitude", lat),  # read as checked: "21,38" is 21.38
        longitude=check_coordinate("longitude", lon),
        influx_url=str(url),
        database=ask("influx_database", "InfluxDB database", default="thonminh") or "thonminh",
        username=ask("influx_username", "InfluxDB user (empty: none)", default="", required=False),
        password=ask(
            "influx_password",
            "InfluxDB password (empty: set THONMINH_INFLUXDB__PASSWORD later)",
            default="",
            required=False,
            hide=True,
        ),
        **{key: place_slug[key](value) if value else None for key, value in places.items()},
        **optional,
        lights_inventory=ask(
            "lights_inventory", "Light inventory file (empty: no lights)", default="", required=False
        ),
        state_dir=ask("state_dir", "State directory", default="/var/lib/thonminh") or "/var/lib/thonminh",
    )


_FLAGS = (
    ("name", "the village's name as people write it, e.g. 'Khả Lý Thượng'"),
    ("village", "the village's slug (default: from --name, e.g. kha-ly-thuong)"),
    ("gateway", "the gateway id, a slug (e.g. klt-gw1)"),
    ("commune", "the commune's name (made a slug)"),
    ("district", "the district's name (made a slug)"),
    ("province", "the province's name (made a slug)"),
    ("latitude", "latitude of the cultural house, e.g. 21.38"),
    ("longitude", "longitude, e.g. 106.57"),
    ("influx_url", "InfluxDB URL, e.g. https://influx.example:8086"),
    ("influx_database", "InfluxDB database (default thonminh)"),
    ("influx_username", "InfluxDB user"),
    ("influx_password", "InfluxDB password (or THONMINH_INFLUXDB__PASSWORD later)"),
    ("fiber_interface", "the fiber ONT's Ethernet interface (proposed: the first wired one)"),
    ("cellular_interface", "the 4G modem's interface (proposed: wwan*/usb*)"),
    ("modem_port", "the modem's AT port (proposed: /dev/serial/by-id/*-if02-*)"),
    ("lights_inventory", "the light inventory file, e.g. /etc/thonminh/lights.csv"),
    ("state_dir", "where the buffer and the sources' state live (default /var/lib/thonminh)"),
)


def _flag_options(command: Callable[..., None]) -> Callable[..., None]:
    for key, text in reversed(_FLAGS):
        command = click.option("--" + key.replace("_", "-"), key, default=None, help=text)(command)
    return command


@click.command("init")
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("/etc/thonminh/gateway.toml"),
    show_default=True,
    help="where to write",
)
@click.option("--force", is_flag=True, help="replace an existing file")
@click.option("--no-input", is_flag=True, help="never prompt: flags and what this machine shows only")
@_flag_options
def init_command(output: Path, force: bool, no_input: bool, **params: Any) -> None:
    """Write a first gateway.toml from a few answers (or flags), proposing this machine's modem and interfaces."""
    if output.exists() and not force:
        raise click.ClickException(f"{output} exists; give --force to replace it")
    answers = _ask_all(_Asker(params, interactive=not no_input))
    try:
        write_config(output, render_config(answers), force=force, secret=bool(answers.password))
    except OSError as err:
        raise click.ClickException(f"cannot write {output}: {err.strerror or err}") from err
    click.echo(f"wrote {output} for {answers.name} ({answers.village}), gateway {answers.gateway}")
    _signing_key(output)
    click.echo(f"next: thonminh edge check-config --config {output}; thonminh edge test --config {output}")


def _signing_key(config_path: Path) -> None:
    """Create the gateway's signing key where the agent looks for it, and say how to register it centrally."""
    from edge.config import load_gateway_config
    from thonminh.evidencekeys import GatewayKey, grouped

    config = load_gateway_config(config_path)
    path = config.evidence_key_path
    try:
        key, created = GatewayKey.load_or_create(path)
        owner = config.state_dir.stat()
        if (
            os.geteuid() == 0 and owner.st_uid != 0
        ):  # run as root for the agent's user: the key is that user's
            for mine in (path.parent, path):
                os.chown(mine, owner.st_uid, owner.st_gid)
    except (OSError, ValueError) as err:
        raise click.ClickException(f"cannot create the signing key {path}: {err}") from err
    click.echo(
        f"{'created' if created else 'kept'} the signing key {path}, fingerprint {grouped(key.fingerprint)}"
    )
    for line in registration(config, key):
        click.echo(line)


def key_made(path: Path) -> str:
    """When the key file was made, UTC ISO 8601: its modification time (the key is written once, never again)."""
    try:
        made = datetime.fromtimestamp(path.stat().st_mtime, tz=UTC)
    except OSError:
        return "<when the key was made>"
    return made.strftime("%Y-%m-%dT%H:%M:%SZ")


def registration(config: GatewayConfig, key: GatewayKey) -> list[str]:
    """What the province needs to register the gateway's key (``thonminh edge init``, ``thonminh edge key``):
    the whole ``thonminh keys add`` line. ``--valid-from`` is when the key was made: without it the key is
    valid from its registration, and what the gateway signed before would verify as ``expired_key``. The
    service's address and an admin key are the province's: placeholders (or its environment's)."""
    return [
        f"public key: {key.public_text}",
        "register it with the criteria service (the province puts in its address and an admin key, or sets "
        "THONMINH_URL and THONMINH_ADMIN_KEY and leaves out --url and --admin-key):",
        "thonminh keys add --url https://<criteria service>/api/v1 --admin-key <admin key> "
        f"--gateway {config.site.gateway} --village {config.site.village} --public-key {key.public_text} "
        f"--valid-from {key_made(config.evidence_key_path)}",
    ]
