"""The monthly dossier (issue 20): a village's or a commune's month as an A4 PDF for the paper file.

``village_report`` / ``commune_report`` take the service the API runs on, so every number is the API's for the
month's window; the route (``server/routes/report.py``) and ``thonminh report`` both call them. See docs/report.md.
"""

from __future__ import annotations

from server.report.data import commune_dossier, village_dossier
from server.report.month import Month, parse_month
from server.report.pdf import commune_pdf, village_pdf
from server.service import Service

__all__ = ["Month", "commune_report", "parse_month", "village_report"]


def village_report(service: Service, village: str, month: str) -> bytes:
    """The village's dossier for ``month`` (``YYYY-MM``); ``ApiError`` for a bad village or month."""
    parsed = parse_month(month, now=service.now(), zone=service.zone)
    return village_pdf(village_dossier(service, village, parsed), service.zone)


def commune_report(service: Service, commune: str, month: str) -> bytes:
    """The commune's dossier: a summary table of its villages, then a section per village."""
    parsed = parse_month(month, now=service.now(), zone=service.zone)
    return commune_pdf(commune_dossier(service, commune, parsed), service.zone)
