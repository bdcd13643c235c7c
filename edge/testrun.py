"""``thonminh edge test``: one sample of every configured source, as line protocol, like ``telegraf --test``.

Each source is built as the agent builds it (``Agent.keyed_specs`` and ``GatewayConfig.source_context``), with
its state in a temporary directory so a running agent's state (the Wi-Fi salt, the light journal) is never
touched. Polled sources take one sample; a push source (the street lights) is described, or listened to for
``--listen`` seconds.

With ``--send`` the points go the agent's way: into its buffer, then forwarded by its forwarder, signed with the
gateway's key as the next manifests of its chain (edge/signing.py), and read back. So the criteria service
verifies them, and the agent's next start continues the chain without a gap or a number used twice. That chain
has one writer at a time, and its live state is on tmpfs under the user's id: so ``--send`` holds the buffer's
lock as ``edge drain`` does (refused while the agent runs, and the agent cannot start meanwhile), and runs as the
user who owns the state directory (another user would start a chain of its own). Points it could not write stay
in the buffer, signed, and the agent sends them. The day's ``wifi_daily`` count is not sent: a test counts from
a fresh state and would replace the day's count the agent keeps.
"""

from __future__ import annotations

import asyncio
import logging
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import click

from edge.agent import Agent
from edge.clock import Clock
from edge.config import GatewayConfig
from edge.sources.base import HealthDetail, HealthState, PolledSource, PushSource, Source, SourceConfig
from thonminh.contract import WIFI_DAILY, Point
from thonminh.errors import InfluxError
from thonminh.influxql import Select, conditions, from_ref, tag_equals, time_range
from thonminh.lineprotocol import encode_line

if TYPE_CHECKING:
    from edge.buffer import Buffer
    from edge.forwarder import Forwarder

__all__ = ["Sampled", "readback", "sample_all", "test_command"]

log = logging.getLogger(__name__)

#: Measurements ``--send`` leaves to the agent: running counts that a test's fresh state would overwrite.
AGENT_OWNED = frozenset({WIFI_DAILY.name})


@dataclass
class Sampled:
    """What one source instance gave: points, or why it gave none; how it said it is, and what it logged."""

    name: str
    key_path: str
    points: list[Point] = field(default_factory=list)
    note: str | None = None
    failed: bool = False
    health: tuple[HealthState, HealthDetail] | None = None
    said: list[str] = field(default_factory=list)
    #: What ``check-config`` finds wrong on this machine for it (a port that does not exist): the cause of a
    #: DOWN, said better than the error it gives (``[Errno 2] could not open port``).
    problems: list[str] = field(default_factory=list)

    @property
    def down(self) -> str | None:
        """Why the source does not work, when it said so: its health ``down`` (a modem that cannot be opened),
        or this sample's failure named before the hysteresis declares it (an uplink whose targets refused)."""
        if self.health is None:
            return None
        state, detail = self.health
        reason = detail.get("error") or detail.get("reason")
        if state == "down" or (state == "unknown" and reason):
            return str(reason or ", ".join(f"{k}={v}" for k, v in detail.items() if v is not None))
        return None


class _Said(logging.Handler):
    """Keeps what a source logs (warnings and worse) for its summary: each message once, since a source may log
    one problem from ``init`` and again from its sample; printed with the source's name (``_report``)."""

    def __init__(self, entry: Sampled) -> None:
        super().__init__(logging.WARNING)
        self.entry = entry

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if message not in self.entry.said:
            self.entry.said.append(message)


async def _sample_one(source: Source, listen_s: float, entry: Sampled) -> None:
    if isinstance(source, PushSource) and not listen_s:
        # not even init: a push source's close writes the interval since init, a sample of nothing
        entry.note = (
            f"push source: it receives instead of sampling (a sample every {source.config.interval_s:g} s); "
            f"give --listen {source.config.interval_s + 10:g} (with the agent stopped) to wait for one"
        )
        return
    await source.init()
    if isinstance(source, PolledSource):
        entry.points.extend(await source.sample())
    elif isinstance(source, PushSource):
        try:
            await asyncio.wait_for(source.run(), listen_s)
        except TimeoutError:
            pass
        entry.note = f"push source: listened {listen_s:g} s"


def _build(
    config: GatewayConfig,
    cls: type[Source],
    cfg: SourceConfig,
    key_path: str,
    state_dir: Path,
    entry: Sampled,
    clock: Clock,
) -> Source:
    async def emit(points: Sequence[Point]) -> None:
        entry.points.extend(points)

    def reject(reason: str, sample: bytes | str | None) -> None:
        click.echo(f"# {entry.name}: rejected input: {reason}", err=True)

    def health(state: HealthState, detail: HealthDetail) -> None:
        entry.health = (state, detail)

    name = cfg.name or cls.kind
    directory = state_dir / cls.kind / name
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    ctx = config.source_context(
        cls,
        key_path,
        emit=emit,
        logger=logging.getLogger(f"edge.sources.{cls.kind}.{name}"),
        state_dir=directory,
        now_ms=clock.now_ms,
        monotonic=clock.monotonic,
        clock_synced=clock.synced,
        reject=reject,
        health=health,
    )
    return cls(cfg, ctx)


@contextmanager
def _kept(logger: logging.Logger, entry: Sampled) -> Iterator[None]:
    """The source's log (and its children's) goes to ``entry.said`` while it is sampled, not to the terminal."""
    handler, propagate = _Said(entry), logger.propagate
    logger.addHandler(handler)
    logger.propagate = False
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.propagate = propagate


async def sample_all(
    config: GatewayConfig, *, listen_s: float = 0.0, only: Sequence[str] = (), timeout_s: float = 30.0
) -> list[Sampled]:
    """One sample of every enabled source (or those named in ``only``: ``uplink`` or ``uplink:fiber``)."""
    clock = Clock.from_settings(config.clock)
    out = []
    with tempfile.TemporaryDirectory(prefix="thonminh-test-") as tmp:
        for cls, cfg, key_path in Agent(config).keyed_specs():
            entry = Sampled(f"{cls.kind}:{cfg.name or cls.kind}", key_path)
            if only and cls.kind not in only and entry.name not in only:
                continue
            out.append(entry)
            entry.problems = cfg.environment_problems(key_path)
            source = _build(config, cls, cfg, key_path, Path(tmp), entry, clock)
            with _kept(source.log, entry):
                try:
                    await asyncio.wait_for(_sample_one(source, listen_s, entry), timeout_s + listen_s)
                except Exception as err:  # noqa: BLE001 - reported per source; the others still run
                    entry.failed, entry.note = True, f"{type(err).__name__}: {err}".strip()
                finally:
                    try:
                        await source.close()
                    except Exception as err:
                        log.warning("close failed", extra={"source": entry.name, "error": str(err)})
    return out


def readback(config: GatewayConfig, points: Sequence[Point]) -> dict[str, tuple[int, int, str]]:
    """Per measurement: (points sent, of them read back, the query). One InfluxQL builder: ``thonminh.influxql``."""
    sent: dict[str, set[tuple[object, ...]]] = defaultdict(set)
    tag_keys: dict[str, set[str]] = defaultdict(set)
    times: dict[str, list[int]] = defaultdict(list)
    for p in points:
        tag_keys[p.measurement] |= set(p.tags)
        times[p.measurement].append(p.time_ms)
    for p in points:  # a point is its series and time: the same key twice is one point in InfluxDB
        sent[p.measurement].add((*(p.tags.get(k) for k in sorted(tag_keys[p.measurement])), p.time_ms))
    site = config.site.tags()
    out = {}
    with config.influxdb.client() as client:
        for measurement, keys in sent.items():
            window = time_range(min(times[measurement]), max(times[measurement]) + 1)
            where = conditions([tag_equals(k, v) for k, v in sorted(site.items())], window)
            q = Select(["*"], [from_ref(measurement)], where).render()
            got = {
                (*(row.get(k) for k in sorted(tag_keys[measurement])), row["time"])
                for row in client.select(q).rows()
            }
            out[measurement] = (len(keys), len(keys & got), q)
    return out


def _report(entry: Sampled) -> None:
    """The source's line: its points, or FAILED, or DOWN and why (once: a log line repeating the reason is left
    out), then what else it logged, each once."""
    down = entry.down
    why = "; ".join(entry.problems) or down
    state = "FAILED" if entry.failed else f"{len(entry.points)} point(s)" + (f"; DOWN: {why}" if down else "")
    note = f": {entry.note}" if entry.note else ""
    click.echo(f"# {entry.name} ({entry.key_path}): {state}{note}", err=True)
    said = [why, entry.note] if down or entry.failed else [entry.note]
    for message in entry.said:
        if not any(text and text in message for text in (*said, down)):
            click.echo(f"# {entry.name}: {message}", err=True)


def _echo_points(entry: Sampled) -> None:
    for point in entry.points:
        try:
            click.echo(encode_line(point))
        except ValueError as err:
            click.echo(f"# {entry.name}: cannot be encoded (a dead letter in the agent): {err}", err=True)


def _encodes(point: Point) -> bool:
    try:
        encode_line(point)
    except ValueError:
        return False  # named by ``_echo_points``; not the village's dead letter
    return True


def _agents_buffer(config: GatewayConfig) -> Buffer:
    """The agent's buffer, locked as ``edge drain`` locks it, for ``--send``; refused while the agent runs or
    when run by another user than the agent's."""
    from edge.bufferopen import as_agents_user, open_buffer
    from edge.status import agent_running

    if agent_running(config.buffer.path):
        raise click.ClickException(
            "the agent is running: stop it first (sudo systemctl stop thonminh-gateway), or test without --send "
            "(its signed chain has one writer, and the test would count its samples' time twice)"
        )
    as_agents_user(config, "test ... --send")
    return open_buffer(config, exclusive=True, create=True)


def _after_the_agents_last_interval(config: GatewayConfig) -> None:
    """Wait out the agent's last uplink interval: its last sample stands for the interval before it, and the
    test's first for the interval before its own, so within one interval of the agent's stop (or last health
    write, after a kill) the two would count the same seconds twice."""
    from edge.health import read_health

    agent = (read_health(config.health_path()) or {}).get("agent") or {}
    last_ms = agent.get("stopped_ms") or agent.get("written_ms")
    intervals = [cfg.interval_s for kind, cfg in config.source_instances() if kind == "uplink"]
    if not last_ms or not intervals:
        return
    left_s = last_ms / 1000 + max(intervals) - time.time()
    if left_s > 0:
        click.echo(
            f"# waiting {left_s:.1f} s: the agent's last uplink sample stands for the {max(intervals):g} s "
            "before it stopped, which the test's would count twice",
            err=True,
        )
        time.sleep(left_s)


async def _forward(forwarder: Forwarder) -> str | None:
    """Forward what is ready; None when all of it went, else why not (the rest stays for the agent)."""
    from edge.forwarder import RetryLater

    while True:
        try:
            if await forwarder.step() == 0:
                return None
        except RetryLater as err:
            return str(err)


def _send(config: GatewayConfig, buffer: Buffer, points: list[Point]) -> bool:
    """Into the agent's buffer, forwarded and signed as the agent forwards, read back (see the module doc)."""
    from edge.forwarder import Forwarder
    from edge.pipeline import encode_for_buffer
    from edge.signing import open_signer

    owned = sum(1 for p in points if p.measurement in AGENT_OWNED)
    if owned:
        click.echo(
            f"# not sent: {owned} {', '.join(sorted(AGENT_OWNED))} point(s), the day's count the agent keeps "
            "(this test counted from nothing)",
            err=True,
        )
    points = [p for p in points if p.measurement not in AGENT_OWNED and _encodes(p)]
    clock = Clock.from_settings(config.clock)
    synced = clock.synced()
    rows, _ = encode_for_buffer(points, synced=synced, wall_ms=clock.now_ms(), mono=clock.monotonic())
    if buffer.ready:
        click.echo(f"# send: the {buffer.ready} point(s) the buffer holds go first", err=True)
    buffer.put(rows)
    if not synced:
        click.echo(
            "# send: the clock is not synchronised: the points stay in the buffer until it is, for the agent",
            err=True,
        )
        return False
    try:
        signer = open_signer(config)
    except (OSError, ValueError) as err:
        raise click.ClickException(f"cannot sign with {config.evidence_key_path}: {err}") from err
    writer = config.influxdb.writer()
    try:
        forwarder = Forwarder(
            buffer, writer, config.forwarder, timeout_s=config.influxdb.timeout_s, signer=signer
        )
        error = asyncio.run(_forward(forwarder))
        checked = readback(config, points) if error is None else {}
    except InfluxError as err:
        error = str(err)
    finally:
        signer.stop()
        writer.close()
    if error is not None:
        left = f"; {buffer.points} point(s) stay in the buffer for the agent" if buffer.points else ""
        click.echo(f"# send: {config.influxdb.url}: {error}{left}", err=True)
        return False
    complete = True
    for measurement, (count, found, q) in checked.items():
        complete &= found == count
        click.echo(f"# sent {count} {measurement} point(s), read back {found}: {q}", err=True)
    return complete


@click.command("test")
@click.option(
    "--config",
    "-c",
    "config_path",
    required=True,
    type=click.Path(dir_okay=False),
    envvar="THONMINH_CONFIG",
    help="gateway.toml (or set THONMINH_CONFIG)",
)
@click.option("--send", is_flag=True, help="write the points to the configured InfluxDB and read them back")
@click.option(
    "--listen",
    "listen_s",
    type=click.FloatRange(min=0),
    default=0.0,
    help="seconds to listen to push sources (the lights: stop the agent first, it shares their session)",
)
@click.option(
    "--source", "only", multiple=True, help="only this source: a kind (uplink) or kind:name (uplink:fiber)"
)
def test_command(config_path: str, send: bool, listen_s: float, only: tuple[str, ...]) -> None:
    """One sample of every configured source, printed as line protocol (like `telegraf --test`)."""
    from edge.config import load_gateway_config
    from edge.status import agent_running

    config = load_gateway_config(config_path)
    if listen_s and agent_running(config.buffer.path):
        raise click.ClickException(
            "the agent is running: stop it before --listen (the lights share its MQTT session)"
        )
    buffer = _agents_buffer(config) if send else None  # before sampling: held until the points are sent
    if send:
        _after_the_agents_last_interval(config)
    try:
        results = asyncio.run(sample_all(config, listen_s=listen_s, only=only))
        if only and not results:
            raise click.UsageError(f"no enabled source matches {', '.join(only)}")
        for entry in results:
            _report(entry)
            _echo_points(entry)
        points = [p for entry in results for p in entry.points]
        ok = not any(entry.failed or entry.down for entry in results)
        if buffer is not None and points:
            ok &= _send(config, buffer, points)
    finally:
        if buffer is not None:
            buffer.close()
    if not ok:
        raise SystemExit(1)
