"""Every notation a MAC address can take, and a search for them in anything the gateway writes."""

from __future__ import annotations

from collections.abc import Iterable


def notations(mac: str) -> set[str]:
    """``aa:bb:..``, ``AA-BB-..``, ``aabb.ccdd.eeff``, bare hex, and dnsmasq's ``1:``/``01:`` prefixed forms."""
    mac = mac.lower()
    bare = mac.replace(":", "")
    forms = {
        mac,
        mac.replace(":", "-"),
        f"{bare[0:4]}.{bare[4:8]}.{bare[8:12]}",
        bare,
        "1:" + mac,
        "01:" + mac,
    }
    return forms | {f.upper() for f in forms}


def leaks(haystack: str | bytes, macs: Iterable[str]) -> list[str]:
    """The notations of ``macs`` found in ``haystack`` (compared case-insensitively)."""
    text = (haystack.decode("latin-1") if isinstance(haystack, bytes) else haystack).lower()
    return sorted({form for mac in macs for form in notations(mac) if form.lower() in text})
