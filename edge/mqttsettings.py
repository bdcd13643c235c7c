"""``[mqtt]``: the village broker. Its own module, so that the source interface and the gateway config can
both name it without importing each other."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr

from thonminh.config import StrictModel

__all__ = ["MqttSettings", "TlsSettings"]


class TlsSettings(StrictModel):
    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None
    insecure: bool = Field(False, description="skip hostname verification (self-signed village broker)")


class MqttSettings(StrictModel):
    """The cultural-house broker the lights report to."""

    host: str = "127.0.0.1"
    port: int = Field(1883, ge=1, le=65535)
    username: str | None = None
    password: SecretStr | None = None
    client_id: str = Field("thonminh-gateway", min_length=1, max_length=128)
    keepalive_s: int = Field(30, ge=5, le=3600)
    tls: TlsSettings | None = None
