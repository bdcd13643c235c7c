"""Sources: one folder per source, each with ``source.py`` defining ``SOURCE``, a ``sample.toml`` and a README."""

from edge.sources.registry import load_source_class, source_kinds

__all__ = ["load_source_class", "source_kinds"]
