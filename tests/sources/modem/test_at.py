"""The AT layer over a real pty: echo, final result codes, URCs between lines, errors, silence, garbage, unplug."""

from __future__ import annotations

import asyncio
import os
import select
import threading
import time
import tty
from collections.abc import Iterator

import pytest

from edge.sources.modem.at import ATChannel, ATError, ATTimeout, ModemGone, command_prefix

from .conftest import fixture


def crlf(*lines: str) -> bytes:
    return "".join(f"\r\n{line}\r\n" for line in lines).encode()


class Peer:
    """The far end of a pty: answers each command with scripted bytes, optionally one byte at a time."""

    def __init__(self) -> None:
        self.master, self.slave = os.openpty()
        tty.setraw(self.slave)
        self.path = os.ttyname(self.slave)
        self.replies: dict[str, bytes] = {}
        self.trickle = False
        self.received: list[str] = []
        self._stop_r, self._stop_w = os.pipe()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def send(self, data: bytes) -> None:
        for i in range(len(data)) if self.trickle else [None]:
            os.write(self.master, data if i is None else data[i : i + 1])

    def _serve(self) -> None:
        buffer = b""
        while True:
            # select first: a thread blocked in read() would keep the pty open after close()
            ready, _, _ = select.select([self.master, self._stop_r], [], [])
            if self._stop_r in ready:
                return
            try:
                buffer += os.read(self.master, 1024)
            except OSError:
                return
            while b"\r" in buffer:
                raw, buffer = buffer.split(b"\r", 1)
                command = raw.decode().strip()
                self.received.append(command)
                if command.upper() in self.replies:
                    self.send(self.replies[command.upper()])

    def unplug(self) -> None:
        os.write(self._stop_w, b"x")
        self._thread.join(timeout=5)
        os.close(self.master)
        os.close(self.slave)


@pytest.fixture
def peer() -> Iterator[Peer]:
    p = Peer()
    yield p
    try:
        p.unplug()
    except OSError:
        pass


def test_command_prefixes():
    assert [
        command_prefix(c)
        for c in ("AT+CSQ", "AT+CPIN?", 'AT+QENG="servingcell"', "ATI", "ATE0", "AT^SYSINFO")
    ] == ["+CSQ", "+CPIN", "+QENG", None, None, "^SYSINFO"]


async def test_a_real_terminal_session_with_echo_and_boot_urcs(peer: Peer):
    # SIM7600G-H as typed at a terminal (fixtures/simcom_sim7600_tsim7600x_90.txt): URCs first, then each
    # command echoed (in lower case) before its answer
    transcript = fixture("simcom_sim7600_tsim7600x_90.txt")[
        "transcript: the modem's output as logged (commands echoed in lower case)"
    ]
    blocks: list[list[str]] = [[]]
    for line in transcript:
        if line.startswith("at"):
            blocks.append([])
        blocks[-1].append(line)
    for block in blocks[1:]:
        peer.replies[block[0].upper()] = "\r\n".join(block).encode() + b"\r\n"
    urcs: list[str] = []
    async with ATChannel(peer.path, on_urc=urcs.append) as at:
        peer.send("\r\n".join(blocks[0]).encode() + b"\r\n")
        csq = await at.command("AT+CSQ", timeout=2)
        creg = await at.command("AT+CREG?", timeout=2)
        cops = await at.command("AT+COPS?", timeout=2)
    assert urcs == ["+CPIN: READY", "SMS DONE", "PB DONE", '+CMTI: "SM",4']
    assert (csq.lines, csq.final) == (("+CSQ: 31,99",), "OK")
    assert creg.lines == ("+CREG: 0,1",) and cops.lines == ('+COPS: 0,0,"Mint",7',)


async def test_urcs_between_the_answer_and_its_result_code_do_not_confuse_it(peer: Peer):
    boot = fixture("quectel_manual_eg91xq.txt")[
        "urc: after AT+CFUN=1 with a PIN-locked SIM, then AT+CPIN=1234"
    ]
    peer.replies["AT+CSQ"] = crlf("+CSQ: 17,99", *boot[2:], "POWERED DOWN") + b"\r\nOK\r\n"
    peer.replies["ATI"] = crlf("Quectel", "+QIND: SMS DONE", "EC25", "Revision: EC25EFAR06A06M4G", "OK")
    urcs: list[str] = []
    async with ATChannel(peer.path, on_urc=urcs.append) as at:
        csq = await at.command("AT+CSQ", timeout=2)
        ati = await at.command("ATI", timeout=2)
    assert csq.lines == ("+CSQ: 17,99",)
    assert ati.lines == ("Quectel", "EC25", "Revision: EC25EFAR06A06M4G")
    assert urcs == ["+QUSIM: 1", "+QIND: PB DONE", "+QIND: SMS DONE", "POWERED DOWN", "+QIND: SMS DONE"]


async def test_answers_trickling_in_one_byte_at_a_time(peer: Peer):
    qeng = fixture("quectel_3ginfo_111.txt")['AT+QENG="servingcell"']
    peer.replies['AT+QENG="SERVINGCELL"'] = b'AT+QENG="servingcell"\r' + crlf(*qeng, "OK")  # echo on, too
    peer.trickle = True
    async with ATChannel(peer.path) as at:
        answer = await at.command('AT+QENG="servingcell"', timeout=5)
    assert answer.lines == tuple(qeng)


async def test_error_result_codes(peer: Peer):
    errors = fixture("errors_field.txt")
    peer.replies["AT+CPIN?"] = crlf(*errors["AT+CPIN? (AT+CMEE=2)"])
    peer.replies["AT+COPS?"] = crlf(*errors["AT+COPS? (AT+CMEE=2)"])
    peer.replies["AT+QENG?"] = crlf(*errors["AT+CPIN? (AT+CMEE=0)"])
    peer.replies["AT+CSQ"] = crlf("+CME ERROR: 10")
    async with ATChannel(peer.path) as at:
        with pytest.raises(ATError) as sim:
            await at.command("AT+CPIN?", timeout=2)
        with pytest.raises(ATError) as network:
            await at.command("AT+COPS?", timeout=2)
        with pytest.raises(ATError) as plain:
            await at.command("AT+QENG?", timeout=2)
        with pytest.raises(ATError) as numeric:
            await at.command("AT+CSQ", timeout=2)
    assert sim.value.cme.text == "SIM not inserted" and network.value.cme.text == "no network service"
    assert plain.value.cme is None and plain.value.response.final == "ERROR"
    assert numeric.value.cme.code == 10


async def test_silence_is_a_timeout_and_the_channel_still_works_after(peer: Peer):
    peer.replies["AT"] = crlf("OK")
    async with ATChannel(peer.path) as at:
        started = time.monotonic()
        with pytest.raises(ATTimeout, match="AT\\+CSQ: no final result code within 0.3 s"):
            await at.command("AT+CSQ", timeout=0.3)
        assert 0.25 < time.monotonic() - started < 1.5
        assert (await at.command("AT", timeout=2)).final == "OK"


async def test_garbage_is_contained(peer: Peer):
    urcs: list[str] = []
    peer.replies["AT+CSQ"] = b"\xff\xfe\x00\x1b[0m" + crlf("+CSQ: 20,99", "OK")
    async with ATChannel(peer.path, on_urc=urcs.append) as at:
        peer.send(b"\x00\xff" * 3000)  # line noise with no line end: dropped, counted
        peer.send(b"\r\n\x8f\x8f junk \x8f\r\n")
        await asyncio.sleep(0.2)  # idle: the junk line is unsolicited
        answer = await at.command("AT+CSQ", timeout=2)
        assert at.discarded_bytes >= 4096
    assert answer.lines[-1] == "+CSQ: 20,99"
    assert any("junk" in u for u in urcs)


async def test_the_device_disappearing_fails_the_running_command_at_once(peer: Peer):
    async with ATChannel(peer.path) as at:
        pending = asyncio.ensure_future(at.command("AT+CSQ", timeout=10))
        await asyncio.sleep(0.1)
        peer.unplug()
        started = time.monotonic()
        with pytest.raises(ModemGone):
            await pending
        assert time.monotonic() - started < 2
        with pytest.raises(ModemGone):
            await at.command("AT", timeout=1)
        assert not at.is_open


async def test_a_missing_port_cannot_be_opened(tmp_path):
    with pytest.raises(OSError, match="could not open port"):
        await ATChannel(str(tmp_path / "ttyUSB9")).open()
