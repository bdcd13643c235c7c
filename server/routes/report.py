"""``GET /villages/{village}/report.pdf`` and ``GET /communes/{commune}/report.pdf``: the dossier of a month or
of any period (``month=YYYY-MM``, or ``start=&end=`` as every other window of the API)."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import Response

from server import report
from server.deps import TAG_PATTERN, VILLAGE_ERRORS, KnownVillage, ServiceDep, TimeQuery, require_read

router = APIRouter(tags=["report"], dependencies=[Depends(require_read)], responses=VILLAGE_ERRORS)

MonthQuery = Annotated[
    str | None,
    Query(
        min_length=1,
        max_length=16,
        examples=["2025-03"],
        description="a whole month that has ended, YYYY-MM (local calendar); or give start and end instead",
    ),
]
PDF_RESPONSE: dict[int | str, dict] = {
    200: {"content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}}}
}


def period_params(
    service: ServiceDep, month: MonthQuery = None, start: TimeQuery = None, end: TimeQuery = None
) -> report.Period:
    """Exactly one of ``month`` or ``start`` and ``end``; 422 naming the parameter otherwise."""
    return report.period_of(service, month, start, end)


PeriodParams = Annotated[report.Period, Depends(period_params)]


def _pdf(body: bytes, name: str) -> Response:
    return Response(
        body,
        media_type="application/pdf",
        headers={"Content-Disposition": f"attachment; filename*=UTF-8''{quote(name)}"},
    )


@router.get("/villages/{village}/report.pdf", response_class=Response, responses=PDF_RESPONSE)
def village_report(service: ServiceDep, village: KnownVillage, period: PeriodParams) -> Response:
    """The village's dossier for a month or a period (docs/report.md)."""
    return _pdf(report.village_report(service, village, period), f"ho-so-{village}-{period.text}.pdf")


@router.get("/communes/{commune}/report.pdf", response_class=Response, responses=PDF_RESPONSE)
def commune_report(
    service: ServiceDep,
    period: PeriodParams,
    commune: Annotated[
        str,
        Path(
            min_length=1, max_length=128, pattern=TAG_PATTERN, description="the commune slug (tag `commune`)"
        ),
    ],
) -> Response:
    """The commune's dossier: a summary of its villages, then a section per village."""
    return _pdf(report.commune_report(service, commune, period), f"ho-so-{commune}-{period.text}.pdf")
