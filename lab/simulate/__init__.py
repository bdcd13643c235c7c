"""The village simulator: devices, targets, modem and access point for tests and the demo."""
