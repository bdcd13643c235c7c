"""CSV exports of uptime, outages and criteria, for the monthly reports (``?format=csv`` or ``Accept: text/csv``)."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.responses import Response

from server import models as m

__all__ = [
    "CSV_RESPONSE",
    "criteria_rows",
    "csv_response",
    "outage_rows",
    "rollup_rows",
    "uptime_rows",
    "wants_csv",
]

#: For the OpenAPI schema of routes that can answer in CSV.
CSV_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/csv": {"schema": {"type": "string"}}}}
}
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
#: a formula after a ``;``: a spreadsheet set to split on ``;`` (a comma-decimal locale's list separator) opens
#: ``b;=HYPERLINK(...)`` as two cells, the second a formula (a device chooses some of a probe's reason)
_FORMULA_INSIDE = re.compile(r";\s*[=+\-@]")


def wants_csv(request: Request, fmt: str | None) -> bool:
    if fmt is not None:
        return fmt in ("csv", "excel")
    accept = request.headers.get("accept", "")
    return "text/csv" in accept and "application/json" not in accept


#: columns whose values are times: written in the answer's time zone with its offset, for officials reading
#: them in a spreadsheet; to the second, or the millisecond as in the JSON where the time has one
_TIMES = {"start", "end"}


def header(column: str) -> str:
    """The column's name with its unit, so a spreadsheet shows what the numbers are."""
    if column.endswith("_pct"):
        return f"{column} (%)"
    if column.endswith("_s"):
        return f"{column} (s)"
    if column in ("coverage", "min_coverage"):
        return f"{column} (0..1)"
    return column


def _cell(value: Any, column: str, zone: ZoneInfo) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return round(value, 6)
    if column in _TIMES and isinstance(value, str) and value.endswith("Z"):
        local = datetime.fromisoformat(value).astimezone(zone)
        return local.isoformat(timespec="milliseconds" if local.microsecond else "seconds")
    if isinstance(value, str) and (value.startswith(_FORMULA_START) or _FORMULA_INSIDE.search(value)):
        return "'" + value  # a spreadsheet would run it as a formula
    return value


def to_csv(columns: Sequence[str], rows: Iterable[dict[str, Any]], zone: ZoneInfo) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([header(c) for c in columns])
    for row in rows:
        writer.writerow([_cell(row.get(c), c, zone) for c in columns])
    return out.getvalue()


def csv_response(
    columns: Sequence[str],
    rows: Iterable[dict[str, Any]],
    filename: str,
    *,
    zone: ZoneInfo,
    fmt: str | None = None,
) -> Response:
    """``fmt='excel'``: the same CSV with a UTF-8 byte order mark, which Excel needs to read Vietnamese right."""
    # headers are latin-1 on the wire: an ASCII name, and the real (Vietnamese) one in RFC 5987 form
    ascii_name = "".join(c if c.isascii() and (c.isalnum() or c in "-_.") else "_" for c in filename)
    disposition = f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename, safe='')}"
    text = to_csv(columns, rows, zone)
    return Response(
        ("\ufeff" if fmt == "excel" else "") + text,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": disposition},
    )


_AVAIL = ["availability_pct", "up_s", "down_s", "unknown_s", "observed_s", "coverage", "samples"]
UPTIME_COLUMNS = ["village", "link", "start", "end", *_AVAIL, "timezone"]


def uptime_rows(u: m.UptimeOut) -> list[dict[str, Any]]:
    rows = []
    for link in u.links:
        parts = link.steps if link.steps is not None else [link]
        for part in parts:
            start = getattr(part, "start", u.window.start)
            end = getattr(part, "end", u.window.end)
            rows.append(
                {
                    "village": u.village,
                    "link": link.link,
                    "start": start,
                    "end": end,
                    "timezone": u.window.timezone,
                    **part.model_dump(include=set(_AVAIL)),
                }
            )
    return rows


OUTAGE_COLUMNS = [
    "village",
    "link",
    "start",
    "end",
    "open",
    "started_before_window",
    "duration_s",
    "in_window_s",
    "reason",
]


def outage_rows(o: m.OutagesOut) -> list[dict[str, Any]]:
    return [{"village": o.village, **x.model_dump()} for x in o.outages]


#: a verdict's columns, the same in the village's criteria and the roll-up of many villages
_VERDICT = [
    "verdict",
    "value",
    "unit",
    "comparator",
    "threshold",
    "coverage",
    "min_coverage",
    "samples",
    "verified_pct",
]
CRITERIA_COLUMNS = [
    "village",
    "criterion",
    "title_vi",
    "title_en",
    *_VERDICT,
    "verification",
    "start",
    "end",
    "timezone",
]


def criteria_rows(c: m.VillageCriteriaOut) -> list[dict[str, Any]]:
    return [
        {
            "village": c.village,
            "criterion": v.id,
            "title_vi": v.title.vi,
            "title_en": v.title.en,
            "verdict": v.verdict,
            "value": v.evidence.value,
            "unit": v.evidence.unit or v.unit,
            "comparator": v.comparator,
            "threshold": v.threshold,
            "coverage": v.evidence.coverage,
            "min_coverage": v.min_coverage,
            "samples": v.evidence.samples,
            "verified_pct": v.evidence.verified_pct,
            "verification": v.evidence.verification.status,
            "start": v.evidence.window.start,
            "end": v.evidence.window.end,
            "timezone": c.timezone,
        }
        for v in c.criteria
    ]


ROLLUP_COLUMNS = [
    "province",
    "district",
    "commune",
    "village",
    "criterion",
    *_VERDICT,
    "start",
    "end",
    "timezone",
]


def rollup_rows(r: m.CriteriaRollupOut) -> list[dict[str, Any]]:
    by_id = {c.id: c for c in r.criteria}
    rows = []
    for v in r.villages:
        for cid, verdict in v.verdicts.items():
            c = by_id[cid]
            rows.append(
                {
                    "province": v.province,
                    "district": v.district,
                    "commune": v.commune,
                    "village": v.village,
                    "criterion": cid,
                    "verdict": verdict.verdict,
                    "value": verdict.value,
                    "unit": c.unit,
                    "comparator": c.comparator,
                    "threshold": c.threshold,
                    "coverage": verdict.coverage,
                    "min_coverage": c.min_coverage,
                    "samples": verdict.samples,
                    "verified_pct": verdict.verified_pct,
                    "start": c.windows[0].start,
                    "end": c.windows[0].end,
                    "timezone": r.timezone,
                }
            )
    return rows
