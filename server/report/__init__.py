"""The dossier (issue 20): a village's or a commune's month, or any period, as an A4 PDF for the paper file.

``village_report`` / ``commune_report`` take the service the API runs on, so every number is the API's for the
period's window; the route (``server/routes/report.py``) and ``thonminh report`` both call them. See docs/report.md.
"""

from __future__ import annotations

from server.report.data import commune_dossier, village_dossier, villages_seen
from server.report.month import Month, parse_month
from server.report.pdf import commune_pdf, village_pdf
from server.report.period import MAX_DAYS, Period, parse_period
from server.service import Service

__all__ = ["Month", "Period", "commune_report", "parse_month", "period_of", "village_report", "villages_seen"]


def period_of(
    service: Service, month: str | None = None, start: str | None = None, end: str | None = None
) -> Period:
    """Exactly one of ``month`` (a whole month that has ended) or ``start`` and ``end`` (the API's window rule:
    ``[start, end)``, end capped at now, at most ``MAX_DAYS`` and the service's ``max_window_days``)."""
    return parse_period(
        month,
        start,
        end,
        now=service.now(),
        zone=service.zone,
        max_days=min(MAX_DAYS, service.config.max_window_days),
    )


def village_report(service: Service, village: str, period: Period) -> bytes:
    """The village's dossier for ``period``; ``ApiError`` for a bad village or a period before its data."""
    return village_pdf(village_dossier(service, village, period), service.zone)


def commune_report(service: Service, commune: str, period: Period) -> bytes:
    """The commune's dossier: a summary table of its villages, then a section per village."""
    return commune_pdf(commune_dossier(service, commune, period), service.zone)
