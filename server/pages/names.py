"""What people call the ids and the fixed English texts the data carries: a link (``fiber``), a light's fault
(``offline``), the gateway's reason for an outage. In Vietnamese and English, for the pages and for the dossier
(``server/report/vi.py`` takes the Vietnamese), so both surfaces say the same words.

An id or text that has no words here yet is shown as written: a new link or fault is visible, not hidden.
"""

from __future__ import annotations

import re

from server.evidence.faults import POINT_DETAIL
from thonminh import display

__all__ = [
    "LIGHT_FAULTS",
    "LINKS",
    "fault_detail_text",
    "light_fault_name",
    "link_name",
    "reason_text",
    "source_text",
]

#: (vi, en) of each link id the gateways measure (edge/sources/uplink)
LINKS: dict[str, tuple[str, str]] = {
    "fiber": ("Cáp quang", "Fiber"),
    "4g": ("4G", "4G"),
}

#: (vi, en) of each fault a light reports: the core's words (thonminh/display.py), which Grafana shows too
LIGHT_FAULTS: dict[str, tuple[str, str]] = {
    fault: (f.title.vi, f.title.en) for fault, f in display.LIGHT_FAULTS.items()
}

# The gateway's reasons, as edge/sources/uplink/source.py and state.py write them: what follows the head's colon
# (each failed target and its error) is quoted as written.
#: the head of a cycle's reason: ``0/3 targets answered``, and when the cycle was down `` (min_ok 2)`` and a
#: colon before the failed targets
_HEAD = re.compile(r"(\d+)/(\d+) targets answered(?: \(min_ok (\d+)\))?(?=: |$)")
#: the reason of a link's first declared state after the gateway started
_START = "start"
_REASONS = {
    "start": (
        "đường truyền không hoạt động ngay khi gateway bắt đầu đo",
        "down from the moment the gateway started measuring",
    ),
    "answered": (
        "{answered}/{probed} địa chỉ kiểm tra trả lời",
        "{answered}/{probed} test addresses answered",
    ),
    "needed": (" (cần tối thiểu {min_ok})", " (at least {min_ok} needed)"),
}


def _in(pair: tuple[str, str], lang: str) -> str:
    return pair[0] if lang == "vi" else pair[1]


def link_name(link: str, lang: str) -> str:
    """``Cáp quang`` / ``Fiber`` for ``fiber``."""
    return _in(LINKS[link], lang) if link in LINKS else link


def light_fault_name(fault: str, lang: str) -> str:
    """``Mất kết nối`` / ``Offline`` for ``offline``."""
    return _in(LIGHT_FAULTS[fault], lang) if fault in LIGHT_FAULTS else fault


def reason_text(reason: str, lang: str) -> str:
    """The gateway's reason with its fixed head in ``lang``; any other text as written."""
    if reason == _START:
        return _in(_REASONS["start"], lang)
    head = _HEAD.match(reason)
    if head is None:
        return reason
    answered, probed, min_ok = head.groups()
    words = _in(_REASONS["answered"], lang).format(answered=answered, probed=probed)
    if min_ok:
        words += _in(_REASONS["needed"], lang).format(min_ok=min_ok)
    return words + reason[head.end() :]


#: who entered a manual indicator, as server/indicators.py writes it: ``<note> (key <name>)`` or ``key <name>``
_SOURCE = re.compile(r"^(?:(?P<note>.*) \(key (?P<named>[^()]+)\)|key (?P<bare>[^()]+))$", re.DOTALL)
_KEY = ("khóa API {name}", "API key {name}")


def source_text(source: str, lang: str) -> str:
    """``Nguyen Thi Hoa (khóa API officer-hoa)`` for ``Nguyen Thi Hoa (key officer-hoa)``: the note as written,
    the key's name in ``lang``; any other text as written."""
    match = _SOURCE.match(source)
    if match is None:
        return source
    key = _in(_KEY, lang).format(name=match.group("named") or match.group("bare"))
    return f"{match.group('note')} ({key})" if match.group("named") else key


#: (vi, en) of each signed measurement's points, as a point fault's detail names them (server/evidence/faults.py)
_POINTS = {
    "uplink": ("mẫu đo đường truyền", "uplink point(s)"),
    "uplink_event": ("sự kiện đường truyền", "uplink_event point(s)"),
    "modem": ("mẫu đo modem 4G", "modem point(s)"),
    "wifi": ("mẫu đo Wi-Fi", "wifi point(s)"),
    "wifi_daily": ("số người dùng Wi-Fi trong ngày", "wifi_daily point(s)"),
    "streetlight": ("mẫu đo đèn đường", "streetlight point(s)"),
    "gateway": ("mẫu đo của gateway", "gateway point(s)"),
}
#: what each point fault says of its points (``POINT_DETAIL``), in Vietnamese
_POINT_DETAIL_VI = {
    "unsigned": "không có evidence_seq: không do bộ chuyển tiếp của gateway nào ghi",
    "no_manifest": "có bản kê ký số (manifest) không còn trong InfluxDB",
    "altered": "có giá trị khác với giá trị bản kê đã ký",
    "injected": "nằm ở chuỗi và thời điểm mà bản kê của chúng không liệt kê",
}
#: ``server.evidence.faults.point_detail``'s text: ``10 uplink point(s) of link=4g without evidence_seq: ...``
_POINT_FAULT = re.compile(
    r"(?P<count>\d+) (?P<measurement>\w+) point\(s\)(?: of (?P<of>.+?))? (?P<what>"
    + "|".join(re.escape(text) for text in POINT_DETAIL.values())
    + ")"
)


def fault_detail_text(detail: str, lang: str) -> str:
    """A point fault's detail in ``lang`` (``2 mẫu đo đường truyền (link=fiber) có giá trị khác ...``); any other
    detail as written (a batch's or a key's, which name numbers and keys)."""
    match = _POINT_FAULT.fullmatch(detail)
    if lang != "vi" or match is None or match["measurement"] not in _POINTS:
        return detail
    kind = next(k for k, text in POINT_DETAIL.items() if text == match["what"])
    of = f" ({match['of']})" if match["of"] else ""
    return f"{match['count']} {_POINTS[match['measurement']][0]}{of} {_POINT_DETAIL_VI[kind]}"
