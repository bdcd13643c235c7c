"""Whether a page can offer the dossier PDF of its period: by the dossier routes' own rules.

The link is offered only where ``GET /villages/{village}/report.pdf`` (or ``/communes/{commune}/report.pdf``)
makes a dossier, so a click never ends in the route's JSON refusal; where it refuses a period the person asked
for, the page says why in words instead. A page asked for no period (its default, the last days) offers the
last month that has ended, the dossier a commune files, when there is one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

# the package, not its names: the dossier's words come from server.pages.i18n, so whichever of the two packages
# is imported first finds the other half-made, and its functions are looked up when a page is made
from server import report
from server.errors import ParameterError, WindowTooLong
from server.queries import Scope
from server.service import Service

__all__ = ["Dossier", "dossier_of", "last_month"]


@dataclass(frozen=True, slots=True)
class Dossier:
    """The dossier of a page's period: the query of its PDF link, or the page word (``i18n``) saying why none
    can be made, with the route's own message as ``detail`` (the longest period's days, for a window too
    long). ``month`` names the month it covers, for the link's words."""

    query: dict[str, str] | None = None
    reason: str | None = None
    detail: str = ""
    month: str | None = None


def last_month(service: Service) -> str:
    """The last local month that has ended, ``2026-11``."""
    first = service.today().replace(day=1)
    return f"{first - timedelta(days=1):%Y-%m}"


def dossier_of(
    service: Service, scope: Scope, month: str | None, start: str | None, end: str | None
) -> Dossier | None:
    """The dossier of ``month`` or ``start``/``end`` as the page was asked for it; without a period, the last
    month that has ended where the route makes one, else None (no reason given for a month nobody asked)."""
    if not (month or (start and end)):
        offered = _checked(service, scope, last_month(service), None, None)
        return offered if offered.query else None
    return _checked(service, scope, month, start, end)


def _checked(
    service: Service, scope: Scope, month: str | None, start: str | None, end: str | None
) -> Dossier:
    query = {"month": month} if month else {"start": start or "", "end": end or ""}
    try:
        period = report.period_of(service, month, None if month else start, None if month else end)
    except WindowTooLong as err:  # a page shows up to a year, a dossier a season
        return Dossier(reason="dossier_too_long", detail=str(err.maximum_days))
    except ParameterError as err:
        # the page refuses a malformed or future month itself, so a month it shows is refused here only while
        # it runs; a start/end window may be refused for more reasons: the route's message says which
        return Dossier(reason="dossier_month_open" if month else "dossier_refused", detail=err.message)
    try:  # the route's "before any data" rule, the first step of every dossier
        report.villages_seen(service, scope, period)
    except ParameterError as err:
        return Dossier(reason="dossier_no_data", detail=err.message)
    return Dossier(query=query, month=month)
