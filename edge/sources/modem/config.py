"""``[sources.modem]``: the modem's AT port and how to talk to it.

Static validation only (the modem is a USB device that comes and goes); ``environment_problems`` says what
is wrong with the port on this machine now (missing, not a serial device, not ours to open).
"""

from __future__ import annotations

import os
import stat
from typing import Literal

from pydantic import Field, field_validator, model_validator
from serial import Serial

from edge.sources.base import SourceConfig
from thonminh.config import Slug

__all__ = ["ModemConfig"]


class ModemConfig(SourceConfig):
    """One cellular modem, polled every ``interval_s`` (default 30 s)."""

    interval_s: float = Field(30.0, gt=0, le=86_400, description="polling interval")
    port: str = Field(description="the AT port; prefer a stable /dev/serial/by-id/... path")
    baudrate: int = Field(115200, description="ignored by USB modems, used on a UART")
    vendor: Literal["auto", "quectel", "simcom", "generic"] = Field(
        "auto", description="which vendor commands to use; auto asks AT+CGMI"
    )
    command_timeout_s: float = Field(3.0, gt=0, le=60, description="per AT command")
    link: Slug = Field("4g", description="the 'link' tag, matching the uplink this modem serves")
    id: Slug = Field("modem", description="the 'modem' tag")
    # bounded as the forwarder's: an infinite wait would never reopen a modem plugged back in
    backoff_initial_s: float = Field(
        5.0, gt=0, le=600, description="first wait before reopening a lost modem"
    )
    backoff_max_s: float = Field(300.0, gt=0, le=3600, description="longest wait between reopening attempts")

    @model_validator(mode="before")
    @classmethod
    def _name_defaults_to_id(cls, data: object) -> object:
        if isinstance(data, dict) and not data.get("name") and isinstance(data.get("id"), str):
            data = {**data, "name": data["id"]}
        return data

    @field_validator("port")
    @classmethod
    def _absolute(cls, value: str) -> str:
        if not value.startswith("/"):
            raise ValueError(
                f"{value!r} is not an absolute device path (e.g. /dev/serial/by-id/usb-Quectel_...)"
            )
        return value

    @field_validator("baudrate")
    @classmethod
    def _baud(cls, value: int) -> int:
        if value not in Serial.BAUDRATES:
            raise ValueError(f"{value} is not a standard baud rate (e.g. 9600, 115200, 921600)")
        return value

    @model_validator(mode="after")
    def _timeouts(self) -> ModemConfig:
        if self.command_timeout_s >= self.interval_s:
            raise ValueError(f"command_timeout_s ({self.command_timeout_s}) must be below interval_s")
        if self.backoff_max_s < self.backoff_initial_s:
            raise ValueError("backoff_max_s must be at least backoff_initial_s")
        return self

    def environment_problems(self, where: str) -> list[str]:
        """What is wrong with the port on this machine now, each naming ``<where>.port``."""
        try:
            mode = os.stat(self.port).st_mode
        except FileNotFoundError:
            hint = "modem unplugged or not enumerated yet?" if "/by-" in self.port else "wrong path?"
            return [f"{where}.port: {self.port} does not exist ({hint} see firmware_config/modem/README.md)"]
        except OSError as err:
            return [f"{where}.port: {self.port} cannot be reached: {err.strerror}"]
        if not stat.S_ISCHR(mode):
            return [f"{where}.port: {self.port} is not a serial device"]
        if not os.access(self.port, os.R_OK | os.W_OK):
            return [f"{where}.port: {self.port} is not readable and writable by this user (dialout group?)"]
        return []
