"""Probes bound to one uplink: TCP connect, HTTP(S) GET, DNS over UDP and ICMP echo, all asyncio.

Every socket is bound to the uplink before it sends anything: to the interface with ``SO_BINDTODEVICE``
(needs CAP_NET_RAW) and/or to the uplink's local address, so a probe can never succeed through another
uplink. Host names are resolved through the uplink too when a ``resolver`` is configured (otherwise by the
system resolver, which follows the default route: prefer IP addresses in targets). ICMP uses an
unprivileged ping socket where ``net.ipv4.ping_group_range`` allows it, else a raw socket (CAP_NET_RAW).
"""

from __future__ import annotations

import asyncio
import errno
import functools
import os
import random
import socket
import ssl
import struct
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from edge.sources.uplink.config import TargetConfig, UplinkConfig
from edge.sources.uplink.dnswire import TYPE_A, TYPE_AAAA, DnsError, DnsResponse, build_query, parse_response

__all__ = ["Binding", "ProbeFailure", "ProbeResult", "Prober", "describe_error"]

_ICMP_ECHO = {socket.AF_INET: (8, 0), socket.AF_INET6: (128, 129)}
_MAX_CACHE_S = 300.0


class ProbeFailure(Exception):
    """A target answered wrongly (bad status, DNS error code, ...) or could not be reached; says why."""


@dataclass(frozen=True, slots=True)
class ProbeResult:
    target: str
    ok: bool
    rtt_ms: float | None = None
    error: str | None = None


def describe_error(err: BaseException, interface: str | None = None) -> str:
    """A short, stable reason for an event: 'refused', 'timeout', 'no interface wwan0', ..."""
    if isinstance(err, TimeoutError):
        return "timeout"
    if isinstance(err, ProbeFailure):
        return str(err)
    if isinstance(err, ConnectionRefusedError):
        return "refused"
    if isinstance(err, ConnectionResetError):
        return "reset"
    if isinstance(err, ssl.SSLError):
        return f"tls: {err.reason or err}"
    if isinstance(err, OSError):
        if err.errno == errno.ENODEV:
            return f"no interface {interface}" if interface else "no such interface"
        if err.errno in (errno.ENETUNREACH, errno.EHOSTUNREACH, errno.EADDRNOTAVAIL, errno.EPERM):
            return os.strerror(err.errno).lower()
        return (err.strerror or str(err)).lower()
    return f"{type(err).__name__}: {err}"


def _family(ip: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in ip else socket.AF_INET


@dataclass(frozen=True, slots=True)
class Binding:
    """How sockets are tied to the uplink: its interface, its local address, or both."""

    interface: str | None = None
    source_address: str | None = None

    def socket(self, family: socket.AddressFamily, kind: int, proto: int = 0) -> socket.socket:
        sock = socket.socket(family, kind, proto)
        try:
            sock.setblocking(False)
            if self.interface:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, self.interface.encode() + b"\0")
            if self.source_address:
                if _family(self.source_address) != family:
                    raise ProbeFailure(
                        f"source address {self.source_address} cannot reach this address family"
                    )
                sock.bind((self.source_address, 0))
        except BaseException:
            sock.close()
            raise
        return sock


async def _connect(binding: Binding, ip: str, port: int, kind: int, proto: int = 0) -> socket.socket:
    sock = binding.socket(_family(ip), kind, proto)
    try:
        await asyncio.get_running_loop().sock_connect(sock, (ip, port))
    except BaseException:
        sock.close()
        raise
    return sock


async def probe_tcp(binding: Binding, ip: str, target: TargetConfig) -> float:
    """Round trip of a TCP handshake in ms."""
    started = time.perf_counter()
    sock = await _connect(binding, ip, target.address_port or 0, socket.SOCK_STREAM)
    rtt = (time.perf_counter() - started) * 1000
    sock.close()
    return rtt


@functools.lru_cache(maxsize=8)
def _tls_context(ca_file: str | None) -> ssl.SSLContext:
    # loading the trust store costs milliseconds: once per CA bundle, not once per probe
    return ssl.create_default_context(cafile=ca_file)


async def probe_http(binding: Binding, ip: str, target: TargetConfig) -> float:
    """Time to the status line of a GET, in ms; the status must be ``expect_status`` (or below 400)."""
    assert target.url is not None
    parts = urlsplit(target.url)
    https = parts.scheme == "https"
    started = time.perf_counter()
    sock = await _connect(binding, ip, target.address_port or 0, socket.SOCK_STREAM)
    context = _tls_context(str(target.ca_file) if target.ca_file else None) if https else None
    try:
        reader, writer = await asyncio.open_connection(
            sock=sock, ssl=context, server_hostname=parts.hostname if https else None
        )
    except BaseException:
        sock.close()
        raise
    try:
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        writer.write(
            f"GET {path} HTTP/1.1\r\nHost: {parts.netloc.rsplit('@', 1)[-1]}\r\n"
            "User-Agent: thonminh-uplink-probe\r\nAccept: */*\r\nConnection: close\r\n\r\n".encode()
        )
        line = await reader.readline()
        rtt = (time.perf_counter() - started) * 1000
    finally:
        writer.transport.abort()
    words = line.decode("latin-1").split()
    if len(words) < 2 or not words[0].startswith("HTTP/") or not words[1].isdigit():
        raise ProbeFailure("no HTTP status line" if not line else f"bad status line {line[:40]!r}")
    status = int(words[1])
    ok = status == target.expect_status if target.expect_status else status < 400
    if not ok:
        raise ProbeFailure(f"status {status}")
    return rtt


async def _dns_exchange(
    binding: Binding, ip: str, port: int, name: str, rtype: int
) -> tuple[float, DnsResponse]:
    loop = asyncio.get_running_loop()
    sock = await _connect(binding, ip, port, socket.SOCK_DGRAM)
    try:
        ident = random.getrandbits(16)
        started = time.perf_counter()
        await loop.sock_sendall(sock, build_query(ident, name, rtype))
        while True:  # bounded by the caller's timeout; stray datagrams are ignored
            data = await loop.sock_recv(sock, 4096)
            try:
                response = parse_response(data, ident)
            except DnsError:
                continue
            return (time.perf_counter() - started) * 1000, response
    finally:
        sock.close()


async def probe_dns(binding: Binding, ip: str, target: TargetConfig) -> float:
    """Round trip of a DNS query in ms; NOERROR and NXDOMAIN count as answers, other codes fail."""
    rtt, response = await _dns_exchange(binding, ip, target.address_port or 53, target.query, TYPE_A)
    if response.rcode not in (0, 3):
        raise ProbeFailure(f"dns {response.rcode_name}")
    return rtt


def _checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    total: int = sum(struct.unpack(f"!{len(data) // 2}H", data))
    total = (total >> 16) + (total & 0xFFFF)
    total += total >> 16
    return ~total & 0xFFFF


def _icmp_socket(binding: Binding, family: socket.AddressFamily) -> tuple[socket.socket, bool]:
    proto = socket.IPPROTO_ICMP if family == socket.AF_INET else socket.IPPROTO_ICMPV6
    try:
        return binding.socket(family, socket.SOCK_DGRAM, proto), False
    except PermissionError:
        # ping sockets are off unless net.ipv4.ping_group_range covers our group: fall back to raw
        return binding.socket(family, socket.SOCK_RAW, proto), True


async def probe_icmp(binding: Binding, ip: str, target: TargetConfig) -> float:
    """Round trip of one ICMP echo in ms."""
    loop = asyncio.get_running_loop()
    family = _family(ip)
    request_type, reply_type = _ICMP_ECHO[family]
    sock, raw = _icmp_socket(binding, family)
    try:
        sock.connect((ip, 0))  # datagram "connect": immediate; the kernel then filters replies by source
        ident, seq = random.getrandbits(16), random.getrandbits(16)
        token = os.urandom(8)
        header = struct.pack("!BBHHH", request_type, 0, 0, ident, seq)
        checksum = _checksum(header + token) if family == socket.AF_INET else 0
        packet = struct.pack("!BBHHH", request_type, 0, checksum, ident, seq) + token
        started = time.perf_counter()
        await loop.sock_sendall(sock, packet)
        while True:
            data = await loop.sock_recv(sock, 2048)
            if raw and family == socket.AF_INET:
                data = data[(data[0] & 0x0F) * 4 :]  # raw IPv4 sockets deliver the IP header too
            if len(data) < 8 or data[0] != reply_type:
                continue
            _t, _c, _sum, rid, rseq = struct.unpack("!BBHHH", data[:8])
            # a ping socket rewrites the identifier; the sequence number and token still match
            if rseq == seq and data[8:16] == token and (rid == ident or not raw):
                return (time.perf_counter() - started) * 1000
    finally:
        sock.close()


ProbeFn = Callable[[Binding, str, TargetConfig], Awaitable[float]]
PROBES: dict[str, ProbeFn] = {"tcp": probe_tcp, "http": probe_http, "dns": probe_dns, "icmp": probe_icmp}


class Prober:
    """Probes every target of one uplink concurrently, each within ``timeout_s``."""

    def __init__(self, config: UplinkConfig, *, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.config = config
        self.binding = Binding(config.interface, config.source_address)
        self._monotonic = monotonic
        self._cache: dict[str, tuple[str, float]] = {}

    async def cycle(self) -> list[ProbeResult]:
        """One probe of every target; never raises for a target's failure."""
        return list(await asyncio.gather(*(self._probe(t) for t in self.config.targets)))

    async def _probe(self, target: TargetConfig) -> ProbeResult:
        try:
            async with asyncio.timeout(self.config.timeout_s):
                ip = await self._resolve(target.address_host)
                rtt = await PROBES[target.kind](self.binding, ip, target)
        except (OSError, ProbeFailure, ssl.SSLError, asyncio.IncompleteReadError, DnsError) as err:
            return ProbeResult(target.label, False, error=describe_error(err, self.config.interface))
        return ProbeResult(target.label, True, rtt_ms=rtt)

    async def _resolve(self, host: str) -> str:
        literal = host.strip("[]")
        try:
            socket.inet_pton(_family(literal), literal)
            return literal
        except OSError:
            pass
        cached = self._cache.get(host)
        if cached and cached[1] > self._monotonic():
            return cached[0]
        if self.config.resolver:
            ip, ttl = await self._resolve_through_link(host)
        else:
            infos = await asyncio.get_running_loop().getaddrinfo(host, None, type=socket.SOCK_STREAM)
            if not infos:
                raise ProbeFailure(f"resolve {host}: no address")
            ip, ttl = str(infos[0][4][0]), 60.0
        self._cache[host] = (ip, self._monotonic() + min(ttl, _MAX_CACHE_S))
        return ip

    async def _resolve_through_link(self, host: str) -> tuple[str, float]:
        assert self.config.resolver is not None
        for rtype in (TYPE_A, TYPE_AAAA):
            _rtt, response = await _dns_exchange(
                self.binding, self.config.resolver, self.config.resolver_port, host, rtype
            )
            for answer in response.answers:
                if answer.address:
                    return answer.address, float(answer.ttl)
        raise ProbeFailure(f"resolve {host}: no address")
