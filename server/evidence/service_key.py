"""The criteria service's own key, which signs the manual indicators it enters (``server.indicators``).

No gateway measures a manual indicator, so none can sign it; without a signature, whoever can write to InfluxDB
could enter a village's e-ID share as an official would. The service keeps an Ed25519 key of its own in a file
beside the registry (0600, as a gateway keeps its key) and registers its public key there for village ``*``,
which no gateway's key may name: a gateway's key, on a board in a village, never passes for the service's.

The key is loaded (or made) when the first entry is signed, not at start: ``thonminh verify`` reads the same
configuration and must not make keys. A key missing from the registry is registered from that moment on; a key
the registry has retired (an administrator who believes it stolen) is replaced by a new one, whose period
starts then. Entries signed before keep verifying under their key's period.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path

from server.evidence.registry import Registry, RegistryUnreadable
from thonminh.errors import ConfigError
from thonminh.evidence import SERVICE_KEY_VILLAGE, GatewayKey, load_or_create_key

__all__ = ["ServiceKey", "ServiceKeyUnusable"]

log = logging.getLogger(__name__)


class ServiceKeyUnusable(ConfigError):
    """The key file cannot be read or made (a mode others can read, a disk fault), or registered."""


class ServiceKey:
    """The signing key at ``path``, registered in ``registry`` under ``gateway`` (the indicators' gateway tag)."""

    def __init__(
        self, path: Path, registry: Registry, gateway: str, *, clock: Callable[[], float] = time.time
    ) -> None:
        self.path = Path(path)
        self.registry = registry
        self.gateway = gateway
        self.clock = clock
        self._lock = threading.Lock()

    def current(self) -> GatewayKey:
        """The key to sign with now: loaded, made or replaced as the module says, and registered;
        ``ServiceKeyUnusable`` when that cannot be done (then no entry is made: never one unsigned)."""
        try:
            return self._current()
        except RegistryUnreadable:
            raise
        except (OSError, ValueError) as err:
            raise ServiceKeyUnusable(f"the service's indicator key {self.path}: {err}") from err

    def _current(self) -> GatewayKey:
        with self._lock:
            key, created = load_or_create_key(self.path)
            record = self.registry.snapshot().of_village(SERVICE_KEY_VILLAGE).get(key.fingerprint)
            now_ms = int(self.clock() * 1000)
            if record is not None and not record.covers(now_ms):
                log.warning(
                    "the service's indicator key was retired in the registry: a new key replaces it",
                    extra={"fingerprint": key.fingerprint, "path": str(self.path)},
                )
                self.path.replace(self.path.with_name(f"{self.path.name}.retired-{key.fingerprint}"))
                key, created = load_or_create_key(self.path)
                record = None
            if record is None:
                self.registry.add(
                    self.gateway,
                    SERVICE_KEY_VILLAGE,
                    key.public_text,
                    valid_from_ms=now_ms,
                    by="thonminh server",
                    now_ms=now_ms,
                )
                log.info(
                    "the service's indicator key is registered",
                    extra={"fingerprint": key.fingerprint, "new_key": created, "path": str(self.path)},
                )
            return key
