"""The modem source against the pty emulator: what it reports, and how it survives the modem's misbehaviour."""

from __future__ import annotations

import asyncio
import logging
import os
from pathlib import Path

import pytest
from pydantic import ValidationError
from sourcekit import FakeClock

from edge.sources.modem.source import ModemSource
from lab.simulate.modem_emulator import ModemEmulator, RadioState
from thonminh.lineprotocol import encode_line

HEALTHY = {
    "registered": 1,
    "reg_state": "home",
    "access_tech": "LTE",
    "operator": "Viettel",
    "rssi_dbm": -65.0,
    "rsrp_dbm": -95.0,
    "rsrq_db": -10.0,
    "sinr_db": 12.0,
    "sim": "ready",
}
UNKNOWN = {"reg_state": "unknown"}


def make(make_ctx, port: str, clock: FakeClock | None = None, **kw) -> ModemSource:
    config = ModemSource.Config(
        port=port,
        interval_s=30,
        command_timeout_s=1.0,  # a pty under a busy box (the suite on two cores) answered later than 0.4 s
        id="ec25",
        backoff_initial_s=5,
        backoff_max_s=40,
        **kw,
    )
    # only monotonic time is moved by hand, so backoff waits cost no real time
    return ModemSource(
        config, make_ctx(monotonic=(clock or FakeClock()).monotonic, key_path="sources.modem[0]")
    )


async def poll(source: ModemSource) -> dict:
    [point] = await source.sample()
    encode_line(point)
    assert point.measurement == "modem" and point.tags["modem"] == "ec25" and point.tags["link"] == "4g"
    fields = dict(point.fields)
    # the modem either answered (available=1) or nothing at all is claimed about the radio (available=0)
    assert fields.pop("available") == (0 if fields == UNKNOWN else 1)
    return fields


async def test_reads_the_radio_state(make_ctx, emulator: ModemEmulator):
    source = make(make_ctx, emulator.path)
    assert await poll(source) == HEALTHY
    assert source.vendor == emulator.personality
    vendor_commands = {"quectel": {'AT+QENG="servingcell"', "AT+QCSQ", "AT+QNWINFO"}, "simcom": {"AT+CPSI?"}}
    assert vendor_commands[emulator.personality] <= set(emulator.commands)
    emulator.commands.clear()
    emulator.state.rsrp_dbm, emulator.state.operator = -111, "Vinaphone"
    fields = await poll(source)
    assert (fields["rsrp_dbm"], fields["operator"]) == (-111.0, "Vinaphone")
    assert (
        "ATE0" not in emulator.commands and "AT+C5GREG?" not in emulator.commands
    )  # set up once; ERROR once
    await source.close()


async def test_unknown_values_are_left_out_never_zero(make_ctx, emulator: ModemEmulator):
    source = make(make_ctx, emulator.path)
    emulator.state.stat = 2  # searching: no serving cell
    assert await poll(source) == {
        "registered": 0,
        "reg_state": "searching",
        "rssi_dbm": -73.0,
        "sim": "ready",
    }
    emulator.state.csq = 99
    assert await poll(source) == {"registered": 0, "reg_state": "searching", "sim": "ready"}
    emulator.state.stat, emulator.state.sim = 0, "absent"
    assert await poll(source) == {"registered": 0, "reg_state": "not_registered", "sim": "absent"}
    await source.close()


async def test_urcs_inside_answers_are_ignored_and_junk_is_counted(
    make_ctx, collected, emulator: ModemEmulator
):
    source = make(make_ctx, emulator.path)
    await poll(source)
    emulator.urcs_in_next_answer = ["+QIND: SMS DONE", "+CREG: 1", "RDY"]
    assert await poll(source) == HEALTHY
    assert collected.rejected == []
    emulator.inject_urc("%%%% line noise %%%%")
    emulator.inject_garbage(b"\x8f\x8f\x00\xfe\r\n")
    await asyncio.sleep(0.2)
    assert await poll(source) == HEALTHY
    assert [reason for reason, _ in collected.rejected] == ["modem ec25: unexpected line from the modem"] * 2
    await source.close()


class GarbledRegistration(RadioState):
    """Registered for every command, while the registration answers carry serial noise where the AcT goes."""

    @property
    def registered(self) -> bool:
        return True


async def test_a_garbled_registration_answer_is_a_reject_and_the_rest_of_the_poll_is_kept(
    make_ctx, collected, emulator: ModemEmulator
):
    source = make(make_ctx, emulator.path)
    # '+CEREG: 0,1,"4D2","1A2B3C4",²': str.isdigit() is true for '²', int() is not
    emulator.state = GarbledRegistration(stat='1,"4D2","1A2B3C4",²')  # type: ignore[arg-type]
    registration = {"registered", "reg_state"}
    assert await poll(source) == {k: v for k, v in HEALTHY.items() if k not in registration}
    reasons = [reason for reason, _ in collected.rejected]
    assert reasons == [
        f"modem ec25: {name}: AcT is not a number: '0,1,4D2,1A2B3C4,²'" for name in ("CEREG", "CGREG", "CREG")
    ]
    assert [sample for _, sample in collected.rejected] == ["0,1,4D2,1A2B3C4,²"] * 3
    emulator.state = RadioState()
    assert await poll(source) == HEALTHY
    await source.close()


async def test_unplugged_then_back_under_a_new_device_node(make_ctx, emulator: ModemEmulator, caplog):
    clock = FakeClock()
    source = make(make_ctx, emulator.path, clock)
    old_tty = emulator.tty
    assert await poll(source) == HEALTHY
    emulator.unplug()
    caplog.set_level(logging.WARNING)
    for _ in range(4):  # unplugged for a while: reported every poll, logged once
        assert await poll(source) == UNKNOWN
        clock.advance(30)
    assert len([r for r in caplog.records if "unavailable" in r.getMessage()]) == 1
    assert not Path(emulator.path).exists()
    blocker = os.openpty()  # someone else now holds the old node number
    emulator.replug()  # the same by-id name, pointing at a new pty (ttyUSB2 coming back as ttyUSB5)
    assert emulator.tty != old_tty and os.path.realpath(emulator.path) == emulator.tty
    clock.advance(60)
    assert await poll(source) == HEALTHY
    await source.close()
    for fd in blocker:
        os.close(fd)


async def test_silence_and_garbage_mark_it_unavailable_then_it_recovers_after_the_backoff(make_ctx, emulator):
    clock = FakeClock()
    source = make(make_ctx, emulator.path, clock)
    assert await poll(source) == HEALTHY
    emulator.silent = True
    assert await poll(source) == UNKNOWN
    emulator.silent = False
    assert await poll(source) == UNKNOWN  # within the 5 s backoff: not even tried
    clock.advance(5)
    assert await poll(source) == HEALTHY
    emulator.garbage = True
    assert await poll(source) == UNKNOWN
    clock.advance(5)
    assert await poll(source) == UNKNOWN  # still garbage: the next wait doubles
    emulator.garbage = False
    clock.advance(5)
    assert await poll(source) == UNKNOWN
    clock.advance(5)
    assert await poll(source) == HEALTHY
    await source.close()


async def test_a_modem_reset_is_noticed_and_echo_turned_off_again(make_ctx, emulator: ModemEmulator):
    source = make(make_ctx, emulator.path)
    assert await poll(source) == HEALTHY
    emulator.reset(boot_s=0.2)
    await asyncio.sleep(0.6)
    assert emulator.echo  # the restarted modem echoes again
    assert await poll(source) == HEALTHY
    assert not emulator.echo and "RDY" in source.urcs
    await source.close()


async def test_a_modem_absent_at_start_is_not_fatal(make_ctx, tmp_path: Path, caplog):
    clock = FakeClock()
    link_dir = tmp_path / "by-id"
    source = make(make_ctx, str(link_dir / "usb-Quectel_EC25-if02-port0"), clock)
    caplog.set_level(logging.WARNING)
    await source.init()
    assert "sources.modem[0].port:" in caplog.text and "does not exist" in caplog.text
    assert await poll(source) == UNKNOWN
    with ModemEmulator("quectel", link_dir=link_dir):
        clock.advance(10)
        assert await poll(source) == HEALTHY
        await source.close()


@pytest.mark.parametrize("sim", ["absent", "pin"])
async def test_sim_states(make_ctx, emulator: ModemEmulator, sim: str):
    emulator.state.sim = sim
    emulator.state.stat = 0
    source = make(make_ctx, emulator.path)
    assert (await poll(source))["sim"] == sim
    await source.close()


@pytest.mark.parametrize("key", ["backoff_initial_s", "backoff_max_s"])
def test_an_endless_wait_before_reopening_is_refused(key):
    """An infinite backoff would never reopen a modem plugged back in, and say nothing."""
    with pytest.raises(ValidationError, match="less than or equal to"):
        ModemSource.Config(port="/dev/ttyUSB2", **{key: float("inf")})
