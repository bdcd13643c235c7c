"""``GET /villages/{village}/report.pdf`` and ``GET /communes/{commune}/report.pdf``: the monthly dossier."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import Response

from server import report
from server.deps import TAG_PATTERN, VILLAGE_ERRORS, KnownVillage, ServiceDep, require_read

router = APIRouter(tags=["report"], dependencies=[Depends(require_read)], responses=VILLAGE_ERRORS)

MonthQuery = Annotated[str, Query(min_length=1, max_length=16, description="the month, YYYY-MM (local calendar)",
                                  examples=["2025-03"])]
PDF_RESPONSE: dict[int | str, dict] = {200: {"content": {"application/pdf": {"schema": {"type": "string",
                                                                                        "format": "binary"}}}}}


def _pdf(body: bytes, name: str) -> Response:
    return Response(body, media_type="application/pdf",
                    headers={"Content-Disposition": f"attachment; filename*=UTF-8''{quote(name)}"})


@router.get("/villages/{village}/report.pdf", response_class=Response, responses=PDF_RESPONSE)
def village_report(service: ServiceDep, village: KnownVillage, month: MonthQuery) -> Response:
    """The village's monthly dossier (docs/report.md)."""
    return _pdf(report.village_report(service, village, month), f"ho-so-{village}-{month}.pdf")


@router.get("/communes/{commune}/report.pdf", response_class=Response, responses=PDF_RESPONSE)
def commune_report(service: ServiceDep, month: MonthQuery,
                   commune: Annotated[str, Path(min_length=1, max_length=128, pattern=TAG_PATTERN,
                                                description="the commune slug (tag `commune`)")]) -> Response:
    """The commune's monthly dossier: a summary of its villages, then a section per village."""
    return _pdf(report.commune_report(service, commune, month), f"ho-so-{commune}-{month}.pdf")
