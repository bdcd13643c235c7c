"""A TOML file's table headers checked against its model: a misspelt section named by its line, with the
closest name, where the parser or the model alone would only say that a value cannot be overwritten."""

from __future__ import annotations

import difflib
import re
import types
import typing
from typing import Annotated, Any

from pydantic import BaseModel

__all__ = ["misnamed_sections"]

_HEADER = re.compile(r"^\s*\[\[?\s*([^\[\]]+?)\s*\]\]?\s*(?:#.*)?$")


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    """The models a field holds: itself, or inside list[...], X | None, Annotated[...] and unions."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    if typing.get_origin(annotation) in (list, typing.Union, types.UnionType, Annotated):
        return [m for arg in typing.get_args(annotation) for m in _models_in(arg)]
    return []


def _unknown_section(model: type[BaseModel], parts: list[str]) -> str | None:
    """Why the table ``parts`` is not a section of ``model``, or None when it is (or cannot be told)."""
    models = [model]
    for depth, part in enumerate(parts):
        fields = {name: info for m in models for name, info in m.model_fields.items()}
        if part not in fields:
            where = ".".join(parts[: depth + 1])
            close = difflib.get_close_matches(part, sorted(fields), n=1, cutoff=0.6)
            hint = f" (did you mean {'.'.join([*parts[:depth], close[0]])!r}?)" if close else ""
            return f"unknown section {where!r}{hint}"
        models = _models_in(fields[part].annotation)
        if not models:
            return None  # a free-form value: nothing more to check
    return None


def misnamed_sections(text: str, model: type[BaseModel]) -> list[str]:
    """``line N: [[sources.uplnk]]: unknown section ...`` for every table header the model does not have.

    Read from the text, so it also explains what the TOML parser only reports as ``Cannot overwrite a value``
    (a misspelt ``[[sources.uplnk]]`` before ``[[sources.uplink.targets]]``).
    """
    problems = []
    for number, line in enumerate(text.splitlines(), 1):
        match = _HEADER.match(line)
        if match:
            parts = [p.strip().strip('"').strip("'") for p in match.group(1).split(".")]
            why = _unknown_section(model, parts)
            if why:
                problems.append(f"line {number}: {line.strip()}: {why}")
    return problems
