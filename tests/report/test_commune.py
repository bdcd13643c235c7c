"""A commune's dossier: the summary table first, with the API's roll-up figures, then a section per village."""

from __future__ import annotations

import pdftools
import rep_scenario as sc
from fastapi.testclient import TestClient
from rep_helpers import iso as _iso
from rep_helpers import summary_cells
from srv_helpers import READ


def test_summary_equals_the_roll_up_and_every_village_has_its_section(
    api: TestClient, month: sc.MonthScenario
):
    response = api.get("/api/v1/communes/an-lac/report.pdf", params={"month": month.text}, headers=READ)
    assert response.status_code == 200, response.text
    text = pdftools.text(response.content)
    roll_up = api.get(
        "/api/v1/criteria",
        headers=READ,
        params={"commune": "an-lac", "start": _iso(month.start_ms), "end": _iso(month.end_ms)},
    ).json()
    names = {"kha-ly-thuong": sc.NAME_A, "ban-ven": "ban-ven"}
    assert {v["village"] for v in roll_up["villages"]} == set(names)
    summary = text[text.index("Bảng tổng hợp các thôn") :]
    for village in roll_up["villages"]:
        row = next(
            line for line in summary.splitlines() if line.strip().startswith(names[village["village"]])
        )
        # each value beside its verdict's mark: the cells' tints alone are lost on a black-and-white printer
        assert "".join(row.split()).endswith(summary_cells(village, roll_up["criteria"])), row
    assert text.index("Bảng tổng hợp các thôn") < text.index("1.1. Kết quả các tiêu chí")
    assert "2.1. Kết quả các tiêu chí" in text
    for role in ("Cán bộ Ủy ban nhân dân xã", f"Trưởng thôn {sc.NAME_A}", "Trưởng thôn ban-ven"):
        assert role in text
    assert f"Xã {sc.COMMUNE} · tháng {month.first:%m/%Y}" in text


def test_mtbf_and_mttr_are_explained_once_in_the_first_villages_part(
    api: TestClient, month: sc.MonthScenario
):
    response = api.get("/api/v1/communes/an-lac/report.pdf", params={"month": month.text}, headers=READ)
    flat = " ".join(pdftools.text(response.content).split())
    for meaning in (
        "MTBF (thời gian hoạt động trung bình giữa hai lần mất kết nối)",
        "MTTR (thời gian khôi phục",
    ):
        assert flat.count(meaning) == 1, meaning
        assert flat.index(meaning) < flat.index("2.1. Kết quả các tiêu chí")
