"""The dossier's outage part read with pdftotext, from outage answers shaped as the API gives them: the gateway's
reason in Vietnamese words where the gateway writes a fixed form, wrapped where a person breaks it (after ``; ``
and spaces, a URL whole or after a ``/``), and MTBF and MTTR explained where they first appear. The real
service's part: test_village.py."""

from __future__ import annotations

import re
from zoneinfo import ZoneInfo

import pdftools
import pytest
from reportlab.pdfbase.pdfmetrics import stringWidth

from server import models as m
from server.report.month import Month
from server.report.outages import outages, wrap
from server.report.pdf import _render
from server.report.period import Period
from server.report.styles import styles

ZONE = ZoneInfo("Asia/Ho_Chi_Minh")
MARCH = Period.of_month(Month(2025, 3, ZONE))
#: as edge/sources/uplink/source.py writes a down cycle's reason
REASON = (
    "0/3 targets answered (min_ok 2): tcp 127.0.0.2:34629: refused; "
    "http://127.0.0.2:38347/generate_204: timed out; icmp 10.0.0.1: no reply"
)
#: wider than the page: it has to break, and may only after a "/"
LONG_URL = (
    "http://connectivity-check.example.net:8080/probe/village/kha-ly-thuong/link/fiber/gateway/gw-kly/"
    "target/connectivity-check/generate_204"
)


def answer(*reasons: str) -> m.OutagesOut:
    return m.OutagesOut(
        village="kha-ly-thuong",
        window=m.WindowOut(
            start="2025-02-28T17:00:00Z", end="2025-03-31T17:00:00Z", seconds=2_678_400, timezone=ZONE.key
        ),
        outages=[
            m.OutageOut(
                link="fiber",
                start="2025-03-05T03:00:00Z",
                end="2025-03-05T05:30:00Z",
                open=False,
                started_before_window=False,
                duration_s=9000,
                in_window_s=9000,
                reason=reason,
            )
            for reason in reasons
        ],
        links=[
            m.LinkReliability(
                link="fiber",
                failures=len(reasons),
                restored=len(reasons),
                downtime_s=9000,
                mtbf_s=1e6,
                mttr_s=9000,
            )
        ],
        queries=[],
    )


def printed(found: m.OutagesOut, *, explain: bool = True) -> list[str]:
    """The part's lines as pdftotext reads them (without ``-layout``: a cell's lines one after another)."""
    story = outages(found, MARCH, ZONE, styles(), explain=explain)
    return [line.strip() for line in pdftools.text(_render(story, "test"), layout=False).splitlines()]


def test_the_gateways_reason_is_in_vietnamese_with_its_detail_verbatim() -> None:
    text = " ".join(printed(answer(REASON)))
    assert "Lý do: 0/3 địa chỉ kiểm tra trả lời (cần tối thiểu 2): tcp 127.0.0.2:34629: refused;" in text
    assert "targets answered" not in text and "min_ok" not in text
    assert "http://127.0.0.2:38347/generate_204: timed out; icmp 10.0.0.1: no reply" in text


@pytest.mark.parametrize(
    ("reason", "shown"),
    [
        ("start", "không hoạt động ngay khi gateway bắt đầu đo"),
        ("mất tín hiệu quang", "mất tín hiệu quang"),  # not the gateway's fixed form: as written
        ("2/3 targets answered (min_ok 3)", "2/3 địa chỉ kiểm tra trả lời (cần tối thiểu 3)"),
        # a head that only looks like the gateway's keeps its words
        ("0/3 targets answered (min_ok two): x", "0/3 targets answered (min_ok two): x"),
    ],
)
def test_other_reasons_in_vietnamese_or_as_written(reason: str, shown: str) -> None:
    assert shown in " ".join(printed(answer(reason)))


def breaks_inside(lines: list[str], name: str) -> list[str]:
    """What ends each line that breaks ``name`` (found in ``lines`` read one after another)."""
    joined = "".join(lines)
    at = joined.index(name)
    ends, offset = [], 0
    for line in lines:
        offset += len(line)
        if at < offset < at + len(name):
            ends.append(joined[offset - 1])
    return ends


def test_a_url_is_never_broken_inside_a_name() -> None:
    lines = printed(answer(REASON, f"0/1 targets answered (min_ok 1): {LONG_URL}: refused"))
    # a failed target a line: each "; " ends one
    assert not [line for line in lines if "; " in line], lines
    assert "refused;" in lines or any(line.endswith(" refused;") for line in lines), lines
    for url in ("http://127.0.0.2:38347/generate_204", LONG_URL):
        assert set(breaks_inside(lines, url)) <= {"/"}, lines
    assert breaks_inside(lines, LONG_URL), "the long URL is wider than the row: it must break somewhere"
    assert breaks_inside(lines, "127.0.0.2:34629") == []


def test_wrap_breaks_at_spaces_then_after_slashes() -> None:
    style = styles().cell

    def width(text: str) -> float:
        return stringWidth(text, style.fontName, style.fontSize)

    longest = "connectivity-check.example.net:8080/"  # the URL's widest piece between two "/"
    lines = wrap(f"timed out; {LONG_URL}", width(longest) + 1, style)
    assert lines[:3] == ["timed out;", "http://", longest]
    assert "".join(lines[1:]) == LONG_URL
    assert all(line.endswith("/") for line in lines[1:-1])
    assert all(width(line) <= width(longest) + 1 for line in lines)
    # a URL that fits a line moves to the next line whole rather than being split
    url = "http://127.0.0.2:38347/generate_204"
    assert wrap(f"refused {url}", width(url) + 1, style) == ["refused", url]
    # a name longer than a line (no "/" to break at) stays whole, for ReportLab to split
    assert wrap("a " + "x" * 40, width("x" * 10), style) == ["a", "x" * 40]


def test_mtbf_and_mttr_are_explained_where_they_first_appear() -> None:
    text = " ".join(" ".join(printed(answer(REASON))).split())
    mtbf = "MTBF (thời gian hoạt động trung bình giữa hai lần mất kết nối)"
    mttr = "MTTR (thời gian khôi phục trung bình)"
    assert text.index("MTBF") == text.index(mtbf)
    assert text.index("MTTR") == text.index(mttr)
    assert text.count(mtbf) == 1 and text.count(mttr) == 1
    # the second village's part of a commune's dossier: explained once, in the first
    later = " ".join(printed(answer(REASON), explain=False))
    assert "MTBF" in later and "trung bình giữa hai lần" not in later
    assert not re.search(r"MTTR \(", later)
