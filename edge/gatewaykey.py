"""The gateway's Ed25519 key, signed with the OpenSSL that Python itself already loaded (ctypes, no new library).

Why not ``cryptography`` here: importing its Rust extension costs the agent about 9 MB of resident memory
(measured: 46.2 MB with the agent's modules, 55.2 MB with ``cryptography``'s Ed25519 and serialization), and
the agent draining a backlog already peaks at about 57 MB of its 60 MB (docs/benchmarks.md). Python's
``hashlib`` links OpenSSL's ``libcrypto``, so its public EVP API (OpenSSL 1.1.1 and 3.x) signs at no memory
cost. The key file is the one ``thonminh.evidence.load_or_create_key`` reads and writes: PEM, PKCS#8,
unencrypted, 0600 in a 0700 directory; ``thonminh edge init`` and the agent create it, the service never
sees it (its public key is registered there).
"""

from __future__ import annotations

import base64
import ctypes
import ctypes.util
import os
from pathlib import Path
from typing import Final

from thonminh.evidence import fingerprint, public_key_text

__all__ = ["GatewayKey", "key_fingerprint"]

#: DER of a PKCS#8 Ed25519 private key, before its 32-byte seed (RFC 8410: what OpenSSL and ``cryptography``
#: write for an unencrypted Ed25519 key).
_PKCS8_PREFIX: Final = bytes.fromhex("302e020100300506032b657004220420")
_PEM_HEAD, _PEM_TAIL = "-----BEGIN PRIVATE KEY-----", "-----END PRIVATE KEY-----"
_NID_ED25519: Final = 1087
_SIG_BYTES: Final = 64


def _libcrypto() -> ctypes.CDLL:
    name = ctypes.util.find_library("crypto")
    if name is None:
        raise OSError("OpenSSL's libcrypto not found: the gateway signs its batches with it")
    lib = ctypes.CDLL(name)
    vp, sz = ctypes.c_void_p, ctypes.c_size_t
    lib.EVP_PKEY_new_raw_private_key.restype = vp
    lib.EVP_PKEY_new_raw_private_key.argtypes = [ctypes.c_int, vp, ctypes.c_char_p, sz]
    lib.EVP_PKEY_get_raw_public_key.argtypes = [vp, ctypes.c_char_p, ctypes.POINTER(sz)]
    lib.EVP_PKEY_free.argtypes = [vp]
    lib.EVP_MD_CTX_new.restype = vp
    lib.EVP_MD_CTX_free.argtypes = [vp]
    lib.EVP_DigestSignInit.argtypes = [vp, vp, vp, vp, vp]
    lib.EVP_DigestSign.argtypes = [vp, ctypes.c_char_p, ctypes.POINTER(sz), ctypes.c_char_p, sz]
    return lib


class GatewayKey:
    """An Ed25519 private key: ``sign`` bytes, ``public`` (32 raw bytes), ``fingerprint``, ``public_text``."""

    def __init__(self, seed: bytes) -> None:
        if len(seed) != 32:
            raise ValueError(f"an Ed25519 private key is 32 bytes, this one {len(seed)}")
        self._lib = _libcrypto()
        self._pkey = self._lib.EVP_PKEY_new_raw_private_key(_NID_ED25519, None, seed, len(seed))
        if not self._pkey:
            raise OSError("OpenSSL refused the Ed25519 key (libcrypto without Ed25519?)")
        out, size = ctypes.create_string_buffer(32), ctypes.c_size_t(32)
        if self._lib.EVP_PKEY_get_raw_public_key(self._pkey, out, ctypes.byref(size)) != 1:
            raise OSError("OpenSSL could not derive the Ed25519 public key")
        #: The 32 raw bytes of the public key.
        self.public = out.raw[: size.value]
        self.fingerprint = fingerprint(self.public)
        #: base64 of the public key: what ``thonminh keys add --public-key`` registers.
        self.public_text = public_key_text(self.public)

    def __del__(self) -> None:
        pkey, self._pkey = getattr(self, "_pkey", None), None
        if pkey:
            self._lib.EVP_PKEY_free(pkey)

    def sign(self, data: bytes) -> bytes:
        """The Ed25519 signature of ``data`` (64 bytes)."""
        lib = self._lib
        ctx = lib.EVP_MD_CTX_new()
        if not ctx:
            raise MemoryError("EVP_MD_CTX_new")
        try:
            sig, size = ctypes.create_string_buffer(_SIG_BYTES), ctypes.c_size_t(_SIG_BYTES)
            if lib.EVP_DigestSignInit(ctx, None, None, None, self._pkey) != 1 or lib.EVP_DigestSign(
                    ctx, sig, ctypes.byref(size), data, len(data)) != 1:
                raise OSError("OpenSSL could not sign")
            return sig.raw[: size.value]
        finally:
            lib.EVP_MD_CTX_free(ctx)

    # -- the key file --------------------------------------------------------------------------------------
    @classmethod
    def load_or_create(cls, path: Path) -> tuple[GatewayKey, bool]:
        """The key at ``path``, created 0600 in a 0700 directory if missing; (key, created).

        A key file others can read is refused: whoever reads it can sign as this gateway.
        """
        if path.exists():
            mode = path.stat().st_mode & 0o777
            if mode & 0o077:
                raise PermissionError(f"{path}: the gateway's private key is mode {mode:04o}; it must be 0600")
            return cls(_seed_from_pem(path.read_text(), path)), False
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        seed = os.urandom(32)
        pem = f"{_PEM_HEAD}\n{base64.b64encode(_PKCS8_PREFIX + seed).decode()}\n{_PEM_TAIL}\n"
        tmp = path.with_name(path.name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, pem.encode())
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
        _fsync_dir(path.parent)
        return cls(seed), True


def key_fingerprint(path: Path) -> str | None:
    """The fingerprint of the key at ``path`` (``thonminh edge status``); None when there is none to read."""
    try:
        return GatewayKey(_seed_from_pem(path.read_text(), path)).fingerprint
    except (OSError, ValueError):
        return None


def _seed_from_pem(text: str, path: Path) -> bytes:
    body = text.strip()
    if not (body.startswith(_PEM_HEAD) and body.endswith(_PEM_TAIL)):
        raise ValueError(f"{path}: not a PEM private key")
    try:
        der = base64.b64decode("".join(body[len(_PEM_HEAD):-len(_PEM_TAIL)].split()), validate=True)
    except ValueError as err:
        raise ValueError(f"{path}: not a PEM private key: {err}") from None
    if len(der) != len(_PKCS8_PREFIX) + 32 or not der.startswith(_PKCS8_PREFIX):
        raise ValueError(f"{path}: not an unencrypted Ed25519 private key (PKCS#8)")
    return der[len(_PKCS8_PREFIX):]


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
