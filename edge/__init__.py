"""The gateway agent that runs at the village cultural house."""
