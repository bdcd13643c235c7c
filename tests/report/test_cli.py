"""``thonminh report`` as an official runs it: the PDF appears whole or not at all, and errors say why."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pdftools
import rep_scenario as sc
from fastapi.testclient import TestClient
from rep_helpers import iso

from thonminh.influx import InfluxClient

ROOT = Path(__file__).resolve().parents[2]


def _config(tmp_path: Path, url: str, database: str) -> Path:
    path = tmp_path / "server.toml"
    path.write_text(
        f'[influxdb]\nurl = "{url}"\ndatabase = "{database}"\ntimeout_s = 30\n\n'
        f'[rollups]\nbackground = false\n\n[villages.kha-ly-thuong]\nname = "{sc.NAME_A}"\n',
        encoding="utf-8",
    )
    return path


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "thonminh.cli", "report", *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )


def test_writes_the_village_dossier(
    api: TestClient, seeded: InfluxClient, month: sc.MonthScenario, tmp_path: Path
):
    out = tmp_path / "dossier" / "ho-so.pdf"
    out.parent.mkdir()
    done = _run(
        "--config",
        str(_config(tmp_path, seeded.url, seeded.database)),
        "--village",
        "kha-ly-thuong",
        "--month",
        month.text,
        "--out",
        str(out),
    )
    assert done.returncode == 0, done.stderr
    text = pdftools.text(out.read_bytes())
    assert f"Thôn {sc.NAME_A} · tháng {month.first:%m/%Y}" in text
    assert list(out.parent.iterdir()) == [out]  # no temporary file left beside it
    # the same figures as the API serves (rollups read or not: the same numbers)
    served = api.get(
        "/api/v1/villages/kha-ly-thuong/report.pdf",
        params={"month": month.text},
        headers={"X-API-Key": "read-key-0123456789abcdef"},
    )
    assert _figures(pdftools.text(served.content)) == _figures(text)


def _figures(text: str) -> list[str]:
    # every line of the verdict table and evidence, without the generation time
    return [
        line for line in text.splitlines() if "%" in line and "Lập lúc" not in line and "lập lúc" not in line
    ]


def test_a_period_from_the_cli_is_the_api_s(
    api: TestClient, seeded: InfluxClient, month: sc.MonthScenario, tmp_path: Path
):
    out = tmp_path / "ho-so.pdf"
    start, end = iso(month.at(4, 18)), iso(month.at(6, 6))
    done = _run(
        "--config",
        str(_config(tmp_path, seeded.url, seeded.database)),
        "--village",
        "kha-ly-thuong",
        "--start",
        start,
        "--end",
        end,
        "--out",
        str(out),
    )
    assert done.returncode == 0, done.stderr
    text = pdftools.text(out.read_bytes())
    assert "Khoảng thời gian:" in text and "trong tháng" not in text
    served = api.get(
        "/api/v1/villages/kha-ly-thuong/report.pdf",
        params={"start": start, "end": end},
        headers={"X-API-Key": "read-key-0123456789abcdef"},
    )
    assert _figures(pdftools.text(served.content)) == _figures(text)


def test_commune_dossier_from_the_cli(seeded: InfluxClient, month: sc.MonthScenario, tmp_path: Path):
    out = tmp_path / "xa.pdf"
    done = _run(
        "--config",
        str(_config(tmp_path, seeded.url, seeded.database)),
        "--commune",
        "an-lac",
        "--month",
        month.text,
        "--out",
        str(out),
    )
    assert done.returncode == 0, done.stderr
    assert "Bảng tổng hợp các thôn" in pdftools.text(out.read_bytes())


def test_a_failed_run_leaves_the_previous_file_untouched(
    seeded: InfluxClient, month: sc.MonthScenario, tmp_path: Path
):
    out = tmp_path / "ho-so.pdf"
    out.write_bytes(b"the dossier filed last month")
    config = _config(tmp_path, seeded.url, seeded.database)
    for args, words in (
        (("--village", "kha-ly-thuong", "--month", "2025-3"), "is not a month like 2025-03"),
        (("--village", "lang-khong-co", "--month", month.text), "'lang-khong-co' is not in the data"),
        (("--village", "kha-ly-thuong", "--commune", "an-lac", "--month", month.text), "exactly one of"),
        (("--village", "kha-ly-thuong", "--month", month.text, "--start", "-2d"), "not both"),
        (("--village", "kha-ly-thuong", "--start", "-2d"), "end: missing"),
        (
            (
                "--village",
                "kha-ly-thuong",
            ),
            "month: missing",
        ),
    ):
        done = _run("--config", str(config), *args, "--out", str(out))
        assert done.returncode != 0 and words in done.stderr, done.stderr
    # InfluxDB going away while the dossier is made (a closed port): nothing half-written either
    down = _config(tmp_path, "http://127.0.0.1:9", seeded.database)
    done = _run("--config", str(down), "--village", "kha-ly-thuong", "--month", month.text, "--out", str(out))
    assert done.returncode != 0 and "InfluxDB" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr
    assert out.read_bytes() == b"the dossier filed last month"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ho-so.pdf", "server.toml"]
