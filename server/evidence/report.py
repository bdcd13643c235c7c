"""``thonminh verify``'s work: the service's verification of a village and window, as text or JSON."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import click

from server.catalog import read_span
from server.evidence.combine import Verification, in_order
from server.evidence.faults import Fault
from server.evidence.indicator_record import indicators_verified
from server.evidence.selected import values
from server.queries import Scope
from server.timeparse import iso
from thonminh.contract import INDICATOR
from thonminh.evidence import SIGNED_MEASUREMENTS, VERIFIED_MEASUREMENTS
from thonminh.evidencekeys import grouped
from thonminh.figures import FIGURES

__all__ = ["describe", "run_verification"]

#: the figure that reads the manual indicators
INDICATOR_FIGURE = next(k for k, f in FIGURES.items() if f.measurement.name == INDICATOR.name)


def run_verification(
    config_path: str, village: str, start: str, end: str, *, as_json: bool
) -> tuple[int, str]:
    """(exit status, what to print). Usage and configuration errors raise ``click.UsageError`` (status 2)."""
    from server.app import create_app
    from server.config import load_server_config
    from server.errors import ApiError
    from server.evidence.hourly import verify_or_fail
    from thonminh.errors import InfluxError

    config = load_server_config(config_path)
    if config.evidence.registry is None:
        raise click.UsageError(
            f"{config_path}: no key registry ([evidence] registry): nothing to verify against"
        )
    # the app's service, not served, reading every hour afresh (not the results a running service keeps)
    service = create_app(config, open_read_only=True, keep_results=False).state.service
    assert service.verifier is not None
    try:
        window = service.window(start, end)
        # the service's answer for the village: a fault of the verifier on its data is a fault, exit 1
        found = verify_or_fail(service.verifier, village, window.start_ms, window.end_ms)
        # a figure that reads samples before the window (a daily one: its first day's point at local midnight)
        # is weighed over them, as its verdict is
        wider: dict[str, tuple[int | None, Verification]] = {}
        for name, f in FIGURES.items():
            span = read_span(f, window, service.reader.daily_zone)
            if span != (window.start_ms, window.end_ms) and f.measurement.name in SIGNED_MEASUREMENTS:
                wider[name] = (span[0], verify_or_fail(service.verifier, village, *span))
        # manual indicators: signed by the service itself when they were entered (docs/evidence.md)
        whole = (window.start_ms, window.end_ms)
        scope = Scope(village=village)
        entered = indicators_verified(service.reader, scope, [village], service.verifier, whole).get(village)
        if entered is not None:
            wider[INDICATOR_FIGURE] = (None, entered)
    except ApiError as err:
        raise click.UsageError(err.message) from err
    except InfluxError as err:
        raise click.UsageError(f"InfluxDB at {config.influxdb.url}: {err}") from err
    finally:
        service.verifier.close()
        service.reader.client.close()
    result = describe(found, village, window.start_ms, window.end_ms, wider)
    ok = (
        not result["faults"]
        and all(v == p for p, v in found.counts.values())
        and all(f["verified_points"] == f["points"] for f in result["figures"].values())
    )
    return (0 if ok else 1), json.dumps(result, ensure_ascii=False, indent=2) if as_json else _text(result)


def _fault(f: Fault) -> dict[str, Any]:
    return {
        "kind": f.kind,
        "gateway": f.gateway,
        "start": iso(f.start_ms),
        "end": iso(f.end_ms),
        "detail": f.detail,
        "measurements": list(f.measurements),
        "count": f.count,
    }


def describe(
    found: Verification,
    village: str,
    start_ms: int,
    end_ms: int,
    wider: Mapping[str, tuple[int | None, Verification]] | None = None,
) -> dict[str, Any]:
    """Per figure (a figure of one link or access point: per value found) and per measurement: samples,
    verified samples, verified_pct; every fault; the keys. ``wider``: the figures verified apart, with their
    first sample's time when it is before the window (``server.catalog.read_span``; None: the window's), and
    their verification: a daily figure's, and the manual indicators' (the service's own signatures)."""
    wider = wider or {}
    faults = list(found.faults)

    def share(of: Verification, measurement: str, selection: dict[str, str] | None = None) -> dict[str, Any]:
        points, verified = of.of(measurement, selection)
        return {
            "points": points,
            "verified_points": verified,
            "verified_pct": 100.0 * verified / points if points else None,
        }

    figures = {}
    for name, f in FIGURES.items():
        m = f.measurement.name
        if m not in VERIFIED_MEASUREMENTS or (m not in SIGNED_MEASUREMENTS and name not in wider):
            continue
        since, of = wider.get(name, (None, found))
        more = {"since": iso(since)} if since is not None else {}
        if of is not found:  # its own faults: before the window too, or the indicators' own
            known = set(faults)
            faults += [fault for fault in of.faults_of(m) if fault not in known]
        selecting = [p for p in f.params if p.tag]
        if not selecting or not selecting[0].required:
            figures[name] = {"measurement": m, **share(of, m), **more}
        for p in selecting:
            for value in values(of.selected, m, p.tag or ""):
                figures[f"{name} {p.tag}={value}"] = {
                    "measurement": m,
                    **share(of, m, {p.tag or "": value}),
                    **more,
                }

    return {
        "village": village,
        "hours": {
            "start": iso(start_ms - start_ms % 3_600_000),
            "count": found.hours,
            "note": "whole UTC hours: every hour the window touches",
        },
        "figures": figures,
        "measurements": {m: share(found, m) for m in SIGNED_MEASUREMENTS if m in found.counts},
        "keys": [
            {"gateway": g, "fingerprint": k}
            for g, k in sorted(found.keys.union(*(v.keys for _, v in wider.values())))
        ],
        "faults": [_fault(f) for f in in_order(faults)],
    }


def _pct(value: float | None) -> str:
    return "no samples" if value is None else f"{value:.2f} %"


def _text(result: dict[str, Any]) -> str:
    lines = [
        f"village {result['village']}: {result['hours']['count']} UTC hour(s) from {result['hours']['start']}"
    ]
    for key, f in result["figures"].items():
        lines.append(
            f"  {key:<34} {f['measurement']:<12} {f['verified_points']:>9,} of {f['points']:>9,}  "
            f"{_pct(f['verified_pct'])}" + (f"  from {f['since']}" if "since" in f else "")
        )
    others = {
        m: s
        for m, s in result["measurements"].items()
        if m not in {f["measurement"] for f in result["figures"].values()}
    }
    for m, s in others.items():
        lines.append(
            f"  {'(no figure)':<34} {m:<12} {s['verified_points']:>9,} of {s['points']:>9,}  "
            f"{_pct(s['verified_pct'])}"
        )
    lines.append(
        "keys: "
        + (", ".join(f"{k['gateway']} {grouped(k['fingerprint'])}" for k in result["keys"]) or "none")
    )
    lines.append(f"faults: {len(result['faults'])}")
    for f in result["faults"]:
        where = f" [{', '.join(f['measurements'])}]" if f["measurements"] else ""
        lines.append(f"  {f['kind']:<18} {f['gateway']}  {f['start']} .. {f['end']}{where}: {f['detail']}")
    return "\n".join(lines)
