"""``thonminh dashboards build`` and ``thonminh dashboards push``."""

from __future__ import annotations

import logging
from pathlib import Path

import click

__all__ = ["dashboards"]


@click.group()
def dashboards() -> None:
    """Grafana dashboards, data source and alert rules, generated from dashboards/*.py."""


@dashboards.command()
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="directory to write into (default: the dashboards/ package, i.e. the committed files)",
)
@click.option("--check", is_flag=True, help="write nothing; exit 1 if the committed files are stale")
@click.option(
    "--alerting-env",
    is_flag=True,
    help="also write this deployment's alert delivery (contact points, notification policy) from "
    "THONMINH_ALERT_* and GF_SMTP_* (see docs/deployment.md)",
)
@click.option(
    "--env-file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="with --alerting-env: read variables from this file, the environment overriding it "
    "(default: .env when it exists)",
)
def build(out: Path | None, check: bool, alerting_env: bool, env_file: Path | None) -> None:
    """Write dashboards/json/*.json and dashboards/provisioning/* from the Python source."""
    from dashboards.build import ROOT, stale, write

    root = out or ROOT
    extra = _delivery(root, env_file) if alerting_env else {}
    if check:
        problems = stale(root) + [
            str(p) for p, text in extra.items() if not p.exists() or p.read_text("utf-8") != text
        ]
        for p in problems:
            click.echo(f"stale: {p}", err=True)
        if problems:
            raise click.exceptions.Exit(1)
        click.echo("dashboards are up to date")
        return
    written = write(root)
    for path, text in extra.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        # the env file holds the SMTP password and the bot token and is read by compose only; the provisioning
        # file holds only ${VAR} references and must be readable by Grafana's user in its container
        path.touch(exist_ok=True)
        path.chmod(0o600 if path.suffix == ".env" else 0o644)
        path.write_text(text, encoding="utf-8")
        written.append(path)
    click.echo(f"wrote {len(written)} file(s) under {root}" if written else "nothing changed")


def _delivery(root: Path, env_file: Path | None) -> dict[Path, str]:
    """The delivery files by path: the provisioning file under ``root``, Grafana's env file beside the compose
    file (under ``root`` too when it is not the committed tree)."""
    import os

    from dashboards.build import DELIVERY_ENV, DELIVERY_FILE, ROOT, delivery_files
    from dashboards.notify import read_env_file
    from thonminh.errors import ConfigError

    env_file = env_file or (Path(".env") if Path(".env").is_file() else None)
    env = {**(read_env_file(env_file) if env_file else {}), **os.environ}
    try:
        files = delivery_files(env)
    except ConfigError as err:
        raise click.ClickException(str(err)) from err
    base = ROOT.parent if root == ROOT else root
    return {root / DELIVERY_FILE: files[DELIVERY_FILE], base / DELIVERY_ENV: files[DELIVERY_ENV]}


@dashboards.command()
@click.option(
    "--grafana", "grafana_url", required=True, envvar="GRAFANA_URL", help="e.g. https://grafana.example.org"
)
@click.option("--token", envvar="GRAFANA_TOKEN", help="service-account token (or GRAFANA_TOKEN)")
@click.option(
    "--influx-url",
    envvar="INFLUXDB_URL",
    default="http://influxdb:8086",
    show_default=True,
    help="InfluxDB URL as Grafana reaches it",
)
@click.option(
    "--database",
    envvar="INFLUXDB_DATABASE",
    default="thonminh",
    show_default=True,
    help="InfluxQL database (on 2.x: the DBRP-mapped name)",
)
@click.option(
    "--influx-user", envvar="INFLUXDB_GRAFANA_USER", default=None, help="v1 user for Grafana's reads"
)
@click.option("--influx-password", envvar="INFLUXDB_GRAFANA_PASSWORD", default=None)
@click.option("--lang", type=click.Choice(["vi", "en"]), default="vi", show_default=True)
@click.option("--timeout", type=float, default=30.0, show_default=True)
def push(
    grafana_url: str,
    token: str | None,
    influx_url: str,
    database: str,
    influx_user: str | None,
    influx_password: str | None,
    lang: str,
    timeout: float,
) -> None:
    """Upload folder, data source, dashboards and alert rules to an existing Grafana (idempotent)."""
    from grafana_client.api import GrafanaApi

    from dashboards.push import PushError
    from dashboards.push import push as do_push

    logging.basicConfig(level=logging.INFO, format="%(message)s")
    api = GrafanaApi.from_url(grafana_url, credential=token, timeout=timeout)
    try:
        report = do_push(
            api,
            influx_url=influx_url,
            database=database,
            user=influx_user,
            password=influx_password,
            lang=lang,  # type: ignore[arg-type]
        )
    except PushError as err:
        raise click.ClickException(str(err)) from err
    except OSError as err:
        raise click.ClickException(f"cannot reach Grafana at {grafana_url}: {err}") from err
    click.echo(f"pushed to {grafana_url}: {report.summary()}")
