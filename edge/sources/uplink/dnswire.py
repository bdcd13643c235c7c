"""The few pieces of the DNS wire format (RFC 1035) the probes need: one query, one response. Pure."""

from __future__ import annotations

import ipaddress
import struct
from dataclasses import dataclass

__all__ = [
    "RCODES",
    "TYPE_A",
    "TYPE_AAAA",
    "DnsAnswer",
    "DnsError",
    "DnsResponse",
    "build_query",
    "build_response",
    "parse_response",
]

TYPE_A = 1
TYPE_AAAA = 28
_CLASS_IN = 1
RCODES = {0: "NOERROR", 1: "FORMERR", 2: "SERVFAIL", 3: "NXDOMAIN", 4: "NOTIMP", 5: "REFUSED"}


class DnsError(ValueError):
    """A datagram that is not a well-formed answer to our query."""


@dataclass(frozen=True, slots=True)
class DnsAnswer:
    rtype: int
    ttl: int
    address: str | None  # for A and AAAA records


@dataclass(frozen=True, slots=True)
class DnsResponse:
    ident: int
    rcode: int
    answers: tuple[DnsAnswer, ...]

    @property
    def rcode_name(self) -> str:
        return RCODES.get(self.rcode, str(self.rcode))


def _encode_name(name: str) -> bytes:
    out = bytearray()
    for label in name.rstrip(".").split("."):
        if not label:
            continue
        raw = label.encode("idna")
        if len(raw) > 63:
            raise ValueError(f"DNS label too long in {name!r}")
        out += bytes([len(raw)]) + raw
    return bytes(out) + b"\0"


def build_query(ident: int, name: str, rtype: int = TYPE_A) -> bytes:
    """A recursive query for ``name``: header (RD set), one question."""
    header = struct.pack("!HHHHHH", ident & 0xFFFF, 0x0100, 1, 0, 0, 0)
    return header + _encode_name(name) + struct.pack("!HH", rtype, _CLASS_IN)


def _skip_name(data: bytes, pos: int) -> int:
    for _ in range(128):  # bounded: a compression loop cannot hang us
        if pos >= len(data):
            raise DnsError("name runs past the end")
        length = data[pos]
        if length == 0:
            return pos + 1
        if length & 0xC0 == 0xC0:
            return pos + 2
        pos += 1 + length
    raise DnsError("name too long")


def parse_response(data: bytes, ident: int) -> DnsResponse:
    """Parse an answer to query ``ident``; ``DnsError`` for anything else (wrong id, not a response, junk)."""
    if len(data) < 12:
        raise DnsError(f"{len(data)} bytes is shorter than a DNS header")
    rid, flags, qdcount, ancount, _ns, _ar = struct.unpack("!HHHHHH", data[:12])
    if rid != ident & 0xFFFF:
        raise DnsError(f"id {rid} is not our query's {ident & 0xFFFF}")
    if not flags & 0x8000:
        raise DnsError("not a response (QR bit clear)")
    pos = 12
    for _ in range(qdcount):
        pos = _skip_name(data, pos) + 4
    answers = []
    for _ in range(ancount):
        pos = _skip_name(data, pos)
        if pos + 10 > len(data):
            raise DnsError("answer runs past the end")
        rtype, _rclass, ttl, rdlen = struct.unpack("!HHIH", data[pos : pos + 10])
        pos += 10
        rdata = data[pos : pos + rdlen]
        if len(rdata) != rdlen:
            raise DnsError("record data runs past the end")
        pos += rdlen
        address = None
        if rtype == TYPE_A and rdlen == 4:
            address = str(ipaddress.IPv4Address(rdata))
        elif rtype == TYPE_AAAA and rdlen == 16:
            address = str(ipaddress.IPv6Address(rdata))
        answers.append(DnsAnswer(rtype, ttl, address))
    return DnsResponse(rid, flags & 0x000F, tuple(answers))


def build_response(query: bytes, addresses: list[str], *, rcode: int = 0, ttl: int = 60) -> bytes:
    """An answer to ``query`` with A records (the test and simulator responder). Pure."""
    if len(query) < 12:
        raise DnsError("query shorter than a DNS header")
    ident = struct.unpack("!H", query[:2])[0]
    end = _skip_name(query, 12) + 4
    question = query[12:end]
    header = struct.pack("!HHHHHH", ident, 0x8180 | (rcode & 0xF), 1, len(addresses), 0, 0)
    body = b"".join(
        b"\xc0\x0c" + struct.pack("!HHIH", TYPE_A, _CLASS_IN, ttl, 4) + ipaddress.IPv4Address(a).packed
        for a in addresses
    )
    return header + question + body
