"""Files a power cut or a failing SD card damaged, on real files and real SQLite: a buffer that is not a database
or fails SQLite's quick check (the agent sets it aside and goes on measuring; the commands leave it and say what
to do), a health file that does not parse or is not shaped as the agent writes it; and InfluxDB that was never
written to, which ``status`` must not call fine."""

from __future__ import annotations

import json
import logging
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from edge_helpers import CounterSource, FakeClock, async_wait_until, gateway_toml, wait_until

from edge.buffer import Buffer, BufferDamaged, NewRow
from edge.config import load_gateway_config
from edge.health import HealthBook, read_health
from thonminh.influx import InfluxClient

MB = 1024 * 1024
NOT_A_DATABASE = os.urandom(5000)
BAD_NAME = re.compile(r"^buffer\.sqlite\.bad-\d{8}T\d{6}Z$")


def cli(*args: str, lang: str = "en_US.UTF-8") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "LANG": lang, "LC_ALL": "", "LC_MESSAGES": ""}
    return subprocess.run(
        [sys.executable, "-m", "thonminh.cli", "edge", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )


def small_config(tmp_path: Path) -> Path:
    """A gateway with one uplink, its tmpfs files (intake, health) kept under ``tmp_path``."""
    config = tmp_path / "gateway.toml"
    config.write_text(
        'state_dir = "state"\n[site]\nvillage = "v"\ngateway = "g"\nlatitude = 21\nlongitude = 106\n'
        f'[buffer]\npath = "buffer.sqlite"\nintake_dir = "{tmp_path / "shm"}"\n[clock]\ncheck = "always"\n'
        '[[sources.uplink]]\nlink = "fiber"\ninterface = "lo"\n'
        '[[sources.uplink.targets]]\nkind = "tcp"\nhost = "127.0.0.1"\nport = 9\n'
    )
    return config


def damage_a_page(path: Path) -> bytes:
    """Overwrite the header of the buffer's second page: the file still opens, its quick check fails."""
    with Buffer(path, max_bytes=MB, row_points=1) as buffer:
        buffer.put([NewRow(f"m n={i}i", 1_700_000_000_000 + i) for i in range(2000)])
    data = bytearray(path.read_bytes())
    page = int.from_bytes(data[16:18], "big")
    data[page : page + 8] = b"\xee" * 8
    path.write_bytes(bytes(data))
    return bytes(data)


def test_a_store_failing_the_quick_check_is_refused_untouched_or_set_aside_by_the_agents_open(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
):
    path = tmp_path / "buffer.sqlite"
    damaged = damage_a_page(path)
    for options in ({}, {"readonly": True}, {"exclusive": False}):
        with pytest.raises(BufferDamaged) as raised:
            Buffer(path, max_bytes=MB, **options)  # type: ignore[arg-type]
        assert raised.value.path == path and raised.value.reason
    assert path.read_bytes() == damaged and not [p for p in tmp_path.iterdir() if ".bad-" in p.name]
    caplog.set_level(logging.ERROR)
    with Buffer(path, max_bytes=MB, set_aside_damaged=True) as buffer:  # the refusals let the lock go
        assert buffer.points == 0
        buffer.put([NewRow("m n=1i", 1_700_000_000_000)])
        assert buffer.take(10, MB).lines == ["m n=1i 1700000000000"]
    [bad] = [p for p in tmp_path.iterdir() if BAD_NAME.match(p.name)]
    assert bad.read_bytes() == damaged
    [record] = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert "will not be forwarded" in record.getMessage()
    assert (record.buffer, record.set_aside_as) == (str(path), str(bad))  # type: ignore[attr-defined]


def test_points_only_in_the_intake_outlive_a_damaged_store(tmp_path: Path):
    """The agent died (its intake on tmpfs holds what it had not stored), then the store turned out damaged:
    the intake's points go to the new store."""
    store, intake = tmp_path / "buffer.sqlite", tmp_path / "shm" / "intake.sqlite"
    crash = (
        "import os, sys\n"
        "from pathlib import Path\n"
        "from edge.buffer import Buffer, NewRow\n"
        f"buffer = Buffer(Path({str(store)!r}), max_bytes={MB}, intake=Path({str(intake)!r}))\n"
        "buffer.put([NewRow(f'm n={i}i', 1_700_000_000_000 + i) for i in range(10)])\n"
        "os._exit(0)\n"
    )
    subprocess.run([sys.executable, "-c", crash], check=True, timeout=60)
    for side in tmp_path.glob("buffer.sqlite-*"):
        side.unlink()
    store.write_bytes(NOT_A_DATABASE)
    with Buffer(store, max_bytes=MB, intake=intake, set_aside_damaged=True) as buffer:
        assert buffer.points == 10
        assert buffer.take(100, MB).lines[-1] == "m n=9i 1700000000009"


def test_the_agent_sets_a_damaged_buffer_aside_and_goes_on_measuring(influx: InfluxClient, tmp_path: Path):
    config = gateway_toml(
        tmp_path,
        url=influx.url,
        database=influx.database,
        gateway_source=True,
        tables={"log": {"format": "json"}},
    )
    store = tmp_path / "buffer.sqlite"
    store.write_bytes(NOT_A_DATABASE)
    Path(f"{store}-wal").write_bytes(b"the WAL of the damaged file")
    log = tmp_path / "agent.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "thonminh.cli", "edge", "run", "--config", str(config)],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:

        def measured() -> bool:
            assert proc.poll() is None, log.read_text()[-3000:]
            rows = influx.select("SELECT count(uptime_s) FROM gateway").rows()
            return bool(rows and rows[0]["count"] >= 2)

        wait_until(measured, timeout=60, interval=0.3, what="the self-metrics in InfluxDB")
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0, log.read_text()[-3000:]
    [bad] = [p for p in tmp_path.iterdir() if BAD_NAME.match(p.name)]
    assert bad.read_bytes() == NOT_A_DATABASE
    assert Path(f"{bad}-wal").read_bytes() == b"the WAL of the damaged file"  # the pair kept together
    records = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
    [error] = [r for r in records if r["level"] == "error"]
    assert "set aside, the points stored in it will not be forwarded" in error["msg"]
    assert (error["buffer"], error["set_aside_as"], error["error"]) == (
        str(store),
        str(bad),
        "file is not a database",
    )
    status = cli("status", "--config", str(config), "--json")
    assert status.returncode == 0 and "buffer_damaged" not in json.loads(status.stdout)


@pytest.mark.parametrize(
    "command",
    [
        ["drain"],
        ["dead-letters", "list"],
        ["dead-letters", "requeue", "--all"],
        ["dead-letters", "purge", "--all"],
    ],
)
def test_the_commands_leave_a_damaged_buffer_as_it_is_and_say_what_to_do(tmp_path: Path, command: list[str]):
    config = small_config(tmp_path)
    store = load_gateway_config(config).buffer.path
    store.parent.mkdir(parents=True, exist_ok=True)
    store.write_bytes(NOT_A_DATABASE)
    result = cli(*command, "--config", str(config))
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    said = " ".join(result.stderr.split())
    assert f"the buffer {store} is damaged (file is not a database)" in said
    assert "will not be forwarded" in said and f"the agent renames it {store}.bad-<UTC time>" in said
    assert "left the file as it is" in said and "move the file with its -wal and -shm aside yourself" in said
    assert store.read_bytes() == NOT_A_DATABASE
    assert not [p for p in store.parent.iterdir() if ".bad-" in p.name]
    if command == ["drain"]:
        vi = cli(*command, "--config", str(config), lang="vi_VN.UTF-8")
        assert vi.returncode == 1 and f"bộ đệm {store} bị hỏng" in vi.stderr, vi.stderr


def test_status_shows_the_sources_beside_a_damaged_buffer(tmp_path: Path):
    config = small_config(tmp_path)
    gateway = load_gateway_config(config)
    book = HealthBook(gateway.health_path(), now_ms=lambda: int(time.time() * 1000))
    book.report("uplink:fiber", "uplink", "ok", {"rtt_ms": 3.5})
    assert book.write()
    gateway.buffer.path.parent.mkdir(parents=True, exist_ok=True)
    gateway.buffer.path.write_bytes(NOT_A_DATABASE)
    en = cli("status", "--config", str(config), "--lang", "en")
    assert en.returncode == 0 and "Traceback" not in en.stderr, en.stderr
    assert "uplink:fiber: UP" in en.stdout and "RTT (ms): 3.5" in en.stdout
    assert (
        f"Buffer: DAMAGED: the buffer {gateway.buffer.path} is damaged (file is not a database)" in en.stdout
    )
    assert "At its next start the agent renames it" in en.stdout
    vi = cli("status", "--config", str(config), "--lang", "vi")
    assert "Bộ đệm: HỎNG: bộ đệm" in vi.stdout and "uplink:fiber: CÓ KẾT NỐI" in vi.stdout
    data = json.loads(cli("status", "--config", str(config), "--json").stdout)
    assert data["buffer_damaged"] == {"path": str(gateway.buffer.path), "error": "file is not a database"}
    assert gateway.buffer.path.read_bytes() == NOT_A_DATABASE


@pytest.mark.parametrize(
    ("content", "why"),
    [
        ('{"broken', "Unterminated string"),
        ('{"format":1,"agent":"x","sources":5}', "its agent is not an object"),
    ],
)
def test_status_says_a_damaged_health_file_cannot_be_read(tmp_path: Path, content: str, why: str):
    config = small_config(tmp_path)
    gateway = load_gateway_config(config)
    with Buffer(gateway.buffer.path, max_bytes=MB):
        pass  # the agent ran: its buffer is there
    health = gateway.health_path()
    health.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    health.write_text(content)
    en = cli("status", "--config", str(config), "--lang", "en")
    assert en.returncode == 0 and "Traceback" not in en.stderr, en.stderr
    assert f"Agent: not running; the health file cannot be read ({health}: " in en.stdout
    assert why in en.stdout and "the sources' states are unknown" in en.stdout
    assert "has not run since" not in en.stdout and "uplink:fiber: UNKNOWN" in en.stdout
    vi = cli("status", "--config", str(config), "--lang", "vi")
    assert "Dịch vụ gateway: không chạy; không đọc được tệp trạng thái" in vi.stdout
    assert read_health(health) is None  # for the callers to whom unreadable is none (``edge test``)


async def test_influxdb_never_written_to_is_unknown_not_ok(tmp_path: Path, start_agent):
    """The clock is not synchronised: every sample is held, nothing is sent, and InfluxDB is unreachable."""
    config = gateway_toml(
        tmp_path,
        url="http://127.0.0.1:9",
        database="x",
        tables={"buffer": {"intake_dir": str(tmp_path / "shm")}},
    )
    clock = FakeClock(synced=False)
    counter = CounterSource.Config(total=5, per_emit=5, stamp_now=True)
    agent, running = await start_agent(config, clock=clock.clock(), extra_sources=[(CounterSource, counter)])
    health = agent.config.health_path()

    def influxdb_reported() -> bool:
        entries = {e["source"]: e for e in (read_health(health) or {}).get("sources", [])}
        return agent.buffer.held == 5 and "influxdb" in entries

    await async_wait_until(influxdb_reported, what="the held samples and InfluxDB's health")
    await running.finish()
    en = cli("status", "--config", str(config), "--lang", "en")
    assert "InfluxDB http://127.0.0.1:9: UNKNOWN (no write tried yet)\n" in en.stdout, en.stdout
    assert "last successful write: never" in en.stdout
    vi = cli("status", "--config", str(config), "--lang", "vi")
    assert "InfluxDB http://127.0.0.1:9: CHƯA RÕ (chưa thử ghi)\n" in vi.stdout, vi.stdout
    data = json.loads(cli("status", "--config", str(config), "--json").stdout)["influxdb"]
    assert (data["state"], data["since_ms"], data["untried"]) == ("unknown", None, True)


def test_status_shows_why_influxdb_is_down_when_the_health_says(tmp_path: Path):
    config = small_config(tmp_path)
    gateway = load_gateway_config(config)
    book = HealthBook(gateway.health_path(), now_ms=lambda: int(time.time() * 1000))
    book.report("influxdb", "influxdb", "down", {"backlog": 12, "error": "ConnectError: connection refused"})
    assert book.write()
    en = cli("status", "--config", str(config), "--lang", "en")
    assert "InfluxDB http://127.0.0.1:8086: DOWN since" in en.stdout
    assert "\n    error: ConnectError: connection refused\n" in en.stdout, en.stdout
    vi = cli("status", "--config", str(config), "--lang", "vi")
    assert "\n    lỗi: ConnectError: connection refused\n" in vi.stdout, vi.stdout


async def test_a_running_agent_tells_status_why_its_writes_fail(tmp_path: Path, start_agent):
    """The agent itself puts the last write's failure in its health, which status shows under InfluxDB."""
    config = gateway_toml(
        tmp_path,
        url="http://127.0.0.1:9",
        database="x",
        tables={"buffer": {"intake_dir": str(tmp_path / "shm")}},
    )
    counter = CounterSource.Config(total=5, per_emit=5, stamp_now=True)
    agent, running = await start_agent(
        config, clock=FakeClock(synced=True).clock(), extra_sources=[(CounterSource, counter)]
    )
    health = agent.config.health_path()

    def failure_reported() -> bool:
        entries = {e["source"]: e for e in (read_health(health) or {}).get("sources", [])}
        return bool(entries.get("influxdb", {}).get("detail", {}).get("error"))

    await async_wait_until(failure_reported, what="the write's failure in the agent's health")
    await running.finish()
    en = cli("status", "--config", str(config), "--lang", "en")
    assert "\n    error: " in en.stdout and "127.0.0.1:9" in en.stdout, en.stdout


def test_status_run_by_root_reads_the_agents_own_intake_and_health(tmp_path: Path):
    """``sudo thonminh edge status`` looked in /dev/shm/thonminh-0 and said the agent had never run."""
    from edge.bufferschema import intake_path

    state = tmp_path / "state"
    state.mkdir()
    os.chown(state, 4321, 4321)  # the agent's user owns its state directory
    assert intake_path(state / "buffer.sqlite").parent == Path("/dev/shm/thonminh-4321")
    assert intake_path(tmp_path / "nowhere" / "buffer.sqlite").parent == Path(
        f"/dev/shm/thonminh-{os.getuid()}"
    )
