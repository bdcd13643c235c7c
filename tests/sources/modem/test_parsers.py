"""3GPP TS 27.007 parsers on verbatim answers of real modems (see fixtures/ for where each came from)."""

from __future__ import annotations

import pytest

from edge.sources.modem.parsers import (
    CmeError,
    ParseError,
    Registration,
    access_tech_from_act,
    parse_cesq,
    parse_cme_error,
    parse_cops,
    parse_cpin,
    parse_csq,
    parse_registration,
    sim_from_error,
    split_fields,
)

from .conftest import fixture


def test_split_fields_keeps_commas_in_quotes_and_drops_spaces():
    assert split_fields('0,0,"242 01 Telenor",9') == ["0", "0", "242 01 Telenor", "9"]
    assert split_fields(' "servingcell","NOCONN","NR5G-SA","TDD", 515,66') == [
        "servingcell",
        "NOCONN",
        "NR5G-SA",
        "TDD",
        "515",
        "66",
    ]
    assert split_fields('"a,b",,c') == ["a,b", "", "c"] and split_fields("") == []


def test_csq_converts_to_dbm_and_keeps_unknown_unknown():
    sim7600 = fixture("simcom_sim7600_tsim7600x_140.txt")["AT+CSQ (unknown, then 27)"]
    assert [parse_csq([line]) for line in sim7600] == [None, -59.0]
    assert parse_csq(fixture("quectel_ec200a_3ginfo_135.txt")["AT+CSQ"]) == -79.0
    assert parse_csq(fixture("marvell_obsy_3.txt")["AT+CSQ"]) is None  # '+CSQ:99,99', no space
    assert parse_csq(["+CSQ: 0,99"]) == -113.0 and parse_csq(["+CSQ: 31,99"]) == -51.0
    assert parse_csq(["+CSQ: 100,99"]) == -116.0 and parse_csq(["+CSQ: 199,99"]) is None  # TD-SCDMA range
    assert parse_csq([]) is None
    with pytest.raises(ParseError, match="rssi 57 out of range"):
        parse_csq(["+CSQ: 57,99"])
    with pytest.raises(ParseError, match="not a number"):
        parse_csq(["+CSQ: ??,99"])


def test_cesq_lte_nr_and_unknown():
    marvell = parse_cesq(fixture("marvell_obsy_3.txt")["AT+CESQ"])
    assert (marvell.rsrq_db, marvell.rsrp_dbm, marvell.rssi_dbm) == (-14.0, -101.0, None)
    lte = parse_cesq(fixture("modemmanager_cesq.txt")["AT+CESQ"])
    assert (lte.rsrq_db, lte.rsrp_dbm, lte.rscp_dbm, lte.ecno_db) == (-10.0, -61.0, None, None)
    nr = parse_cesq(fixture("modemmanager_cesq.txt")["AT+CESQ (5G SA)"])
    assert (nr.rsrp_dbm, nr.rsrq_db) == (None, None)
    assert (nr.ss_rsrq_db, nr.ss_rsrp_dbm, nr.ss_sinr_db) == (-11.0, -82.0, 14.0)
    assert parse_cesq(["+CESQ: 99,99,255,255,255,255"]) == parse_cesq(
        ["+CESQ: 99,99,255,255,255,255,255,255,255"]
    )
    assert parse_cesq(["+CESQ: 63,0,96,49,34,97"]).rsrp_dbm == -44.0  # the top of every range
    with pytest.raises(ParseError, match="level 98 out of range 0..97"):
        parse_cesq(["+CESQ: 99,99,255,255,20,98"])
    with pytest.raises(ParseError, match="expected at least 6"):
        parse_cesq(["+CESQ: 99,99"])


@pytest.mark.parametrize(
    ("name", "section", "command", "expected"),
    [
        ("quectel_ec200a_3ginfo_135.txt", "AT+CREG?", "CREG", Registration("CREG", 1, 7)),
        ("marvell_obsy_3.txt", "AT+CREG?", "CREG", Registration("CREG", 1, 7)),  # unquoted LAC and cell id
        ("marvell_obsy_3.txt", "AT+CGREG?", "CGREG", Registration("CGREG", 0, None)),
        ("marvell_obsy_3.txt", "AT+CEREG?", "CEREG", Registration("CEREG", 1, 7)),
        ("fibocom_fm150_3ginfo_32.txt", "AT+CREG?", "CREG", Registration("CREG", 1, 13)),
        ("fibocom_l850_3ginfo_82.txt", "AT+CREG?", "CREG", Registration("CREG", 6, 7)),
        ("simcom_sim7000_botletics_50.txt", "AT+CREG?", "CREG", Registration("CREG", 0, None)),
        ("simcom_sim7000_botletics_50.txt", "AT+CEREG?", "CEREG", Registration("CEREG", 1, None)),
        ("quectel_nr5g_sa_3ginfo_57.txt", "AT+C5GREG?", "C5GREG", Registration("C5GREG", 1, 11)),
    ],
)
def test_registration_read_forms(name: str, section: str, command: str, expected: Registration):
    assert parse_registration(fixture(name)[section], command) == expected


def test_registration_states_and_urc_forms():
    searching, registered = fixture("simcom_sim7600_tsim7600x_140.txt")[
        "AT+CGREG? (searching, then registered)"
    ]
    assert parse_registration([searching], "CGREG").state == "searching"
    assert parse_registration([registered], "CGREG").registered
    assert parse_registration(fixture("fibocom_l850_3ginfo_82.txt")["AT+CREG?"]).state == "home"  # SMS only
    [urc] = fixture("quectel_manual_eg91xq.txt")["urc: AT+CREG=1 then registration"]
    assert parse_registration([urc], solicited=False) == Registration("CREG", 1)
    assert parse_registration(['+CREG: 1,"D509","80D413D",7'], solicited=False) == Registration("CREG", 1, 7)
    # a URC that arrived inside the answer to AT+CREG? is told apart by its shape
    assert parse_registration(['+CREG: 1,"D509","80D413D",7', "+CREG: 2,5"]).state == "roaming"
    assert [Registration("CEREG", s).state for s in (0, 2, 3, 4, 5, 8)] == [
        "not_registered",
        "searching",
        "denied",
        "unknown",
        "roaming",
        "not_registered",
    ]
    with pytest.raises(ParseError, match="stat 12 out of range"):
        parse_registration(["+CEREG: 0,12"], "CEREG")
    with pytest.raises(ParseError, match="no CREG read response"):
        parse_registration(['+CREG: 1,"D509","80D413D"'])


def test_cops_operator_and_technology():
    cases = {
        (
            "simcom_sim7600_tsim7600x_90.txt",
            "transcript: the modem's output as logged (commands echoed in lower case)",
        ): None,
        ("quectel_ec200a_3ginfo_135.txt", "AT+COPS?"): ("NOS", "LTE"),
        ("quectel_ec200a_3ginfo_135.txt", "AT+COPS? (numeric format)"): ("26803", "LTE"),
        ("fibocom_fm150_3ginfo_32.txt", "AT+COPS?"): ("Telekom.de", "NR5G-NSA"),
        ("simcom_sim7000_botletics_50.txt", "AT+COPS?"): ("242 01 Telenor", "NB-IoT"),
        ("quectel_manual_eg91xq.txt", "AT+COPS? (after AT+CFUN=0)"): (None, None),
        ("simcom_no_service.txt", "AT+COPS? (manually deregistered)"): (None, None),
    }
    for (name, section), expected in cases.items():
        found = parse_cops(fixture(name)[section])
        if expected is None:
            assert (found.name, access_tech_from_act(found.act)) == ("Mint", "LTE")
        else:
            assert (found.name, access_tech_from_act(found.act)) == expected
    with pytest.raises(ParseError, match="not a \\+COPS\\? answer"):
        parse_cops(['+COPS: (2,"Viettel","Viettel","45204",7),,(0-4),(0-2)'])


def test_cpin_and_sim_errors():
    assert parse_cpin(fixture("quectel_ec200a_3ginfo_135.txt")["AT+CPIN?"]) == "ready"
    pin, ready = fixture("quectel_manual_eg91xq.txt")[
        "urc: after AT+CFUN=1 with a PIN-locked SIM, then AT+CPIN=1234"
    ][:2]
    assert (parse_cpin([pin]), parse_cpin([ready])) == ("pin", "ready")
    assert parse_cpin(["+CPIN: NOT READY"]) == "error" and parse_cpin([]) is None
    errors = fixture("errors_field.txt")
    [plain] = errors["AT+CPIN? (AT+CMEE=0)"]
    [verbose] = errors["AT+CPIN? (AT+CMEE=2)"]
    [network] = errors["AT+COPS? (AT+CMEE=2)"]
    assert parse_cme_error(plain) is None and sim_from_error(None) == "error"
    assert (
        parse_cme_error(verbose) == CmeError(None, "SIM not inserted")
        and sim_from_error(parse_cme_error(verbose)) == "absent"
    )
    assert parse_cme_error(network) == CmeError(None, "no network service")
    # numeric forms (AT+CMEE=1), numbered as in TS 27.007 section 9.2.1
    assert [sim_from_error(parse_cme_error(f"+CME ERROR: {n}")) for n in (10, 11, 12, 13, 14, 100)] == [
        "absent",
        "pin",
        "pin",
        "error",
        "error",
        "error",
    ]
    assert sim_from_error(parse_cme_error("+CME ERROR: SIM PIN required")) == "pin"


# -- serial noise: only ASCII numbers and printable names, and a ParseError naming the line, never a crash ------


@pytest.mark.parametrize(
    ("lines", "command", "problem"),
    [
        # '²'.isdigit() is true and int('²') fails: the read form's stat, then the AcT
        (['+CREG: 2,²,"1A2B","01A2B3C",7'], "CREG", "no CREG read response"),
        (['+CEREG: 2,1,"1A2B","01A2B3C",²'], "CEREG", "AcT is not a number"),
        (['+CEREG: 2,1,"1A2B","01A2B3C",٧'], "CEREG", "AcT is not a number"),  # int() would read 7
        (["+CGREG: 0,1_0"], "CGREG", "stat is not a number"),
        (["+CREG: 0," + "9" * 5000], "CREG", "stat is not a number"),  # int() refuses over 4300 digits
    ],
)
def test_registration_refuses_non_ascii_numbers_with_a_parse_error(
    lines: list[str], command: str, problem: str
):
    with pytest.raises(ParseError, match=problem) as raised:
        parse_registration(lines, command)
    assert raised.value.line == lines[0].split(": ", 1)[1].replace('"', "")
    assert len(str(raised.value)) < 250  # the reason quotes a cut of the line; the line is the sample


@pytest.mark.parametrize("rssi", ["٣١", "3_1", "³¹", " 3 1", "31.5", "1e1", "-0x1f"])
def test_csq_takes_ascii_digits_only(rssi: str):
    with pytest.raises(ParseError, match="rssi is not"):
        parse_csq([f"+CSQ: {rssi},99"])


def test_cesq_and_cops_refuse_noise():
    with pytest.raises(ParseError, match="level is not a number"):
        parse_cesq(["+CESQ: 99,99,255,255,٢٠,5_0"])
    with pytest.raises(ParseError, match="AcT is not a number"):
        parse_cops(['+COPS: 0,0,"Viettel",⁷'])
    for name in ("Viet\x00tel", "Viettel\x1b[0m", "Việttel", "V" * 65):
        with pytest.raises(ParseError, match="operator is not printable ASCII"):
            parse_cops([f'+COPS: 0,0,"{name}",7'])
    assert parse_cops(['+COPS: 0,0,"VN VINAPHONE",7']).name == "VN VINAPHONE"
