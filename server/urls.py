"""Where the service's answers are, under its address: the API's routes (the pages are under ``/pages``).

A module of its own, not the package's ``__init__``: under pytest ``server`` can be a namespace package joined
with tests/server, whose ``__init__`` is never run, and the command line (``thonminh keys``) needs the prefix
without importing the app.
"""

from __future__ import annotations

__all__ = ["API_PREFIX"]

API_PREFIX = "/api/v1"
