"""Switchable probe targets on loopback (or inside a test's own network namespace).

``TcpTarget`` listens (down: refuses), ``HttpTarget`` answers ``GET`` with 204, over TLS when given a context
(down: refuses, or with ``mode="blackhole"`` accepts and never answers), ``DnsTarget`` answers any A query
(down: port unreachable, ``blackhole`` or ``servfail``). Each runs in its own thread, independent of any event
loop, and may accept only some peer addresses (``allow_peers``), which is how a test shows that a probe bound
to the wrong source address fails. ``OutageSchedule`` switches targets off and on at planned offsets and
records when it really did. ``python -m lab.simulate.targets --tcp ADDR:PORT ...`` serves them from a separate
process (SIGUSR1: all down, SIGUSR2: all up). Nothing here sends traffic anywhere: targets only answer.
"""

from __future__ import annotations

import argparse
import os
import selectors
import signal
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from edge.sources.uplink.dnswire import DnsError, build_response

__all__ = ["DnsTarget", "HttpTarget", "Outage", "OutageSchedule", "Target", "TcpTarget", "main"]

DownMode = Literal["refuse", "blackhole", "servfail"]


def _family(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET


class Target:
    """A server on ``host:port`` (port 0 = pick a free one, kept across down/up) that can be switched."""

    kind = "target"
    socktype = socket.SOCK_STREAM

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        allow_peers: Iterable[str] | None = None,
        down_mode: DownMode = "refuse",
    ) -> None:
        self.host = host
        self.port = port
        self.allow_peers = set(allow_peers) if allow_peers is not None else None
        self.down_mode: DownMode = down_mode
        self.served = 0
        self._lock = threading.Lock()
        self._sock: socket.socket | None = None
        self._mode: str = "down"
        self._wake_r, self._wake_w = os.pipe()
        self._thread: threading.Thread | None = None
        self._closing = False

    @property
    def is_up(self) -> bool:
        return self._mode == "up"

    @property
    def address(self) -> tuple[str, int]:
        return self.host, self.port

    def up(self) -> None:
        """Answer from now on."""
        with self._lock:
            self._mode = "up"
            self._ensure_socket()
        self._wake()

    def down(self, mode: DownMode | None = None) -> None:
        """Stop answering: ``refuse`` closes the socket, ``blackhole`` keeps it and ignores everything."""
        mode = mode or self.down_mode
        with self._lock:
            self._mode = mode
            if mode == "refuse":
                if self._sock is not None:
                    self._sock.close()
                    self._sock = None
            elif not self._closing:
                self._ensure_socket()  # blackhole / servfail: keep receiving, answer wrongly or not at all
        self._wake()

    def close(self) -> None:
        self._closing = True
        self.down("refuse")
        if self._thread is not None:
            self._thread.join(timeout=5)
        os.close(self._wake_r)
        os.close(self._wake_w)

    def __enter__(self) -> Target:
        self.up()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- internals -----------------------------------------------------------------------------------------
    def _ensure_socket(self) -> None:
        if self._sock is None:
            sock = socket.socket(_family(self.host), self.socktype)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((self.host, self.port))
            if self.socktype == socket.SOCK_STREAM:
                sock.listen(64)
            sock.setblocking(False)
            self.port = sock.getsockname()[1]
            self._sock = sock
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name=f"{self.kind}-{self.port}", daemon=True)
            self._thread.start()

    def _wake(self) -> None:
        os.write(self._wake_w, b"x")

    def _allowed(self, peer: str) -> bool:
        return self.allow_peers is None or peer in self.allow_peers

    def _loop(self) -> None:
        while not self._closing:
            ready = selectors.DefaultSelector()
            ready.register(self._wake_r, selectors.EVENT_READ)
            with self._lock:  # registered under the lock: down() cannot close it half-way
                sock = self._sock
                if sock is not None:
                    ready.register(sock, selectors.EVENT_READ)
            events = ready.select(timeout=1.0)
            ready.close()
            for key, _ in events:
                if key.fileobj == self._wake_r:
                    os.read(self._wake_r, 512)
                elif sock is not None:
                    try:
                        self._handle(sock)
                    except OSError:
                        continue

    def _handle(self, sock: socket.socket) -> None:
        raise NotImplementedError


class TcpTarget(Target):
    """A TCP listener: the probe's handshake is the answer. Accepted connections are closed at once."""

    kind = "tcp"

    def _handle(self, sock: socket.socket) -> None:
        conn, _peer = sock.accept()
        conn.close()
        self.served += self._mode == "up"


class HttpTarget(Target):
    """Answers ``GET`` with ``status`` (204 by default, like a connectivity-check endpoint)."""

    kind = "http"

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        status: int = 204,
        tls: ssl.SSLContext | None = None,
        allow_peers: Iterable[str] | None = None,
        down_mode: DownMode = "refuse",
    ) -> None:
        super().__init__(host, port, allow_peers=allow_peers, down_mode=down_mode)
        self.status = status
        self.tls = tls  # a server context: answer HTTPS

    def _handle(self, sock: socket.socket) -> None:
        conn, peer = sock.accept()
        if self._mode != "up" or not self._allowed(peer[0]):
            if self._mode == "blackhole":
                threading.Timer(30.0, conn.close).start()  # hold it open: the probe must time out
            else:
                conn.close()
            return
        threading.Thread(target=self._answer, args=(conn,), daemon=True).start()

    def _answer(self, conn: socket.socket) -> None:
        conn.settimeout(5.0)
        try:
            if self.tls is not None:
                conn = self.tls.wrap_socket(conn, server_side=True)
        except (OSError, ssl.SSLError):
            conn.close()
            return
        with conn:
            request = b""
            try:
                while b"\r\n\r\n" not in request and len(request) < 16384:
                    chunk = conn.recv(4096)
                    if not chunk:
                        return
                    request += chunk
                reason = {200: "OK", 204: "No Content", 302: "Found", 503: "Service Unavailable"}.get(
                    self.status, ""
                )
                self.served += 1  # before the send, as the DNS target counts
                conn.sendall(
                    f"HTTP/1.1 {self.status} {reason}\r\nContent-Length: 0\r\n"
                    "Connection: close\r\n\r\n".encode()
                )
            except OSError:
                return


class DnsTarget(Target):
    """Answers any query with one A record (``answer``), or SERVFAIL / nothing when down."""

    kind = "dns"
    socktype = socket.SOCK_DGRAM

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        answer: str = "192.0.2.53",
        allow_peers: Iterable[str] | None = None,
        down_mode: DownMode = "refuse",
    ) -> None:
        super().__init__(host, port, allow_peers=allow_peers, down_mode=down_mode)
        self.answer = answer

    def _handle(self, sock: socket.socket) -> None:
        query, peer = sock.recvfrom(4096)
        if not self._allowed(peer[0]) or self._mode == "blackhole":
            return
        try:
            if self._mode == "up":
                answer = build_response(query, [self.answer])
                # counted before the send: the probe may read ``served`` as soon as it has the answer
                self.served += 1
                sock.sendto(answer, peer)
            elif self._mode == "servfail":
                sock.sendto(build_response(query, [], rcode=2), peer)
        except DnsError:
            return


@dataclass(frozen=True, slots=True)
class Outage:
    """Targets down from ``start_s`` to ``end_s`` after the schedule starts."""

    start_s: float
    end_s: float


@dataclass
class OutageSchedule:
    """Switches ``targets`` down and up at planned offsets from ``start()``; records when it really did.

    ``actual`` holds ``(state, wall_ms, monotonic_s)`` per switch, which is what a test compares the recorded
    outages with.
    """

    targets: Sequence[Target]
    outages: Sequence[Outage]
    clock: Callable[[], float] = time.monotonic
    wall: Callable[[], float] = time.time
    actual: list[tuple[str, int, float]] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="outage-schedule", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def wait(self, timeout: float | None = None) -> bool:
        """Block until every switch happened; True when the schedule is complete."""
        assert self._thread is not None
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def _run(self) -> None:
        t0 = self.clock()
        steps = sorted([(o.start_s, "down") for o in self.outages] + [(o.end_s, "up") for o in self.outages])
        for offset, state in steps:
            if self._stop.wait(max(0.0, t0 + offset - self.clock())):
                return
            for target in self.targets:
                target.down() if state == "down" else target.up()
            self.actual.append((state, int(self.wall() * 1000), self.clock()))


def _addr(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    return host.strip("[]"), int(port)


def _each(targets: Sequence[Target], action: str) -> None:
    for target in targets:
        getattr(target, action)()


def main(argv: Sequence[str] | None = None) -> None:
    """Serve targets until SIGTERM; SIGUSR1 switches them all down, SIGUSR2 up. Prints 'ready' when bound."""
    parser = argparse.ArgumentParser(prog="python -m lab.simulate.targets", description=main.__doc__)
    parser.add_argument("--tcp", action="append", default=[], type=_addr, metavar="HOST:PORT")
    parser.add_argument("--http", action="append", default=[], type=_addr, metavar="HOST:PORT")
    parser.add_argument("--dns", action="append", default=[], type=_addr, metavar="HOST:PORT")
    args = parser.parse_args(argv)
    targets: list[Target] = [TcpTarget(*a) for a in args.tcp] + [HttpTarget(*a) for a in args.http]
    targets += [DnsTarget(*a) for a in args.dns]
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())
    signal.signal(signal.SIGUSR1, lambda *_: _each(targets, "down"))
    signal.signal(signal.SIGUSR2, lambda *_: _each(targets, "up"))
    for target in targets:
        target.up()
    print("ready " + " ".join(f"{t.kind}={t.host}:{t.port}" for t in targets), flush=True)
    while not done.wait(0.5):
        pass
    for target in targets:
        target.close()


if __name__ == "__main__":
    main()
