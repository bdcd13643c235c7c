"""Find sources by folder: ``edge/sources/<kind>/source.py`` exports ``SOURCE``, the source class.

Adding a source is adding a folder; nothing else in the tree lists them.
"""

from __future__ import annotations

import functools
import importlib
from pathlib import Path

from edge.sources.base import Source

__all__ = ["load_source_class", "source_kinds"]

_HERE = Path(__file__).parent


def source_kinds() -> list[str]:
    """Kinds of source present in this tree, sorted."""
    return sorted(p.parent.name for p in _HERE.glob("*/source.py"))


@functools.cache
def load_source_class(kind: str) -> type[Source]:
    """The class of source ``kind``; ``KeyError`` lists the known kinds."""
    if kind not in source_kinds():
        raise KeyError(f"unknown source {kind!r}; known: {', '.join(source_kinds())}")
    module = importlib.import_module(f"edge.sources.{kind}.source")
    cls = module.SOURCE
    if not (isinstance(cls, type) and issubclass(cls, Source)) or cls.kind != kind:
        raise TypeError(f"edge.sources.{kind}.source.SOURCE must be a Source subclass with kind={kind!r}")
    return cls
