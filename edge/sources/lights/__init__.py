"""Street lights over MQTT: Tasmota, ESPHome and our own JSON; per-light tracker, dusk/dawn schedule."""
