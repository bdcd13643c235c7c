"""The fault-injection fixtures really stop, kill and restart the services, keeping port and data."""

from __future__ import annotations

import socket
import subprocess

import pytest

from lab.localservices import InfluxDBServer, MosquittoServer
from thonminh.errors import InfluxConnectionError
from thonminh.influx import InfluxClient


def test_influxdb_kill_and_restart_keeps_port_and_data(influxdb_server: InfluxDBServer):
    client = InfluxClient(influxdb_server.url, database="faults")
    client.create_database("faults")
    client.write("m,village=v,gateway=g x=1i 1000")
    port = influxdb_server.port

    influxdb_server.kill()
    with pytest.raises(InfluxConnectionError):
        client.ping(timeout=1)
    with pytest.raises(InfluxConnectionError):
        client.write("m,village=v,gateway=g x=2i 2000", timeout=1)

    influxdb_server.start()
    assert influxdb_server.port == port
    client.write("m,village=v,gateway=g x=3i 3000")
    rows = client.select("SELECT x FROM m").rows()
    assert [r["x"] for r in rows] == [1, 3]

    influxdb_server.restart()
    assert [r["x"] for r in client.select("SELECT x FROM m").rows()] == [1, 3]
    client.close()


def _pub(server: MosquittoServer, topic: str, message: str, qos: int = 1, retain: bool = True) -> None:
    args = [
        "mosquitto_pub",
        "-h",
        server.host,
        "-p",
        str(server.port),
        "-t",
        topic,
        "-m",
        message,
        "-q",
        str(qos),
    ]
    subprocess.run(args + (["-r"] if retain else []), check=True, timeout=10)


def _sub_one(server: MosquittoServer, topic: str) -> str:
    args = ["mosquitto_sub", "-h", server.host, "-p", str(server.port), "-t", topic, "-C", "1", "-W", "5"]
    return subprocess.run(args, check=True, timeout=10, capture_output=True, text=True).stdout.strip()


def test_mosquitto_stop_kill_restart_keeps_port_and_retained_messages(mosquitto_server: MosquittoServer):
    _pub(mosquitto_server, "tele/light-1/LWT", "Online")
    mosquitto_server.stop()  # graceful: persistence is saved
    with socket.socket() as s:
        assert s.connect_ex((mosquitto_server.host, mosquitto_server.port)) != 0
    mosquitto_server.start()
    assert _sub_one(mosquitto_server, "tele/light-1/LWT") == "Online"

    mosquitto_server.kill()
    with socket.socket() as s:
        assert s.connect_ex((mosquitto_server.host, mosquitto_server.port)) != 0
    mosquitto_server.start()
    _pub(mosquitto_server, "tele/light-2/LWT", "Offline")
    assert _sub_one(mosquitto_server, "tele/light-2/LWT") == "Offline"
