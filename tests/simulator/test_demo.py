"""``thonminh demo``: a report with every default criterion and the URLs, and nothing left running after Ctrl-C.

The printed API call, the printed dossier (read with pdftotext) and the printed village page all show the
verdicts the report printed: the same window, the same service.
"""

from __future__ import annotations

import html
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import yaml

from thonminh.evidence import fingerprint, load_or_create_key

from . import drill
from .conftest import ROOT

CRITERIA = yaml.safe_load((ROOT / "thonminh" / "criteria.yaml").read_text())["criteria"]
#: the verdicts' words in the dossier and on the pages (server/report/vi.py and server/pages/i18n.py write them)
LABELS = {
    "pass": "Đạt",
    "fail": "Không đạt",
    "insufficient_data": "Chưa đủ dữ liệu",
    "unverified": "Chưa xác minh",
}
#: the header of a criterion's evidence table in the dossier, then the verdict
_EVIDENCE = re.compile(
    r"Kết quả Giá trị đo Ngưỡng Độ phủ \(tối thiểu\) Số mẫu "
    r"(Đạt|Không đạt|Chưa đủ dữ liệu|Chưa xác minh) "
)


def _alive(pids: set[int]) -> list[str]:
    """Processes that still run with one of ``pids`` as their pid or process group (from /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # pid (comm) state ppid pgrp ...: comm may hold spaces, so split after its closing parenthesis
        fields = stat[stat.rindex(")") + 2 :].split()
        state, pgrp = fields[0], int(fields[2])
        if state != "Z" and (int(entry.name) in pids or pgrp in pids):
            found.append(stat[:120])
    return found


def _report_until_running(proc: subprocess.Popen[str], timeout_s: float) -> str:
    """What the demo printed up to "Everything keeps running" (the report is above it)."""
    lines: list[str] = []
    deadline = time.monotonic() + timeout_s
    assert proc.stdout is not None
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line)
        if line.startswith("Everything keeps running"):
            return "".join(lines)
    proc.kill()
    raise AssertionError("the demo printed no report:\n" + "".join(lines)[-3000:])


def _pdf_text(pdf: bytes) -> str:
    with tempfile.NamedTemporaryFile(suffix=".pdf") as f:
        f.write(pdf)
        f.flush()
        done = subprocess.run(
            ["pdftotext", "-enc", "UTF-8", "-layout", f.name, "-"],
            capture_output=True,
            check=True,
            timeout=60,
        )
    return done.stdout.decode("utf-8")


def dossier_verdicts(text: str) -> dict[str, str]:
    """Each criterion's verdict as its evidence section in the dossier prints it (the heading is its title)."""
    found = {}
    for criterion in CRITERIA:
        heading = re.search(rf"^\f?\s*{re.escape(criterion['title']['vi'])}$", text, re.MULTILINE)
        assert heading, f"{criterion['id']}: no evidence section in the dossier"
        verdict = _EVIDENCE.search(" ".join(text[heading.end() : heading.end() + 800].split()))
        assert verdict, f"{criterion['id']}: no verdict under its heading"
        found[criterion["id"]] = verdict.group(1)
    return found


def page_verdicts(html: str) -> dict[str, str]:
    """Each criterion's verdict on the village page: its article's verdict badge (class and words)."""
    found = {}
    for cid, verdict, words in re.findall(
        r'<article class="criterion" id="c-([\w-]+)">.*?'
        r'<span class="verdict (\w+)">([^<]*)</span>',
        html,
        re.DOTALL,
    ):
        assert words == LABELS[verdict], (cid, verdict, words)
        found[cid] = verdict
    return found


def _check_dossier_and_page(out: str, key: str, printed: dict[str, str]) -> None:
    dossier = re.search(r"^  dossier +(\S+)$", out, re.MULTILINE)
    download = re.search(
        r"^  download +curl -H 'X-API-Key: (\S+)' -o dossier\.pdf '(\S+)'$", out, re.MULTILINE
    )
    assert dossier and download, out
    assert download.group(1) == key and download.group(2) == dossier.group(1)
    # the dossier, the village page and the printed criteria call all ask for the same window
    window = re.search(r"/criteria\?(start=\S+)'", out)
    assert window and dossier.group(1).endswith(f"/villages/kha-ly-thuong/report.pdf?{window.group(1)}"), out
    pdf = httpx.get(dossier.group(1), headers={"X-API-Key": key}, timeout=120)
    assert pdf.status_code == 200, pdf.text
    assert pdf.headers["content-type"] == "application/pdf"
    text = _pdf_text(pdf.content)
    assert dossier_verdicts(text) == {cid: LABELS[v] for cid, v in printed.items()}, text[:3000]
    counts = " · ".join(f"{LABELS[v]}: {sum(1 for x in printed.values() if x == v)}" for v in LABELS)
    assert f"Tổng hợp: {counts}" in " ".join(text.split())
    assert "Khoảng thời gian:" in text and "Tháng" not in text.split("Múi giờ")[0]  # the window, not a month
    cover = " ".join(text.split("Múi giờ")[0].split())  # the places, named by the scenario's [places]
    assert "Xã Tiên Dũng Huyện Lục Ngạn Tỉnh Bắc Giang" in cover, cover

    page_url = re.search(r"^  village page +(\S+)$", out, re.MULTILINE)
    assert page_url and page_url.group(1).endswith(f"/pages/villages/kha-ly-thuong?{window.group(1)}"), out
    page = httpx.get(page_url.group(1), headers={"X-API-Key": key}, timeout=60)
    assert page.status_code == 200, page.text[:500]
    assert page_verdicts(page.text) == printed
    place = re.search(r'<p class="place">(.*?)</p>', page.text)
    assert place and " ".join(re.sub(r"<[^>]+>", " ", place.group(1)).split()) == (
        "Tiên Dũng · Lục Ngạn · Bắc Giang · kha-ly-thuong"
    ), page.text[:2000]
    link = re.search(r'class="dossier" href="([^"]+)"', page.text)  # the page's PDF link: the printed dossier
    assert link and dossier.group(1).endswith(html.unescape(link.group(1))), page.text[:2000]


def _fingerprint(work: Path) -> str:
    """The demo gateway's key, read from its key file: what every surface must name, grouped by four."""
    key, created = load_or_create_key(work / "village" / "gateway-state" / "evidence" / "gateway.key")
    assert not created
    found = fingerprint(key.public_key())
    return " ".join(found[i : i + 4] for i in range(0, 16, 4))


def _check_verified(out: str, key: str, work: Path) -> None:
    grouped = _fingerprint(work)
    assert re.search(
        # in the page's formats, as its verification block writes them ("Đã xác minh 100,0 % (tối thiểu 99,0 %)")
        r"^  status +verified: verified 100\.0 % of the signed points \(minimum 99\.0 %\); faults: none$",
        out,
        re.MULTILINE,
    ), out
    assert re.search(rf"^  key +klt-gw1 {grouped}, valid from \d\d:\d\d:\d\d, current$", out, re.MULTILINE), (
        out
    )
    # the e-ID share the demo entered through the API, signed by the service's own key
    assert re.search(
        r"^  key +manual( [0-9a-f]{4}){4} \(the service, manual indicators\), valid from \d\d:\d\d:\d\d, current$",
        out,
        re.MULTILINE,
    ), out
    page_url = re.search(r"^  village page +(\S+)$", out, re.MULTILINE)
    assert page_url
    page = httpx.get(page_url.group(1), headers={"X-API-Key": key}, timeout=60).text
    block = page[page.index('<section id="verification"') : page.index('<section id="outages"')]
    assert 'data-status="verified"' in block and "Đã xác minh 100,0 %" in block, block
    assert f'<code class="fingerprint">{grouped}</code>' in block and "Không phát hiện sai lệch nào." in block
    # the commune's table the report printed, for the admin key: the demo village with the share it entered
    table = re.search(r"^  commune's table +(\S+)", out, re.MULTILINE)
    admin = re.search(r"^  admin key +(\S+)", out, re.MULTILINE)
    assert table and admin, out
    answer = httpx.get(table.group(1), headers={"X-API-Key": admin.group(1)}, timeout=60)
    assert answer.status_code == 200 and 'name="v.kha-ly-thuong"' in answer.text, answer.text[:2000]
    assert "31,5 %" in answer.text.split('name="v.kha-ly-thuong"')[0].rsplit("<tr", 1)[1]
    dossier = re.search(r"^  dossier +(\S+)$", out, re.MULTILINE)
    assert dossier
    text = " ".join(
        _pdf_text(httpx.get(dossier.group(1), headers={"X-API-Key": key}, timeout=120).content).split()
    )
    assert "Đã xác minh: 100,0 % số điểm có chữ ký hợp lệ" in text, text[:2000]
    assert f"klt-gw1 {grouped}" in text and "Không phát hiện sai lệch nào" in text


def _check_tamper_drill(out: str, key: str, work: Path) -> None:
    (work / "drill").mkdir()
    found, forged, answer, verify, forged_row, named, eid = drill.run(out, work / "drill")
    assert "'link': 'fiber'" in found and "evidence_seq" in found, found
    assert forged.startswith("HTTP/1.1 204"), forged
    # the coverage is printed so that a window too short for a verdict says so (insufficient_data comes first)
    verdict = re.search(
        r"^verdict unverified verified_pct (\d+\.\d) faults (\d+) coverage [\d.]+$", answer, re.MULTILINE
    )
    assert verdict and float(verdict.group(1)) < 99 and int(verdict.group(2)) >= 1, answer
    span = re.search(r"^altered klt-gw1 (\S+Z) (\S+Z) ", answer, re.MULTILINE)
    assert span and span.group(1) <= span.group(2), answer
    assert verify.rstrip().endswith("exit 1"), verify
    # the forged rollup row: found by the next rollup pass, named in the evidence and by thonminh verify
    assert forged_row.startswith("HTTP/1.1 204"), forged_row
    hour = (work / "drill" / "hour.txt").read_text().strip()
    fault = re.search(
        rf"^rollup_altered klt-gw1 {hour} \S+Z 1 row\(s\) of the rollup uplink_1h ", named, re.MULTILINE
    )
    assert fault, named
    assert re.search(rf"^  rollup_altered +klt-gw1 +{hour} \.\. ", named, re.MULTILINE), named
    assert named.rstrip().endswith("exit 1"), named
    # the manual indicator, signed by the service, altered by a direct write
    assert eid.startswith("HTTP/1.1 204") and "verdict unverified value 80.0 verified_pct 0.0" in eid, eid
    assert re.search(
        r"^altered manual \S+Z 1 indicator point of indicator=eid_adoption_pct whose values differ",
        eid,
        re.MULTILINE,
    ), eid
    # the village page the report printed shows it too: the fourth verdict and the fault in words
    page_url = re.search(r"^  village page +(\S+)$", out, re.MULTILINE)
    assert page_url
    page = httpx.get(page_url.group(1), headers={"X-API-Key": key}, timeout=60).text
    assert page_verdicts(page)["fiber_availability"] == "unverified"
    block = page[page.index('<section id="verification"') : page.index('<section id="outages"')]
    assert 'data-status="unverified"' in block and "Giá trị bị sửa" in block, block


def test_demo_reports_verdicts_its_printed_api_call_gives_and_stops_everything(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("THONMINH_DEMO_")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "thonminh.cli", "demo", "--duration", "22", "--workdir", str(tmp_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
        cwd=ROOT,
    )
    try:
        out = _report_until_running(proc, 240)
        printed = {}
        for criterion in CRITERIA:
            row = re.search(
                rf"^  {criterion['id']} +(PASS|FAIL|INSUFFICIENT_DATA|UNVERIFIED) ", out, re.MULTILINE
            )
            assert row, f"{criterion['id']} missing from the report:\n{out}"
            printed[criterion["id"]] = row.group(1).lower()
        assert re.search(r"^  eid_adoption +PASS +31\.5 %", out, re.MULTILINE), out  # entered through the API
        assert re.search(r"^  fiber outages +scheduled \d\d:\d\d:\d\d–", out, re.MULTILINE), out
        assert "measured" in out and "klt-007 lamp_failure" in out and "Wi-Fi users" in out
        # every MAC the gateway could have counted is counted, and none it could not have seen yet: the
        # count lay one under the simulated MACs, a device arrived within the gateway's poll and forward
        wifi = re.search(r"showing (\d+) MAC addresses .*; measured (\d+) unique users", out)
        assert wifi, out
        late = re.search(r"and (\d+) more MAC address\(es\) since", out)
        seen, measured = int(wifi.group(1)), int(wifi.group(2))
        assert seen <= measured <= seen + (int(late.group(1)) if late else 0), out
        assert re.search(r"admin key +\S+", out), out

        # the command the report prints gives the verdicts the report printed
        call = re.search(r"these verdicts +curl -H 'X-API-Key: (\S+)' '(\S+)'", out)
        assert call, out
        assert "/api/v1/villages/kha-ly-thuong/criteria?start=" in call.group(2)
        answer = httpx.get(call.group(2), headers={"X-API-Key": call.group(1)}, timeout=30)
        assert answer.status_code == 200, answer.text
        assert {c["id"]: c["verdict"] for c in answer.json()["criteria"]} == printed
        # so do the printed dossier (the PDF, as pdftotext reads it) and the printed village page
        _check_dossier_and_page(out, call.group(1), printed)
        # the gateway signed everything, its key is registered: verified 100 %, with its fingerprint everywhere
        _check_verified(out, call.group(1), tmp_path)
        # the tamper drill of docs/evidence.md, as written, on this demo: last, it alters the data
        _check_tamper_drill(out, call.group(1), tmp_path)

        started = re.search(r"^processes \(each its own process group\): (.+)$", out, re.MULTILINE)
        assert started, out
        pids = {int(pid) for pid in re.findall(r"\b(\d+)\b", started.group(1))}
        assert len(pids) == 5  # influxd, mosquitto, simulator, gateway, server
    finally:
        proc.send_signal(signal.SIGINT)  # Ctrl-C
        rest, _ = proc.communicate(timeout=120)
    assert f"stopped: {started.group(1)}" in rest
    assert _alive(pids) == []
    assert (tmp_path / "village" / "ground_truth.json").exists()
