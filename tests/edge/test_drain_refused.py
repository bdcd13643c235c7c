"""``thonminh edge drain`` tells the points InfluxDB wrote from those it refused (dead-lettered), against the real
InfluxDB: a refused point also leaves the buffer, and counting it as forwarded reported success for a drain
that wrote nothing."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner, Result
from edge_helpers import BASE_MS, MEASUREMENT, count, gateway_toml

from edge.buffer import Buffer, NewRow
from edge.cli import edge
from thonminh.influx import InfluxClient

MB = 1024 * 1024


def drain(config: Path) -> Result:
    return CliRunner().invoke(edge, ["drain", "--config", str(config), "--timeout", "60"])


def fill(tmp_path: Path, lines: list[str]) -> None:
    with Buffer(tmp_path / "buffer.sqlite", max_bytes=MB) as buffer:
        buffer.put([NewRow(line, BASE_MS + i) for i, line in enumerate(lines)])


def test_a_drain_influxdb_refused_entirely_fails_and_says_so(influx: InfluxClient, tmp_path: Path):
    # ``n`` is an integer in InfluxDB already: a string ``n`` is refused (HTTP 400, partial write)
    influx.write(f"{MEASUREMENT},run=9 n=1i {BASE_MS - 1}")
    config = gateway_toml(tmp_path, url=influx.url, database=influx.database)
    fill(tmp_path, [f'{MEASUREMENT},run=9 n="x{i}"' for i in range(22)])
    result = drain(config)
    assert result.exit_code == 1, result.output
    assert (
        "done: 0 written, 22 refused by InfluxDB (see thonminh edge dead-letters list), 0 left"
        in result.output
    )
    assert "forwarded" not in result.output
    assert count(influx, 9) == 1  # only the point written before


def test_a_drain_in_part_refused_counts_both_and_fails(influx: InfluxClient, tmp_path: Path):
    influx.write(f"{MEASUREMENT},run=9 n=1i {BASE_MS - 1}")
    config = gateway_toml(tmp_path, url=influx.url, database=influx.database)
    fill(tmp_path, [f"{MEASUREMENT},run=9 n={i}i" for i in range(5)] + [f'{MEASUREMENT},run=9 n="x"'] * 2)
    result = drain(config)
    assert result.exit_code == 1, result.output
    assert (
        "done: 5 written, 2 refused by InfluxDB (see thonminh edge dead-letters list), 0 left"
        in result.output
    )
    listed = CliRunner().invoke(edge, ["dead-letters", "list", "--config", str(config)])
    assert listed.output.count("field type conflict") == 2


def test_a_drain_all_written_succeeds(influx: InfluxClient, tmp_path: Path):
    config = gateway_toml(tmp_path, url=influx.url, database=influx.database)
    fill(tmp_path, [f"{MEASUREMENT},run=9 n={i}i" for i in range(4)])
    result = drain(config)
    assert result.exit_code == 0, result.output
    assert "done: 4 written, 0 left" in result.output
    assert count(influx, 9) == 4
