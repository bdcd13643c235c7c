"""The keys of signed evidence (``thonminh.evidence``): Ed25519, fingerprints, the gateway's key file.

``cryptography`` is imported where it is used: its Rust extension costs a process about 9 MB of memory, and
the gateway agent, which only signs, does that with ``edge/gatewaykey.py`` instead (docs/benchmarks.md).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

__all__ = ["fingerprint", "from_b64", "load_or_create_key", "parse_public_key", "public_key_text", "to_b64"]


def to_b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def from_b64(text: str, what: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as err:
        raise ValueError(f"{what} is not base64: {err}") from None


# -- keys ----------------------------------------------------------------------------------------------------
def fingerprint(public: Ed25519PublicKey | bytes) -> str:
    """16 hex digits of SHA-256 of the raw public key: what manifests name and what people compare."""
    return hashlib.sha256(_raw(public)).hexdigest()[:16]


def _raw(public: Ed25519PublicKey | bytes) -> bytes:
    if isinstance(public, bytes):  # already the 32 raw bytes
        return public
    from cryptography.hazmat.primitives import serialization

    return public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def public_key_text(public: Ed25519PublicKey | bytes) -> str:
    """The public key as registered centrally: base64 of its 32 raw bytes."""
    return to_b64(_raw(public))


def parse_public_key(text: str) -> Ed25519PublicKey:
    """A public key from base64 of its 32 raw bytes or from PEM; ``ValueError`` saying which it is not."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    text = text.strip()
    if text.startswith("-----BEGIN"):
        try:
            key = serialization.load_pem_public_key(text.encode())
        except ValueError as err:
            raise ValueError(f"not a PEM public key: {err}") from None
        if not isinstance(key, Ed25519PublicKey):
            raise ValueError(f"not an Ed25519 key but {type(key).__name__}")
        return key
    raw = from_b64(text, "public key")
    if len(raw) != 32:
        raise ValueError(f"an Ed25519 public key is 32 bytes, this one {len(raw)}")
    return Ed25519PublicKey.from_public_bytes(raw)


def load_or_create_key(path: Path) -> tuple[Ed25519PrivateKey, bool]:
    """The gateway's private key at ``path`` (PEM, PKCS#8), created 0600 in a 0700 directory if missing.

    Returns (key, created). A key file readable by others is refused: whoever reads it can sign as the gateway.
    """
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    if path.exists():
        mode = path.stat().st_mode & 0o777
        if mode & 0o077:
            raise PermissionError(f"{path}: the gateway's private key is mode {mode:04o}; it must be 0600")
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise ValueError(f"{path}: not an Ed25519 private key")
        return key, False
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, pem)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    return key, True
