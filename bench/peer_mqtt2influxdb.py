"""Peer: HARDWARIO's ``mqtt2influxdb`` 1.5.2 beside our gateway on the same Tasmota street-light stream.

    .venv/bin/python bench/peer_mqtt2influxdb.py [--lights 500] [--burst 20000] [--rate 100] [--stream-s 30]

``mqtt2influxdb`` is what many deployments use today to put MQTT sensor data into InfluxDB 1.x. It needs
paho-mqtt 1.x and the ``influxdb`` client, which conflict with ours, so it is installed from PyPI into its own
venv (``.bench-venv-peer/``, or ``--venv``). Both read the same messages (``LightDevice.report()`` of
``lab/simulate/lights.py``: Tasmota ``tele/<light>/STATE`` and ``tele/<light>/SENSOR``) from one real local
Mosquitto and write into one real local InfluxDB 1.x, each into its own database; the peer maps SENSOR to
power/voltage/current/energy fields tagged with the light, the way its documentation shows. Two figures:

1. throughput: a burst of ``--burst`` messages published as fast as the broker takes them, then a sentinel;
   the time until the sentinel's data is in InfluxDB, for each system alone (messages per second);
   The peer writes one HTTP request per message inside its MQTT callback and pings the broker only between
   messages (keepalive 10 s, fixed in its code): a backlog longer than 15 s makes the broker drop it, and
   with its clean session the queued rest of the burst is gone. Its rate is then points stored per second
   until its count stopped growing, and the loss is reported beside it.
2. an InfluxDB restart mid-stream: ``--rate`` messages/s for ``--stream-s`` s, InfluxDB stopped at a third of
   the stream and started again 6 s later, both systems reading the same stream at once. The peer (restarted
   by a supervisor whenever it exits, as pm2 or systemd would) loses what arrives while it cannot write;
   ours buffers and forwards afterwards. Ours writes one sample per light per tracker interval (the data
   contract), not one point per message, so its loss is counted in interval samples and last readings.

Prints markdown rows and exits 0 (also when the peer cannot be installed: the row says why).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from peer_setup import (  # noqa: E402
    DONE_KWH,
    PEER,
    SENTINEL,
    VILLAGE_MSG_S,
    WARM_KWH,
    Publisher,
    Supervised,
    devices,
    ensure_peer,
    gateway_config,
    last_readings_kept,
    ours_has,
    peer_config,
    peer_has,
    peer_points,
    report,
    send_sentinel,
    sentinel_messages,
    settled,
    start_ours,
    stop,
    wait_until,
    warm_up,
)

from lab.localservices import InfluxDBServer, MosquittoServer  # noqa: E402
from thonminh.influx import InfluxClient  # noqa: E402


def burst(port: int, lights: int, total: int) -> tuple[float, dict[str, float]]:
    """Publish ``total`` messages (reports of ``lights`` devices, round robin) and the sentinel; returns the
    monotonic time the first one was sent and each light's last energy reading."""
    pub = Publisher(port)
    devs = devices(lights)
    t0 = time.monotonic()
    now = int(time.time() * 1000)
    sent = 0
    while sent < total:
        for d in devs:
            pub.publish(report(d, now))
            sent += 2
            if sent >= total:
                break
        now += 1000
    pub.publish(sentinel_messages(DONE_KWH))
    pub.close()
    return t0, {d.device: round(d.energy_kwh, 3) for d in devs if d.started_ms is not None}


def throughput(
    args: argparse.Namespace, work: Path, influx: InfluxDBServer, broker: MosquittoServer, exe: Path
) -> dict[str, float]:
    out: dict[str, float] = {}
    # the peer alone
    cfg = work / "peer.yaml"
    peer_config(cfg, broker.port, influx.port, "peer_burst")
    peer = Supervised([str(exe), "-c", str(cfg)], work / "peer-burst.log")
    client = InfluxClient(influx.url, database="peer_burst")
    warm_up(broker.port, lambda: peer_has(client, WARM_KWH), "the peer")
    t0, finals = burst(broker.port, args.lights, args.burst)
    out["lights"] = len(finals)
    # the peer may lose the end of the burst (see the module docstring), so the sentinel may never come:
    # the burst is over for it when its point count stops growing
    stored, last_growth = 0, time.monotonic()
    while not peer_has(client, DONE_KWH) and time.monotonic() - last_growth < 10.0:
        now = peer_points(client)
        if now != stored:
            stored, last_growth = now, time.monotonic()
        time.sleep(0.25)
    out["peer_stored"] = peer_points(client)
    out["peer_s"] = (time.monotonic() if peer_has(client, DONE_KWH) else last_growth) - t0
    out["peer_disconnects"] = (work / "peer-burst.log").read_text().count("Disconnect")
    out["peer_last_ok"] = last_readings_kept(client, "streetlight_energy", finals)
    peer.stop()
    # ours alone
    client = InfluxClient(influx.url, database="ours_burst")
    client.create_database("ours_burst")
    gw = work / "gateway-burst.toml"
    gateway_config(gw, work / "ours-burst", broker.port, influx.url, "ours_burst", args.lights)
    proc = start_ours(gw, work / "ours-burst.log")
    try:
        warm_up(broker.port, lambda: ours_has(client, WARM_KWH), "the gateway")
        t0, finals = burst(broker.port, args.lights, args.burst)
        done = wait_until(lambda: ours_has(client, DONE_KWH), 900, "the gateway to take the burst")
        out["ours_s"] = done - t0
        out["ours_last_ok"] = last_readings_kept(client, "streetlight", finals)
    finally:
        stop(proc)
    return out


def restart(
    args: argparse.Namespace, work: Path, influx: InfluxDBServer, broker: MosquittoServer, exe: Path
) -> dict[str, float]:
    lights = max(1, int(args.rate * 2 / 2))  # every light reports every 2 s (2 messages): rate msg/s in all
    cfg = work / "peer-restart.yaml"
    peer_config(cfg, broker.port, influx.port, "peer_restart")
    peer = Supervised([str(exe), "-c", str(cfg)], work / "peer-restart.log")
    ours_db = InfluxClient(influx.url, database="ours_restart")
    ours_db.create_database("ours_restart")
    peer_db = InfluxClient(influx.url, database="peer_restart")
    gw = work / "gateway-restart.toml"
    gateway_config(gw, work / "ours-restart", broker.port, influx.url, "ours_restart", lights)
    proc = start_ours(gw, work / "ours-restart.log")
    out: dict[str, float] = {}
    try:
        warm_up(broker.port, lambda: ours_has(ours_db, WARM_KWH) and peer_has(peer_db, WARM_KWH), "both")
        pub = Publisher(broker.port)
        devs = devices(lights)
        published = 0
        start = time.monotonic()
        start_ms = int(time.time() * 1000)
        down_at, up_at = start + args.stream_s / 3, start + args.stream_s / 3 + 6.0
        stopped = False
        switches: list[threading.Thread] = []
        tick = 0
        last: dict[str, float] = {}
        while time.monotonic() - start < args.stream_s:
            target = start + tick * (2.0 / lights)
            time.sleep(max(0.0, target - time.monotonic()))
            d = devs[tick % lights]
            pub.publish(report(d, int(time.time() * 1000)))
            last[d.device] = round(d.energy_kwh, 3)
            published += 2
            tick += 1
            if not stopped and time.monotonic() >= down_at:
                switches.append(threading.Thread(target=influx.stop, daemon=True))
                switches[-1].start()
                stopped = True
            if stopped and up_at and time.monotonic() >= up_at:
                switches[-1].join(30)
                switches.append(threading.Thread(target=influx.start, kwargs={"timeout": 60}, daemon=True))
                switches[-1].start()
                up_at = 0.0
        end_ms = int(time.time() * 1000)
        pub.close()
        for switch in switches:
            switch.join(60)
        out["published"] = published
        time.sleep(2.0)
        send_sentinel(broker.port, DONE_KWH)
        wait_until(lambda: ours_has(ours_db, DONE_KWH), 120, "our gateway to catch up")
        wait_until(lambda: peer_has(peer_db, DONE_KWH), 60, "the peer to catch up")
        out["peer_stored"] = settled(lambda: peer_points(peer_db))
        out["peer_restarts"] = peer.restarts

        # ours: one sample per light per second over the stream, and each light's last reading
        def samples() -> int:
            rows = ours_db.select(
                f"SELECT count(observed_s) FROM streetlight WHERE light != '{SENTINEL}' AND "
                f"time > {start_ms + 3000}ms AND time <= {end_ms - 1000}ms"
            ).rows()
            return rows[0]["count"] if rows else 0

        out["ours_samples"] = settled(samples)
        out["ours_expected"] = lights * ((end_ms - 1000) // 1000 - (start_ms + 3000) // 1000)
        final = ours_db.select(
            f"SELECT last(energy_kwh) FROM streetlight WHERE light != '{SENTINEL}' GROUP BY light"
        ).rows()
        out["ours_last_ok"] = sum(1 for r in final if abs(r["last"] - last.get(r["light"], -1)) < 0.0015)
        out["lights"] = lights
    finally:
        stop(proc)
        peer.stop()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--lights", type=int, default=500)
    parser.add_argument("--burst", type=int, default=20_000, help="messages in the throughput burst")
    parser.add_argument("--rate", type=float, default=100.0, help="messages/s of the restart stream")
    parser.add_argument("--stream-s", type=float, default=30.0)
    parser.add_argument("--venv", type=Path, default=ROOT / ".bench-venv-peer")
    parser.add_argument("--quick", action="store_true", help="a smaller burst and a shorter stream")
    args = parser.parse_args()
    if args.quick:
        args.burst, args.stream_s = min(args.burst, 4000), min(args.stream_s, 21.0)
    try:
        exe = ensure_peer(args.venv)
    except (OSError, subprocess.CalledProcessError) as err:
        print(f"| {PEER} | not installed: {err} | | |")
        return
    versions = subprocess.run(
        [str(args.venv / "bin" / "pip"), "list", "--format", "json"], capture_output=True, text=True
    ).stdout
    peer_versions = {p["name"]: p["version"] for p in json.loads(versions or "[]")}
    work = Path(tempfile.mkdtemp(prefix="bench-peer-"))
    influx, broker = InfluxDBServer(work / "influxdb"), MosquittoServer(work / "mosquitto")
    influx.start()
    broker.start()
    try:
        tp = throughput(args, work, influx, broker, exe)
        rs = restart(args, work, influx, broker, exe)
    finally:
        broker.stop()
        influx.stop()
        shutil.rmtree(work, ignore_errors=True)
    ours_rate, peer_rate = args.burst / tp["ours_s"], tp["peer_stored"] / tp["peer_s"]
    peer_lost = rs["published"] - rs["peer_stored"]
    ours_missing = max(0, rs["ours_expected"] - rs["ours_samples"])
    print(
        f"\nPeer: mqtt2influxdb {peer_versions.get('mqtt2influxdb', '?')} (paho-mqtt "
        f"{peer_versions.get('paho-mqtt', '?')}, influxdb client {peer_versions.get('influxdb', '?')}) and "
        f"thonminh's gateway on the same Tasmota stream, one Mosquitto, one InfluxDB 1.x.\n"
    )
    print("| figure | thonminh gateway | mqtt2influxdb | thonminh / peer |")
    print("| --- | --- | --- | --- |")
    print(
        f"| throughput, burst of {args.burst:,} messages from {args.lights} lights (msg/s taken in, until in "
        f"InfluxDB) | "
        f"{ours_rate:,.0f} | {peer_rate:,.0f} | {ours_rate / peer_rate:.2f} |"
    )
    print(
        f"| same, against the standard village's {VILLAGE_MSG_S:.1f} msg/s | {ours_rate / VILLAGE_MSG_S:,.0f}x "
        f"| {peer_rate / VILLAGE_MSG_S:,.0f}x | |"
    )
    print(
        f"| burst: each light's last reading in InfluxDB | {tp['ours_last_ok']:.0f} of {tp['lights']:.0f} | "
        f"{tp['peer_last_ok']:.0f} of {tp['lights']:.0f} | |"
    )
    print(
        f"| burst: messages left as points (peer: one point per message, second-precision timestamps; "
        f"ours: one sample per light per interval by design) | n/a | {tp['peer_stored']:,.0f} of {args.burst:,} "
        f"({tp['peer_disconnects']:.0f} broker disconnects) | |"
    )
    print(
        f"| InfluxDB restarted mid-stream ({args.rate:g} msg/s, {args.stream_s:g} s, 6 s down): data lost | "
        f"{ours_missing:,} of {rs['ours_expected']:,} interval samples; last reading of "
        f"{rs['ours_last_ok']:.0f}/{rs['lights']:.0f} lights kept | {peer_lost:,.0f} of {rs['published']:,.0f} "
        f"messages ({100 * peer_lost / rs['published']:.1f} %), {rs['peer_restarts']:.0f} restarts | |"
    )


if __name__ == "__main__":
    main()
