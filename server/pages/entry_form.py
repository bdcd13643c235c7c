"""The village page's form for a manual indicator: what an official types, read into the API's body.

An admin key signed in on the pages enters an indicator there as ``PUT /villages/{v}/indicators/{i}`` does,
through the same ``server.indicators.put_indicator``: the same checks, the same record, the same signature. What
the form adds is the way an official types. A number is written as the page shows it, with a decimal comma
(27,5), or with a point and at most two decimals: ``1.000`` is a thousand to a Vietnamese reader, so a point
followed by three digits is refused, never read as one. The as-of time is a day (its local midnight, as the
API reads a date; empty: now). A refusal is said in the page's words beside its field, with the API's message
kept as the technical detail.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from urllib.parse import parse_qs

from pydantic import ValidationError

from server.errors import ApiError, ParameterError
from server.indicator_models import IndicatorIn
from server.timeparse import is_day
from thonminh.figures import INDICATORS

__all__ = ["FIELDS", "EntryForm", "FormRefusal", "NotTheForm", "form_refusal", "read_form", "typed"]

#: the form's fields; another field posted with them is ignored (a browser adds none)
FIELDS = ("indicator", "value", "date", "note", "corrects")
_NUMBER = re.compile(r"\s*([0-9]{1,9}(?:,[0-9]{1,20}|\.[0-9]{1,2})?)\s*%?\s*")
#: the page word for a refusal of each of the API's parameters, said beside the form's field of that name
_REFUSED = {
    "indicator": ("indicator", "entry_bad_indicator"),
    "value": ("value", "entry_bad_value"),
    "unit": ("value", "entry_bad_value"),
    "time": ("date", "entry_bad_date"),
    "note": ("note", "entry_bad_note"),
    "corrects": ("corrects", "entry_bad_corrects"),
}


class NotTheForm(ValueError):
    """A post that is not the page's form: ``why`` is ``twice`` (a field posted twice), ``unknown`` (a field
    the form has not) or ``too_many`` (more fields than it has); ``field`` names the one, if one."""

    def __init__(self, why: str, field: str = "") -> None:
        super().__init__(f"{why}: {field!r}" if field else why)
        self.why, self.field = why, field[:40]


def read_form(body: bytes, most: int) -> dict[str, str]:
    """An urlencoded post, each field once and at most ``most`` of them (``NotTheForm`` otherwise); each value
    cut longer than any field may be: kept short enough to show again, still refused for its length."""
    try:
        form = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True, max_num_fields=most)
    except ValueError:
        raise NotTheForm("too_many") from None
    twice = next((name for name, values in form.items() if len(values) > 1), None)
    if twice is not None:
        raise NotTheForm("twice", twice)
    return {name: values[0][:400] for name, values in form.items()}


@dataclass(frozen=True, slots=True)
class EntryForm:
    """The fields as posted (kept to be shown again when the entry is refused)."""

    indicator: str = ""
    value: str = ""
    date: str = ""
    note: str = ""
    corrects: str = ""

    @classmethod
    def read(cls, body: bytes) -> EntryForm:
        """The form of an urlencoded post; ``NotTheForm`` when it is not this form (too many fields, one twice)."""
        form = read_form(body, 2 * len(FIELDS))
        return cls(**{name: form[name] for name in FIELDS if name in form})

    def body(self) -> IndicatorIn:
        """The API's body, or a ``ParameterError`` naming the API's parameter at fault."""
        number = _NUMBER.fullmatch(self.value)
        if number is None:
            raise ParameterError(
                f"value: {self.value[:40]!r} is not a number (27,5; or 27.5, at most two decimals after a point)",
                parameter="value",
            )
        if self.date and not is_day(self.date):
            raise ParameterError(f"time: {self.date[:40]!r} is not a day (YYYY-MM-DD)", parameter="time")
        try:
            return IndicatorIn(
                value=float(number.group(1).replace(",", ".")),
                note=self.note.strip() or None,
                time=self.date or None,
                corrects=self.corrects or None,
            )
        except ValidationError as err:
            first = err.errors()[0]
            name = str(first["loc"][0]) if first["loc"] else "value"
            raise ParameterError(f"{name}: {first['msg']}", parameter=name) from None


def typed(value: float) -> str:
    """``value`` as the form reads it back to the same float (a confirmed entry's value posted again)."""
    return format(Decimal(repr(value)), "f").replace(".", ",")


@dataclass(frozen=True, slots=True)
class FormRefusal:
    """An entry refused: the form's field at fault and the page word that says why, with its values."""

    field: str
    key: str
    values: dict[str, object]


def form_refusal(err: ApiError, indicator: str) -> FormRefusal | None:
    """The refusal of a field of the form, or None when ``err`` is not about one (the page says it alone)."""
    if not isinstance(err, ParameterError) or err.parameter not in _REFUSED:
        return None
    field, key = _REFUSED[err.parameter]
    desc = INDICATORS.get(indicator)
    values: dict[str, object] = (
        {"minimum": desc.minimum, "maximum": desc.maximum, "unit": desc.unit} if desc is not None else {}
    )
    return FormRefusal(field, key, values)
