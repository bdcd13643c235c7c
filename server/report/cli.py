"""``thonminh report --config server.toml (--village V | --commune C) (--month YYYY-MM | --start S --end E)
--out F.pdf``.

Runs the criteria service in-process against the InfluxDB of the server config, so the dossier holds the
numbers the API gives for the same month or period (``--start``/``--end`` as the API's ``start``/``end``).
The file appears only once the whole PDF is written: it is written to a temporary file beside the target
and renamed over it.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import click

__all__ = ["report", "write_atomically"]


def write_atomically(target: Path, body: bytes) -> None:
    """Write ``body`` to ``target`` through a temporary file in the same directory and a rename."""
    fd, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(body)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


@click.command(name="report")
@click.option(
    "--config",
    "config_path",
    required=True,
    type=click.Path(dir_okay=False),
    help="server TOML file: the InfluxDB, time zone, criteria and village names to use",
)
@click.option("--village", default=None, help="the village slug (tag `village`)")
@click.option("--commune", default=None, help="the commune slug (tag `commune`): a section per village")
@click.option("--month", default=None, help="the month, YYYY-MM (local calendar); it must have ended")
@click.option(
    "--start",
    default=None,
    help="instead of --month: the period's start, as the API's start= "
    "(2025-03-05T10:00:00+07:00, 2025-03-05, -7d)",
)
@click.option(
    "--end", default=None, help="with --start: the period's end (excluded; capped at now), e.g. now"
)
@click.option(
    "--out",
    "out_path",
    required=True,
    type=click.Path(dir_okay=False, writable=True),
    help="the PDF to write",
)
def report(
    config_path: str,
    village: str | None,
    commune: str | None,
    month: str | None,
    start: str | None,
    end: str | None,
    out_path: str,
) -> None:
    """The dossier of a village or a commune for a month or a period, as an A4 PDF (docs/report.md)."""
    from server.app import create_app
    from server.config import load_server_config
    from server.errors import ApiError
    from server.report import commune_report, period_of, village_report
    from thonminh.errors import InfluxError

    if (village is None) == (commune is None):
        raise click.UsageError("give exactly one of --village and --commune")
    target = Path(out_path)
    if not target.parent.is_dir():
        raise click.UsageError(f"--out: the directory {str(target.parent)!r} does not exist")
    config = load_server_config(config_path)
    service = create_app(config, open_read_only=True).state.service  # the app's service, not served
    try:
        try:
            service.rollups.load_state()
        except InfluxError:
            pass  # no rollups readable: every figure is read from the raw samples, with the same result
        period = period_of(service, month, start, end)
        body = (
            village_report(service, village, period)
            if village is not None
            else commune_report(service, commune or "", period)
        )
    except ApiError as err:
        raise click.ClickException(err.message) from err
    except InfluxError as err:
        raise click.ClickException(f"InfluxDB at {config.influxdb.url}: {err}") from err
    finally:
        service.reader.client.close()
    write_atomically(target, body)
    click.echo(f"{target}: {len(body):,} bytes")
