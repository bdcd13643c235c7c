"""The keys of signed evidence (``thonminh.evidence``): Ed25519 through PyNaCl (libsodium), fingerprints, key files.

PyNaCl rather than ``cryptography``: the gateway agent signs while it drains a backlog at about 57 of its
60 MB, and ``cryptography``'s Rust extension costs a process about 9 MB of memory, PyNaCl's about 3 MB
(docs/benchmarks.md, "Notes: signed batches"). One library signs on the gateway and verifies in the service.

The key file is the standard one, so ``openssl pkey -in gateway.key -pubout`` reads it: PEM, PKCS#8,
unencrypted (RFC 8410), 0600 in a 0700 directory. Public keys are exchanged as base64 of their 32 raw bytes;
PEM (SubjectPublicKeyInfo) is accepted too.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
from pathlib import Path
from typing import Final

from nacl.bindings import crypto_core_ed25519_is_valid_point
from nacl.exceptions import BadSignatureError
from nacl.signing import SigningKey, VerifyKey

__all__ = [
    "GatewayKey",
    "PublicKey",
    "fingerprint",
    "from_b64",
    "grouped",
    "key_fingerprint",
    "load_or_create_key",
    "parse_public_key",
    "public_key_text",
    "signature_ok",
    "to_b64",
]

#: A public key as the service holds it.
PublicKey = VerifyKey
#: DER before the 32-byte seed of an unencrypted PKCS#8 Ed25519 private key, and before the 32 bytes of a
#: SubjectPublicKeyInfo Ed25519 public key (RFC 8410): the fixed framing OpenSSL writes and reads.
_PKCS8_PREFIX: Final = bytes.fromhex("302e020100300506032b657004220420")
_SPKI_PREFIX: Final = bytes.fromhex("302a300506032b6570032100")
_PRIVATE_PEM: Final = ("-----BEGIN PRIVATE KEY-----", "-----END PRIVATE KEY-----")
_PUBLIC_PEM: Final = ("-----BEGIN PUBLIC KEY-----", "-----END PUBLIC KEY-----")


def to_b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def from_b64(text: str, what: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as err:
        raise ValueError(f"{what} is not base64: {err}") from None


def _raw(public: VerifyKey | bytes) -> bytes:
    return public if isinstance(public, bytes) else bytes(public)


def fingerprint(public: VerifyKey | bytes) -> str:
    """16 hex digits of SHA-256 of the raw public key: what manifests name and what people compare."""
    return hashlib.sha256(_raw(public)).hexdigest()[:16]


def grouped(fingerprint: str) -> str:
    """``3f2a9c4107be55d0`` -> ``3f2a 9c41 07be 55d0``: how every text for people prints a fingerprint (pages,
    dossier, command lines), so that it is read aloud and compared in groups of four."""
    return " ".join(fingerprint[i : i + 4] for i in range(0, len(fingerprint), 4))


def public_key_text(public: VerifyKey | bytes) -> str:
    """The public key as registered centrally: base64 of its 32 raw bytes."""
    return to_b64(_raw(public))


def signature_ok(public: VerifyKey, message: bytes, signature: bytes) -> bool:
    try:
        public.verify(message, signature)
    except (BadSignatureError, ValueError):  # ValueError: a signature of the wrong length
        return False
    return True


def _pem_body(text: str, frame: tuple[str, str], what: str) -> bytes:
    body = text.strip()
    if not (body.startswith(frame[0]) and body.endswith(frame[1])):
        raise ValueError(f"not a PEM {what}")
    return from_b64("".join(body[len(frame[0]) : -len(frame[1])].split()), f"PEM {what}")


def parse_public_key(text: str) -> VerifyKey:
    """A public key from base64 of its 32 raw bytes or from PEM; ``ValueError`` saying which it is not."""
    text = text.strip()
    if text.startswith("-----BEGIN"):
        der = _pem_body(text, _PUBLIC_PEM, "public key")
        if len(der) != len(_SPKI_PREFIX) + 32 or not der.startswith(_SPKI_PREFIX):
            raise ValueError("not an Ed25519 public key (PEM SubjectPublicKeyInfo)")
        raw = der[len(_SPKI_PREFIX) :]
    else:
        raw = from_b64(text, "public key")
        if len(raw) != 32:
            raise ValueError(f"an Ed25519 public key is 32 bytes, this one {len(raw)}")
    # libsodium verifies nothing under such a key; registered, it would only stand in a real one's place
    if not crypto_core_ed25519_is_valid_point(raw):
        raise ValueError("not an Ed25519 public key: not a point of the curve's main group (all zeros?)")
    return VerifyKey(raw)


class GatewayKey:
    """A gateway's Ed25519 private key: ``sign`` bytes; ``public_key()``, ``fingerprint``, ``public_text``."""

    def __init__(self, seed: bytes) -> None:
        if len(seed) != 32:
            raise ValueError(f"an Ed25519 private key is 32 bytes, this one {len(seed)}")
        self._key = SigningKey(seed)
        self.fingerprint = fingerprint(self._key.verify_key)
        #: base64 of the public key: what ``thonminh keys add --public-key`` registers.
        self.public_text = public_key_text(self._key.verify_key)

    @classmethod
    def generate(cls) -> GatewayKey:
        return cls(os.urandom(32))

    def public_key(self) -> VerifyKey:
        return self._key.verify_key

    def sign(self, data: bytes) -> bytes:
        """The Ed25519 signature of ``data`` (64 bytes)."""
        return self._key.sign(data).signature

    def pem(self) -> str:
        body = to_b64(_PKCS8_PREFIX + bytes(self._key))
        return f"{_PRIVATE_PEM[0]}\n{body}\n{_PRIVATE_PEM[1]}\n"

    @classmethod
    def from_pem(cls, text: str, path: Path) -> GatewayKey:
        try:
            der = _pem_body(text, _PRIVATE_PEM, "private key")
        except ValueError as err:
            raise ValueError(f"{path}: {err}") from None
        if len(der) != len(_PKCS8_PREFIX) + 32 or not der.startswith(_PKCS8_PREFIX):
            raise ValueError(f"{path}: not an unencrypted Ed25519 private key (PKCS#8)")
        return cls(der[len(_PKCS8_PREFIX) :])

    @classmethod
    def load_or_create(cls, path: Path) -> tuple[GatewayKey, bool]:
        """The key at ``path``, created 0600 in a 0700 directory if missing; (key, created).

        A key file others can read is refused: whoever reads it can sign as this gateway.
        """
        if path.exists():
            mode = path.stat().st_mode & 0o777
            if mode & 0o077:
                raise PermissionError(f"{path}: a private signing key is mode {mode:04o}; it must be 0600")
            return cls.from_pem(path.read_text(), path), False
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        key = cls.generate()
        tmp = path.with_name(path.name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, key.pem().encode())
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
        _fsync_dir(path.parent)
        return key, True


def load_or_create_key(path: Path) -> tuple[GatewayKey, bool]:
    """``GatewayKey.load_or_create``."""
    return GatewayKey.load_or_create(path)


def key_fingerprint(path: Path) -> str | None:
    """The fingerprint of the key at ``path`` (``thonminh edge status``); None when there is none to read."""
    try:
        return GatewayKey.from_pem(path.read_text(), path).fingerprint
    except (OSError, ValueError):
        return None


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
