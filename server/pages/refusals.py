"""A refused request in the page's language: the API's message is written for another service, in English, and
names the parameter; a page says in its own words which field was wrong and keeps that message as the
technical detail, for whoever fixes the link.
"""

from __future__ import annotations

from dataclasses import dataclass

from server.errors import ApiError, NotFound, ParameterError, WindowTooLong

__all__ = ["FIELDS", "Refusal", "refusal"]

#: (vi, en) of each query parameter a page passes on to the API
FIELDS: dict[str, tuple[str, str]] = {
    "start": ("thời điểm bắt đầu", "start"),
    "end": ("thời điểm kết thúc", "end"),
    "month": ("tháng", "month"),
    "province": ("tỉnh", "province"),
    "district": ("huyện", "district"),
    "commune": ("xã", "commune"),
    "village": ("thôn", "village"),
    "sort": ("cột sắp xếp", "sort column"),
    "criterion": ("tiêu chí", "criterion"),
    "verdict": ("kết quả", "verdict"),
    "tz": ("múi giờ", "time zone"),
}
_SENTENCES = {
    "not_found": ("Không tìm thấy {field} này trong dữ liệu.", "No such {field} in the data."),
    "invalid": ("Giá trị của {field} không hợp lệ.", "The {field} given is not valid."),
    "too_long": (
        "Khoảng thời gian dài hơn mức tối đa {days} ngày.",
        "The window is longer than the maximum of {days} days.",
    ),
    "other": ("Không trả lời được yêu cầu này.", "This request cannot be answered."),
}
_DETAIL = ("Chi tiết kỹ thuật (tiếng Anh)", "Details")


@dataclass(frozen=True, slots=True)
class Refusal:
    """What the page says (``sentence``) and the API's own message under ``detail_label``."""

    sentence: str
    detail_label: str
    detail: str


def refusal(err: ApiError, lang: str) -> Refusal:
    """``err`` in ``lang`` (``vi`` or ``en``): a sentence naming the field, and the API's message."""
    pick = 0 if lang == "vi" else 1
    if isinstance(err, WindowTooLong):
        return Refusal(_SENTENCES["too_long"][pick].format(days=err.maximum_days), _DETAIL[pick], err.message)
    kind = (
        "not_found"
        if isinstance(err, NotFound)
        else "invalid"
        if isinstance(err, ParameterError)
        else "other"
    )
    field = FIELDS.get(err.parameter or "")
    if field is None and kind != "other":
        kind, field = "other", ("", "")
    sentence = _SENTENCES[kind][pick].format(field=field[pick] if field else "")
    return Refusal(sentence, _DETAIL[pick], err.message)
