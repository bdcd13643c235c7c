"""Quectel and SIMCom serving-cell commands on verbatim answers; units as the fixtures' captures show."""

from __future__ import annotations

import pytest

from edge.sources.modem.parsers import ParseError, split_fields
from edge.sources.modem.vendors import (
    VendorSignal,
    normalise_access_tech,
    parse_cpsi,
    parse_manufacturer,
    parse_qcsq,
    parse_qeng_servingcell,
    parse_qnwinfo,
)

from .conftest import fixture

QENG = 'AT+QENG="servingcell"'


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("quectel_3ginfo_111.txt", VendorSignal(True, "LTE", "22288", -52.0, -86.0, -13.0, 15.0)),
        ("quectel_ep06_3ginfo_108.txt", VendorSignal(True, "LTE", "22288", -56.0, -84.0, -9.0, 21.0)),
        ("quectel_ec200t_3ginfo_43.txt", VendorSignal(True, "LTE", "12301", -69.0, -87.0, -16.0, 5.0)),
        ("quectel_qdc507_capture.txt", VendorSignal(True, "LTE", "302220", -82.0, -122.0, -19.0, -9.0)),
        ("quectel_endc_3ginfo_56.txt", VendorSignal(True, "NR5G-NSA", "51503", -58.0, -89.0, -13.0, 16.0)),
        ("quectel_nr5g_sa_3ginfo_48.txt", VendorSignal(True, "NR5G", "310260", None, -104.0, -13.0, 11.0)),
        ("quectel_nr5g_sa_3ginfo_57.txt", VendorSignal(True, "NR5G", "51566", None, -109.0, -12.0, 14.0)),
    ],
)
def test_qeng_servingcell(name: str, expected: VendorSignal):
    assert parse_qeng_servingcell(fixture(name)[QENG]) == expected


def test_qeng_no_cell_and_other_forms():
    manual = fixture("quectel_manual_eg91xq.txt")
    assert parse_qeng_servingcell(manual['AT+QENG="servingcell" (no cell found)']) == VendorSignal(
        service=False
    )
    joined = parse_qeng_servingcell(
        manual['AT+QENG="servingcell" (the manual prints this answer on two lines; joined here)']
    )
    assert (joined.rsrp_dbm, joined.rsrq_db, joined.rssi_dbm, joined.sinr_db) == (-85.0, -10.0, -54.0, 17.0)
    wcdma = parse_qeng_servingcell(
        ['+QENG: "servingcell","CONNECT","WCDMA",440,10,75,6FE0090,10736,58,0,-78,-3,-']
    )
    assert wcdma == VendorSignal(access_tech="WCDMA")
    assert parse_qeng_servingcell([]) is None
    with pytest.raises(ParseError, match="expected at least 15"):
        parse_qeng_servingcell(['+QENG: "servingcell","NOCONN","LTE","FDD",452,04'])
    with pytest.raises(ParseError, match="not a number"):
        parse_qeng_servingcell(
            ['+QENG: "servingcell","NOCONN","LTE","FDD",452,04,1A,1,1650,3,5,5,4D2,x,-9,-60,3,-']
        )


def test_qcsq_sinr_is_in_fifths_of_a_db():
    # the QDC507 capture: QCSQ SINR 55 -> -9 dB, which is what QENG reported next to it
    qcsq = parse_qcsq(fixture("quectel_qdc507_capture.txt")["AT+QCSQ"])
    qeng = parse_qeng_servingcell(fixture("quectel_qdc507_capture.txt")[QENG])
    assert qcsq.sinr_db == qeng.sinr_db == -9.0
    assert (qcsq.rsrp_dbm, qcsq.rsrq_db, qcsq.rssi_dbm) == (
        -124.0,
        -18.0,
        None,
    )  # rssi 85 is no dBm: left out
    assert parse_qcsq(fixture("quectel_bg96_qcsq_freertos_7.txt")["AT+QCSQ"]) == VendorSignal(service=False)
    assert parse_qcsq(['+QCSQ: "GSM",-71']) == VendorSignal(access_tech="GSM", rssi_dbm=-71.0)
    assert parse_qcsq([]) is None


def test_qnwinfo():
    assert parse_qnwinfo(fixture("quectel_3ginfo_111.txt")["AT+QNWINFO"]) == VendorSignal(
        access_tech="LTE", operator="22288"
    )
    assert parse_qnwinfo(fixture("quectel_endc_3ginfo_56.txt")["AT+QNWINFO"]).access_tech == "NR5G-NSA"
    assert parse_qnwinfo(fixture("quectel_nr5g_sa_3ginfo_48.txt")["AT+QNWINFO"]).access_tech == "NR5G"
    assert parse_qnwinfo(fixture("quectel_qnwinfo_no_service.txt")["AT+QNWINFO"]) == VendorSignal(
        service=False
    )


@pytest.mark.parametrize(
    ("name", "section", "expected"),
    [
        # SIM7600 and SIM7906 report RSRQ/RSRP/RSSI in tenths; SIM7000 in whole units
        (
            "simcom_sim7600_tsim7600x_140.txt",
            "AT+CPSI?",
            VendorSignal(True, "LTE", "46011", -59.1, -89.2, -9.8, 12.0),
        ),
        (
            "simcom_sim7906_3ginfo_61.txt",
            "AT+CPSI?",
            VendorSignal(True, "LTE", "25002", -61.4, -88.9, -10.8, 19.0),
        ),
        (
            "simcom_sim7000_botletics_50.txt",
            "AT+CPSI?",
            VendorSignal(True, "NB-IoT", "24201", -70.0, -77.0, -7.0, 14.0),
        ),
    ],
)
def test_cpsi(name: str, section: str, expected: VendorSignal):
    assert parse_cpsi(fixture(name)[section]) == expected


def test_cpsi_no_service_and_odd_forms():
    online, powering_off = fixture("simcom_no_service.txt")["AT+CPSI?"]
    assert parse_cpsi([online]) == parse_cpsi([powering_off]) == VendorSignal(service=False)
    gsm = parse_cpsi(
        ["+CPSI: GSM,Online,204-04,0x00c9,61828,1002 EGSM 900,-67,0,44-44"]
    )  # SIM7000 manual example
    assert (gsm.access_tech, gsm.rssi_dbm) == ("GSM", -67.0)
    indices = parse_cpsi(["+CPSI: LTE,Online,460-01,0x230A,175499523,318,EUTRAN-BAND3,1650,5,0,21,67,255,19"])
    assert (indices.access_tech, indices.rsrp_dbm, indices.rsrq_db) == ("LTE", None, None)  # unknown scale
    with pytest.raises(ParseError, match="MCC-MNC is not numeric"):
        parse_cpsi(["+CPSI: LTE,Online,4x0-01,0x230A,1,2,EUTRAN-BAND3,1650,5,5,-98,-892,-591,12"])


def test_access_tech_names_and_manufacturer():
    names = [
        "FDD LTE",
        "TDD LTE",
        "HSPA+",
        "HSDPA",
        "EDGE",
        "GPRS",
        "TDSCDMA",
        "NR5G-SA",
        "NR5G-NSA",
        "FDD NR5G",
        "eMTC",
        "NBIoT",
        "CAT-M1",
        "LTE NB-IOT",
        "No Service",
        "NOSERVICE",
        "CDMA1X",
    ]
    assert [normalise_access_tech(n) for n in names] == [
        "LTE",
        "LTE",
        "WCDMA",
        "WCDMA",
        "GSM",
        "GSM",
        "TD-SCDMA",
        "NR5G",
        "NR5G-NSA",
        "NR5G",
        "LTE-M",
        "NB-IoT",
        "LTE-M",
        "NB-IoT",
        None,
        None,
        "CDMA",
    ]
    assert parse_manufacturer(["Quectel"]) == "quectel"
    assert parse_manufacturer(["SIMCOM INCORPORATED"]) == "simcom"
    assert parse_manufacturer(["Fibocom"]) == "generic"


# -- serial noise: only ASCII numbers, numeric operators and printable names; a ParseError otherwise --------


@pytest.mark.parametrize(
    ("parse", "line", "problem"),
    [
        (parse_qnwinfo, '+QNWINFO: "\x00\x01weird tech","x"', "access technology is not printable"),
        (
            parse_qnwinfo,
            '+QNWINFO: "FDD LTÉ","45204","LTE BAND 3",1650',
            "access technology is not printable",
        ),
        (parse_qnwinfo, '+QNWINFO: "' + "LTE " * 20 + '","45204"', "access technology is not printable"),
        (parse_qnwinfo, '+QNWINFO: "FDD LTE","4520²","LTE BAND 3",1650', "MCC-MNC is not numeric"),
        (parse_qcsq, '+QCSQ: "LTE\x07",-65,-95,160,-10', "access technology is not printable"),
        (parse_qcsq, '+QCSQ: "LTE",-65,-9_5,160,-10', "RSRP is not a number"),
        (
            parse_qeng_servingcell,
            '+QENG: "servingcell","NOCONN","\x1bLTE"',
            "access technology is not printable",
        ),
        (
            parse_qeng_servingcell,
            '+QENG: "servingcell","NOCONN","LTE","FDD",452,0٤,1A,1,1650,3,5,5,4D2,-95,-9,-60,3,-',
            "MCC-MNC is not numeric",
        ),
        (
            parse_qeng_servingcell,
            '+QENG: "servingcell","NOCONN","LTE","FDD",452,04,1A,1,1650,3,5,5,4D2,-٩٥,-9,-60,3,-',
            "RSRP is not a number",
        ),
        (parse_cpsi, "+CPSI: LTE,Online,452-0²,0x04D2,1,2,EUTRAN-BAND3,1650,5,5,-98,-892,-591,12", "MCC-MNC"),
        # an infinite RSRP would pick the 1/10 scale
        (parse_cpsi, "+CPSI: LTE,Online,452-04,0x04D2,1,2,EUTRAN-BAND3,1650,5,5,-10,-1e999,-70,10", "RSRP"),
        (parse_cpsi, "+CPSI: LTE,Online,452-04,0x04D2,1,2,EUTRAN-BAND3,1650,5,5,-10,-inf,-70,10", "RSRP"),
        (parse_cpsi, "+CPSI: LTE,Online,452-04,0x04D2,1,2,EUTRAN-BAND3,1650,5,5,-98,-892,-591,1_2", "SINR"),
    ],
)
def test_noise_is_a_parse_error_naming_the_line(parse, line: str, problem: str):
    with pytest.raises(ParseError, match=problem) as raised:
        parse([line])
    assert raised.value.line == ",".join(split_fields(line.split(":", 1)[1]))


def test_unknown_but_sane_technology_names_are_kept():
    assert parse_qnwinfo(['+QNWINFO: "HDR","45204"']) == VendorSignal(access_tech="HDR", operator="45204")
    # an operator by name, as +COPS's format may have it printed: left out, the technology kept
    assert parse_qnwinfo(['+QNWINFO: "FDD LTE","Viettel","LTE BAND 3",1650']) == VendorSignal(
        access_tech="LTE"
    )
    assert parse_qnwinfo(['+QNWINFO: "CDMA1X AND HDR",""']) == VendorSignal(access_tech="CDMA")
    assert normalise_access_tech("LTE NB-IOT (CAT-NB2)") == "NB-IoT"
