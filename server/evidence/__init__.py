"""Signed evidence, the central side: the gateways' key registry, verification of what InfluxDB holds against
the gateways' signed manifests, and the per-hour results the criteria service keeps (docs/evidence.md)."""
