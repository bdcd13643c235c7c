"""The API's bodies and answers of manual indicators (``server.indicators``)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["IndicatorEntryOut", "IndicatorIn", "IndicatorOut", "IndicatorsOut", "Read", "Signature"]

#: an entry's signature: ``verified`` or why not (``server.evidence.indicator_check``), or ``not_configured``
Signature = Literal[
    "verified", "unsigned", "altered", "bad_signature", "unregistered_key", "expired_key", "not_configured"
]
Read = Literal[
    "verified",
    "unsigned",
    "altered",
    "bad_signature",
    "unregistered_key",
    "expired_key",
    "not_configured",
    "replaced",
    "replayed",
    "missing",
]


class IndicatorIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    value: float = Field(
        strict=True,
        allow_inf_nan=False,
        examples=[27.5],
        description="a JSON number within the indicator's valid range (no strings, no booleans)",
    )
    unit: str | None = Field(
        None,
        max_length=16,
        examples=["%"],
        description="the indicator's unit, if given; it is fixed per indicator",
    )
    note: str | None = Field(
        None,
        max_length=200,
        pattern=r"^[^\x00-\x1f\x7f\\]*$",
        description="who entered it or on what basis; stored with the key's name",
    )
    time: str | None = Field(
        None, max_length=40, description="as-of time (ISO 8601); default now, or the corrected entry's"
    )
    corrects: str | None = Field(
        None,
        max_length=40,
        description="the `entered` time of the entry this one "
        "corrects; that entry is kept and marked superseded",
    )


class IndicatorOut(BaseModel):
    village: str
    indicator: str
    value: float
    unit: str
    source: str
    time: str = Field(description="the time the value stands for")
    entered: str = Field(description="when it was entered: the entry's id")
    corrects: str | None = None
    line: str = Field(description="the line-protocol point written")


class IndicatorEntryOut(BaseModel):
    indicator: str
    value: float
    unit: str
    source: str = Field(description="who entered it: the note and the admin key's name")
    note: str
    time: str = Field(description="the time the value stands for")
    entered: str = Field(description="when it was entered (the entry's id)")
    corrects: str | None = Field(description="the entry this one corrected")
    superseded_by: str | None = Field(description="the later entry that corrected this one")
    signature: Signature = Field(
        description="verified: signed by the criteria service's key when it was entered; unsigned, altered, "
        "bad_signature, unregistered_key, expired_key: written around the API, or changed since (docs/evidence.md); "
        "not_configured: the service has no key registry and signs nothing"
    )
    read: Read = Field(
        description="what the criteria read at this entry's time (the indicator point there): verified, its "
        "value as the service signed it; unsigned, altered, bad_signature, unregistered_key, expired_key: a value "
        "written around the API or changed since; replaced: a later entry's, for the same time; replayed: an "
        "earlier entry's, written back over this one; missing: no "
        "value (deleted); not_configured: its value, with no key registry to check it"
    )


class IndicatorsOut(BaseModel):
    village: str
    indicators: dict[str, dict[str, Any]] = Field(
        description="each indicator's description: unit, valid range, titles"
    )
    entries: list[IndicatorEntryOut] = Field(description="every entry, newest first; none is ever deleted")
    queries: list[str]
