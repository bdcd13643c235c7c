"""Signed batches: the gateway's chain of manifests, the signing of each batch, and its re-send after a crash.

Every batch the forwarder takes is cut into groups (one UTC hour of point times, at most
``MAX_MANIFEST_POINTS``); each group gets the next number of the chain, each of its lines the field
``evidence_seq``, and a manifest (``thonminh.evidence``) that lists its points' digests, names the previous
manifest and is signed with the gateway's key. Points and manifests go in one write.

A signed batch is kept on tmpfs beside the buffer's intake (``pending``) from before its first send until the
buffer acknowledged it: a batch an agent crash interrupted is re-sent byte for byte at the next start, so
InfluxDB overwrites the same points with the same values and the same manifests, and nothing counts twice. A
power cut loses these files with the intake's RAM; the points still in the buffer are then signed again, under
the new epoch.

The chain (epoch, next number, previous manifest's id) lives in RAM and in the first line of each pending
batch (the chain after it: one tmpfs file a batch, no SD-card write); when the newest batch is acknowledged,
its file is cut to that line and kept as the chain's file. The chain is stored on the SD card (fsynced) only
at start and at a clean stop. A start that finds the chain on tmpfs (the agent died, RAM did not) continues
the epoch from the newest of those files; one that finds only the stored file (a reboot, a power cut: the last
manifests may be missing from it) starts the next epoch, so (epoch, number) never names two different
manifests.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from edge.bufferschema import Batch
from edge.config import GatewayConfig
from thonminh.contract import Point
from thonminh.evidence import (
    EVIDENCE_FIELD,
    MANIFEST_MEASUREMENT,
    MAX_MANIFEST_POINTS,
    Manifest,
    SeriesHeads,
    digest_line,
    pack_seq,
    parse_line,
)
from thonminh.evidencekeys import GatewayKey
from thonminh.lineprotocol import encode_line

__all__ = ["BatchSigner", "SignedBatch", "open_signer", "unsigned_line"]

log = logging.getLogger(__name__)

HOUR_MS = 3_600_000
_SEQ = f",{EVIDENCE_FIELD}="
#: Series by line head, kept across batches (a village has a few dozen series); cleared when full.
_HEADS_MAX = 4096


@dataclass(frozen=True, slots=True)
class SignedBatch:
    """A batch as posted: its signed points, then ``manifests`` manifest lines, in ``body``."""

    batch: Batch
    body: bytes
    manifests: int
    #: (epoch, first n) of its manifests: names the pending file.
    seq: tuple[int, int] = (0, 0)

    def parts(self) -> tuple[list[str], list[str]]:
        """(signed point lines, manifest lines)."""
        lines = self.body.decode().split("\n")
        cut = len(lines) - self.manifests
        return lines[:cut], lines[cut:]


def unsigned_line(line: str) -> str:
    """A signed line without its ``evidence_seq`` (a dead letter is kept as the buffer held it)."""
    rest, _, stamp = line.rpartition(" ")
    head, found, _ = rest.rpartition(_SEQ)
    return f"{head} {stamp}" if found else line


def _write_file(path: Path, *data: bytes, durable: bool = False) -> None:
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.writev(fd, data)  # the parts of a pending batch as they are, not joined into one more copy
        if durable:
            os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    if durable:
        dfd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)


@dataclass
class Chain:
    """Where the next manifest goes: its epoch, number and the previous manifest's id."""

    epoch: int = 0
    n: int = 0
    prev: str = ""

    def text(self) -> bytes:
        return json.dumps(asdict(self)).encode()

    @classmethod
    def read(cls, path: Path) -> Chain | None:
        """The chain at ``path`` (its first line: a pending batch's holds more); None when there is none (or it
        is unreadable: then said in the log)."""
        try:
            with path.open("rb") as file:
                data = json.loads(file.readline())
            return cls(int(data["epoch"]), int(data["n"]), str(data["prev"]))
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError) as err:
            log.error(
                "evidence chain state unreadable; ignored", extra={"path": str(path), "error": str(err)}
            )
            return None


class BatchSigner:
    """Signs the forwarder's batches with ``key`` for the gateway of ``site`` (its site tags).

    ``runtime`` is the prefix of the files on tmpfs (``<prefix>-chain.json``, ``<prefix>-pending-E-N``);
    ``durable`` the chain's file on the SD card.
    """

    def __init__(
        self,
        key: GatewayKey,
        site: Mapping[str, str],
        *,
        runtime: Path,
        durable: Path,
        logger: logging.Logger | None = None,
    ) -> None:
        self.key = key
        self.site = dict(site)
        self.runtime = runtime
        self.durable = durable
        self.chain = Chain()
        self._log = logger or log
        self._heads: SeriesHeads = {}
        #: The newest pending batch's seq and the length of its first line (the chain after it).
        self._newest: tuple[tuple[int, int], int] = ((-1, -1), 0)

    @property
    def _state(self) -> Path:
        return self.runtime.with_name(self.runtime.name + "-chain.json")

    def _pending(self, epoch: int, n: int) -> Path:
        return self.runtime.with_name(f"{self.runtime.name}-pending-{epoch}-{n}")

    # -- start and stop ------------------------------------------------------------------------------------
    def start(self) -> str:
        """Pick up the chain (see the module docstring) and store it; returns what happened, for the log."""
        found = [c for c in map(Chain.read, [self._state, *self._pending_files()]) if c is not None]
        live = max(found, key=lambda c: (c.epoch, c.n), default=None)
        stored = Chain.read(self.durable)
        if live is not None:
            self.chain, how = live, "continued"
        elif stored is not None:
            self.chain, how = replace(stored, epoch=stored.epoch + 1), "new epoch"
        else:
            self.chain, how = Chain(), "first"
        self.durable.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.runtime.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        _write_file(self.durable, self.chain.text(), durable=True)
        _write_file(self._state, self.chain.text())
        self._log.info(
            "evidence chain " + how,
            extra={"epoch": self.chain.epoch, "n": self.chain.n, "key": self.key.fingerprint},
        )
        return how

    def stop(self) -> None:
        """A clean stop: store the chain on the SD card (the tmpfs file stays for a start in this boot)."""
        _write_file(self.durable, self.chain.text(), durable=True)

    # -- signing -------------------------------------------------------------------------------------------
    def sign(self, batch: Batch) -> SignedBatch:
        """Sign ``batch`` with the next numbers of the chain and keep it pending (call under the take lock).

        The returned batch holds no body but the signed one (the taken body may go as soon as this returns).
        """
        epoch, first = self.chain.epoch, self.chain.n
        parts = self._signed_parts(batch.body.split(b"\n"))
        manifests = self.chain.n - first
        signed = SignedBatch(replace(batch, body=b""), b"\n".join(parts), manifests, (epoch, first))
        del parts
        self._keep(signed)
        return signed

    def _signed_parts(self, lines: list[bytes]) -> list[bytes]:
        """The signed lines of each group, then the manifests' lines; moves the chain on.

        The lines stay bytes (each decoded only while digested), and each group is joined on its own, each line
        let go once rebuilt: the batch is never held as a second list of lines.
        """
        heads = self._heads
        if len(heads) > _HEADS_MAX:
            heads.clear()
        digests = [digest_line(line.decode(), heads) for line in lines]
        hours: dict[int, list[int]] = {}
        for i, (time_ms, _) in enumerate(digests):
            hours.setdefault(time_ms // HOUR_MS, []).append(i)
        chain = self.chain
        parts: list[bytes] = []
        manifests: list[str] = []
        for hour in sorted(hours):
            in_hour = hours[hour]
            for at in range(0, len(in_hour), MAX_MANIFEST_POINTS):
                group = in_hour[at : at + MAX_MANIFEST_POINTS]
                seq = f"{_SEQ}{pack_seq(chain.epoch, chain.n)}i ".encode()
                signed = []
                for i in group:
                    signed.append(seq.join(lines[i].rsplit(b" ", 1)))
                    lines[i] = b""
                parts.append(b"\n".join(signed))
                del signed
                manifest = Manifest.build(
                    self.site,
                    chain.epoch,
                    chain.n,
                    chain.prev,
                    [digests[i] for i in group],
                    self.key.fingerprint,
                ).signed(self.key)
                manifests.append(_manifest_line(manifest))
                chain.n, chain.prev = chain.n + 1, manifest.id
        parts.append("\n".join(manifests).encode())
        return parts

    def resign(self, signed: SignedBatch, dead: Sequence[str]) -> bytes:
        """The manifests of ``signed`` without the digests of the ``dead`` (signed) lines InfluxDB refused.

        Same number, tags and time as the first ones, so each overwrites its first version in InfluxDB (a
        manifest's time stays its first last point's: the next manifest names it by id, unchanged ``prev``).
        """
        heads = self._heads
        gone: dict[int, list[bytes]] = {}
        for line in dead:
            seq = int(line.rpartition(" ")[0].rpartition(_SEQ)[2].rstrip("i"))
            gone.setdefault(seq, []).append(digest_line(unsigned_line(line), heads)[1])
        out = []
        for text in signed.parts()[1]:
            _, tags, fields, time_ms = parse_line(text)
            manifest = Manifest.from_influx(tags, fields, time_ms)
            drop = gone.get(manifest.seq)
            if drop:
                kept = manifest.digest_list()
                for digest in drop:
                    kept.remove(digest)
                # first_ms stays: the digests hold no times, and the first time is still a lower bound
                manifest = replace(manifest, digests=b"".join(kept), sig=b"").signed(self.key)
            out.append(_manifest_line(manifest))
        return "\n".join(out).encode()

    # -- pending batches -----------------------------------------------------------------------------------
    def _keep(self, signed: SignedBatch) -> None:
        b = signed.batch
        head = (
            json.dumps(
                {
                    **asdict(self.chain),
                    "count": b.count,
                    "ranges": b.ranges,
                    "id_list": b.id_list,
                    "manifests": signed.manifests,
                }
            ).encode()
            + b"\n"
        )
        _write_file(self._pending(*signed.seq), head, signed.body)
        self._newest = (signed.seq, len(head))

    def done(self, signed: SignedBatch) -> None:
        """The buffer acknowledged ``signed``: it need not be re-sent. The newest batch's file stays, cut to its
        first line, as the chain's state."""
        path = self._pending(*signed.seq)
        seq, head = self._newest
        if signed.seq != seq:
            path.unlink(missing_ok=True)
            return
        try:
            os.truncate(path, head)
            os.replace(path, self._state)
        except FileNotFoundError:  # removed behind our back: the chain is this batch's, so written anew
            _write_file(self._state, self.chain.text())

    def _pending_files(self) -> list[Path]:
        return [
            p
            for p in self.runtime.parent.glob(self.runtime.name + "-pending-*")
            if not p.name.endswith(".tmp")
        ]

    def pending(self) -> Iterator[SignedBatch]:
        """The signed batches an earlier run of this boot left unacknowledged, oldest first."""
        found = []
        for path in self._pending_files():
            epoch, n = (int(x) for x in path.name.rsplit("-", 2)[1:])
            found.append(((epoch, n), path))
        for seq, path in sorted(found):
            head, _, body = path.read_bytes().partition(b"\n")
            h = json.loads(head)
            batch = Batch(
                body=b"",
                id_list=h["id_list"],
                count=h["count"],
                ranges=tuple((int(a), int(z)) for a, z in h["ranges"]),
            )
            yield SignedBatch(batch, body, int(h["manifests"]), seq)


def open_signer(config: GatewayConfig, logger: logging.Logger | None = None) -> BatchSigner:
    """The gateway's key (created on the first run) and its chain, picked up (the agent, ``edge drain``)."""
    logger = logger or log
    key, created = GatewayKey.load_or_create(config.evidence_key_path)
    if created:
        logger.warning(
            "created the gateway's signing key: register it with the criteria service",
            extra={
                "path": str(config.evidence_key_path),
                "fingerprint": key.fingerprint,
                "public_key": key.public_text,
            },
        )
    signer = BatchSigner(
        key,
        config.site.tags(),
        runtime=config.evidence_runtime(),
        durable=config.evidence_key_path.with_name("chain.json"),
        logger=logger,
    )
    signer.start()
    return signer


def _manifest_line(manifest: Manifest) -> str:
    return encode_line(Point(MANIFEST_MEASUREMENT, manifest.tags, manifest.fields(), manifest.time_ms))
