"""The development and demonstration tools: the simulated village, the demo, local InfluxDB/Mosquitto launchers.

Never imported by the gateway or the service at runtime: ``thonminh simulate`` and ``thonminh demo`` import it
when they are called, and a gateway install without it says so.
"""
