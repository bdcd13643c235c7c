"""The gateways' public keys, each for a gateway, a village and a validity period, in a SQLite file.

The registry is the service's own file, never InfluxDB: whoever can forge data can write InfluxDB, and a key
registered there would sign the forgery. Registering a key for a gateway ends the open period of its previous
key at the new key's ``valid_from`` (rotation); retiring a key (a lost gateway) closes its period. Data signed
under a key keeps verifying for that key's period, so a rotation mid-month verifies both halves.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path

from thonminh.errors import ConfigError
from thonminh.evidence import PublicKey, fingerprint, parse_public_key, public_key_text

__all__ = ["KeyConflict", "KeyRecord", "KeySnapshot", "Registry", "RegistryUnreadable"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS keys (
    gateway TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    village TEXT NOT NULL,
    public_key TEXT NOT NULL,
    valid_from_ms INTEGER NOT NULL,
    valid_until_ms INTEGER,
    registered_by TEXT NOT NULL,
    registered_ms INTEGER NOT NULL,
    PRIMARY KEY (gateway, fingerprint)
);
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
INSERT OR IGNORE INTO meta VALUES ('version', 0);
"""
_COLUMNS = (
    "gateway, fingerprint, village, public_key, valid_from_ms, valid_until_ms, registered_by, registered_ms"
)


class RegistryUnreadable(ConfigError):
    """The registry's file cannot be read or written (not a SQLite file, a disk fault): nothing can be verified.
    Never mended by the service, as a cache would be: it is the source of every verdict's trust."""


class KeyConflict(ValueError):
    """The change contradicts what is registered (a key registered twice, a period that would end before it
    starts); ``parameter`` names the value at fault, for the API's answer."""

    def __init__(self, message: str, *, parameter: str) -> None:
        super().__init__(message)
        self.parameter = parameter


@dataclass(frozen=True, slots=True)
class KeyRecord:
    gateway: str
    fingerprint: str
    village: str
    #: base64 of the 32 raw bytes
    public_key: str
    valid_from_ms: int
    #: None: open (the gateway's current key)
    valid_until_ms: int | None
    registered_by: str
    registered_ms: int

    def covers(self, time_ms: int) -> bool:
        return self.valid_from_ms <= time_ms and (
            self.valid_until_ms is None or time_ms < self.valid_until_ms
        )


@dataclass(frozen=True, slots=True)
class KeySnapshot:
    """Every key at one version of the registry, with the public keys parsed once."""

    version: int
    records: dict[tuple[str, str], KeyRecord]
    public: dict[tuple[str, str], PublicKey]
    _digests: dict[str | None, str] = field(default_factory=dict, compare=False, repr=False)
    _of_village: dict[str, dict[str, KeyRecord]] = field(default_factory=dict, compare=False, repr=False)

    def of_village(self, village: str) -> dict[str, KeyRecord]:
        """The keys registered for ``village``, by fingerprint (made once per snapshot: a province's thousands
        of manual indicators look up the service's keys, ``server.evidence.indicator_check``)."""
        found = self._of_village.get(village)
        if found is None:
            found = self._of_village[village] = {
                r.fingerprint: r for r in self.records.values() if r.village == village
            }
        return found

    def of_gateway(self, gateway: str) -> list[KeyRecord]:
        return sorted(
            (r for (g, _), r in self.records.items() if g == gateway), key=lambda r: r.valid_from_ms
        )

    def digest(self, village: str | None = None) -> str:
        """A digest of the records of ``village`` (None: of every village): all that the verification of a
        village's data depends on, since a manifest is valid only under a key registered for its own village.
        A key registered elsewhere in the province leaves it alone, so it does not make the village's every
        hour read again; and a registry made anew, which counts its versions from the start again, does not
        pass for the old one."""
        found = self._digests.get(village)
        if found is None:
            records = sorted(
                (r.gateway, r.fingerprint, r.village, r.public_key, r.valid_from_ms, r.valid_until_ms)
                for r in self.records.values()
                if village is None or r.village == village
            )
            # two threads may both compute it: the same text, either kept
            found = self._digests[village] = hashlib.sha256(json.dumps(records).encode()).hexdigest()
        return found


def create(path: Path, schema: str) -> None:
    """The service's own SQLite file at ``path`` with its tables (created on first use)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with connect(path) as db:
        db.executescript(schema)


@contextmanager
def connect(path: Path) -> Iterator[sqlite3.Connection]:
    """One transaction on the file (committed when the block ends without an error), then closed."""
    with closing(sqlite3.connect(path, timeout=10)) as db, db:
        yield db


class Registry:
    """The key registry at ``path`` (created on first use). Safe to share between threads."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._snapshot: KeySnapshot | None = None
        with self._unreadable():
            create(self.path, _SCHEMA)

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        with self._unreadable(), connect(self.path) as db:
            yield db

    @contextmanager
    def _unreadable(self) -> Iterator[None]:
        try:
            yield
        except sqlite3.IntegrityError:
            raise
        except sqlite3.DatabaseError as err:
            raise RegistryUnreadable(f"key registry {self.path}: {err}") from err

    # -- reading -------------------------------------------------------------------------------------------
    def version(self) -> int:
        """A number that changes with every change: cached verification results hold the version they used."""
        with self._connect() as db:
            return int(db.execute("SELECT value FROM meta WHERE name = 'version'").fetchone()[0])

    def keys(self, *, gateway: str | None = None, village: str | None = None) -> list[KeyRecord]:
        where, args = [], []
        for column, value in (("gateway", gateway), ("village", village)):
            if value is not None:
                where.append(f"{column} = ?")
                args.append(value)
        sql = f"SELECT {_COLUMNS} FROM keys" + (f" WHERE {' AND '.join(where)}" if where else "")
        with self._connect() as db:
            rows = db.execute(sql + " ORDER BY gateway, valid_from_ms, fingerprint", args).fetchall()
        return [KeyRecord(*row) for row in rows]

    def snapshot(self) -> KeySnapshot:
        """The registry as verification reads it, parsed again only after a change."""
        version = self.version()
        with self._lock:
            if self._snapshot is None or self._snapshot.version != version:
                records = {(r.gateway, r.fingerprint): r for r in self.keys()}
                public = {k: parse_public_key(r.public_key) for k, r in records.items()}
                self._snapshot = KeySnapshot(version, records, public)
            return self._snapshot

    # -- changes ---------------------------------------------------------------------------------------------
    def add(
        self, gateway: str, village: str, public_key: str, *, valid_from_ms: int, by: str, now_ms: int
    ) -> KeyRecord:
        """Register a key (base64 raw or PEM; ``ValueError`` when it is neither) and end the gateway's open
        period at its ``valid_from``; ``KeyConflict`` when it is registered already or would start before
        the gateway's current key."""
        public = parse_public_key(public_key)
        record = KeyRecord(
            gateway, fingerprint(public), village, public_key_text(public), valid_from_ms, None, by, now_ms
        )
        with self._connect() as db:
            db.execute("BEGIN IMMEDIATE")
            taken = db.execute(
                "SELECT gateway FROM keys WHERE fingerprint = ?", (record.fingerprint,)
            ).fetchone()
            if taken:
                raise KeyConflict(
                    f"key {record.fingerprint} is registered already (gateway {taken[0]!r})",
                    parameter="public_key",
                )
            later = db.execute(
                "SELECT fingerprint, valid_from_ms FROM keys WHERE gateway = ? AND valid_from_ms >= ?",
                (gateway, valid_from_ms),
            ).fetchone()
            if later:
                raise KeyConflict(
                    f"valid_from must be after the start of key {later[0]} of gateway {gateway!r}",
                    parameter="valid_from",
                )
            db.execute(
                "UPDATE keys SET valid_until_ms = ? WHERE gateway = ? AND "
                "(valid_until_ms IS NULL OR valid_until_ms > ?)",
                (valid_from_ms, gateway, valid_from_ms),
            )
            db.execute(
                f"INSERT INTO keys ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    record.gateway,
                    record.fingerprint,
                    record.village,
                    record.public_key,
                    record.valid_from_ms,
                    None,
                    record.registered_by,
                    record.registered_ms,
                ),
            )
            db.execute("UPDATE meta SET value = value + 1 WHERE name = 'version'")
        return record

    def retire(self, gateway: str, key_fingerprint: str, *, valid_until_ms: int) -> KeyRecord:
        """End a key's period (a lost or replaced gateway); ``KeyError`` when the gateway has no such key,
        ``KeyConflict`` when the end would precede its start or lengthen a period already ended."""
        with self._connect() as db:
            db.execute("BEGIN IMMEDIATE")
            row = db.execute(
                f"SELECT {_COLUMNS} FROM keys WHERE gateway = ? AND fingerprint = ?",
                (gateway, key_fingerprint),
            ).fetchone()
            if row is None:
                raise KeyError(key_fingerprint)
            record = KeyRecord(*row)
            if valid_until_ms <= record.valid_from_ms:
                raise KeyConflict("valid_until must be after the key's valid_from", parameter="valid_until")
            if record.valid_until_ms is not None and valid_until_ms > record.valid_until_ms:
                raise KeyConflict(
                    "the key's period has ended already; a retired key cannot be made valid longer",
                    parameter="valid_until",
                )
            db.execute(
                "UPDATE keys SET valid_until_ms = ? WHERE gateway = ? AND fingerprint = ?",
                (valid_until_ms, gateway, key_fingerprint),
            )
            db.execute("UPDATE meta SET value = value + 1 WHERE name = 'version'")
        return replace(record, valid_until_ms=valid_until_ms)
