"""Grafana dashboards, alert rules and provisioning for thonminh, generated from Python.

``dashboards.build`` turns the typed builders in ``dashboards.boards`` and ``dashboards.alerts`` into the
committed JSON and YAML; ``dashboards.push`` uploads the same objects to a running Grafana.
"""

from __future__ import annotations

__all__: list[str] = []
