"""``thonminh server --config FILE [--host --port] [--open-read-only]``: run the criteria service with uvicorn."""

from __future__ import annotations

import logging

import click

from thonminh.logs import setup_logging

__all__ = ["server"]


@click.command(name="server")
@click.option(
    "--config",
    "config_path",
    required=True,
    type=click.Path(dir_okay=False),
    help="server TOML file (see server/server.example.toml)",
)
@click.option("--host", default=None, help="listen address (default: http.host of the config)")
@click.option("--port", default=None, type=click.IntRange(1, 65535), help="listen port (default: http.port)")
@click.option(
    "--open-read-only",
    is_flag=True,
    help="serve GET requests without API keys and refuse every PUT (only for a closed network)",
)
@click.option("--log-level", default="info", type=click.Choice(["debug", "info", "warning", "error"]))
@click.option("--log-format", default="kv", type=click.Choice(["kv", "json"]))
def server(
    config_path: str,
    host: str | None,
    port: int | None,
    open_read_only: bool,
    log_level: str,
    log_format: str,
) -> None:
    """The criteria service and uptime API (docs/api.md)."""
    import uvicorn

    from server.app import create_app
    from server.config import load_server_config

    setup_logging(log_level, fmt=log_format)
    config = load_server_config(config_path)
    app = create_app(config, open_read_only=open_read_only)  # raises ConfigError without keys
    host = host or config.http.host
    port = port or config.http.port
    logging.getLogger("server").info(
        "criteria service starting", extra={"host": host, "port": port, "open_read_only": open_read_only}
    )
    uvicorn.run(
        app,
        host=host,
        port=port,
        log_config=None,
        access_log=False,
        proxy_headers=True,
        forwarded_allow_ips=config.http.trusted_proxies,
    )
