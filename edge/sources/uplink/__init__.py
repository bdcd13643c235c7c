"""Uplink availability: probes bound to each uplink, a hysteresis state machine, the default route."""
