"""A simulated public Wi-Fi access point, for tests and the village demo.

``SimulatedAp`` keeps the AP's state (SSID up or down, stations with their MAC addresses, some of them
randomised, byte counters, the DHCP leases) in a JSON file; ``step()`` moves time on, and stations come and
go deterministically from the seed. ``install_fake_commands`` writes small executables (``ubus``,
``hostapd_cli``, ``iw`` and an ``ssh`` that runs its command here) that read the file and print what the
real tools print, so the real source runs against them unchanged. ``UbusHttpServer`` answers uhttpd's
JSON-RPC ``/ubus`` endpoint on 127.0.0.1. ``fault`` makes the tools misbehave: ``hang``, ``garbage``,
``partial``, ``crash`` or ``noconnect`` (hostapd_cli cannot reach hostapd; ssh cannot reach the AP).
"""

from __future__ import annotations

import json
import os
import random
import sys
import time
from typing import Any

from lab.simulate.apoutput import (
    State,
    render_hostapd_all_sta,
    render_hostapd_status,
    render_iw_info,
    render_iw_station_dump,
    render_leases,
    render_ubus_get_clients,
)

__all__ = [
    "SimulatedAp",
    "UbusHttpServer",
    "fake_command_main",
    "install_fake_commands",
    "new_state",
]

# The fake tools run once per poll: this module imports only what they need (json, os, sys, time) at the top,
# so that each run costs a Python start-up and little more.

_OUIS = ("8c:be:be", "a8:96:75", "00:1c:42", "c4:41:1e", "e8:f4:08", "f4:09:d8")
_TOOLS = ("ubus", "hostapd_cli", "iw", "ssh")


def new_state(**changes: Any) -> State:
    """The AP's state as plain JSON data; see the module docstring for the keys that matter."""
    state: State = {
        "seed": 1,
        "tick": 0,
        "clock": 0.0,  # seconds since the AP booted
        "live": False,  # True: the clock follows the wall clock (demo, end-to-end tests)
        "epoch": time.time(),  # wall-clock time of clock 0
        "ssid": "ThonMinh-Free",
        "ifaces": ["phy0-ap0"],
        "enabled": True,
        "fault": "",
        "counter_bits": 64,
        "signal_lines": True,  # some drivers print no signal in station dump
        "pool": [],  # every device that may visit
        "stations": [],  # {"mac", "joined_at", "rx_bytes", "tx_bytes", "signal"}
        "leases": {},  # mac -> expiry (epoch seconds, 0 = infinite)
        "leases_file": None,
    }
    unknown = set(changes) - set(state)
    if unknown:
        raise KeyError(f"no such AP state: {sorted(unknown)}")
    state.update(changes)
    return state


def _mac(rng: random.Random, randomised: bool) -> str:
    if randomised:
        first = (rng.randrange(256) | 0x02) & 0xFE
        octets = [first] + [rng.randrange(256) for _ in range(5)]
        return ":".join(f"{o:02x}" for o in octets)
    return rng.choice(_OUIS) + ":" + ":".join(f"{rng.randrange(256):02x}" for _ in range(3))


def _load(path: str | os.PathLike[str]) -> State:
    with open(path) as f:
        state: State = json.load(f)
    if state["live"]:
        state["clock"] = time.time() - state["epoch"]
    return state


class SimulatedAp:
    """The AP's state in ``path``; every change is saved at once for the fake tools to read."""

    def __init__(self, path: str | os.PathLike[str], state: State) -> None:
        self.path = os.fspath(path)
        self.state = state

    @classmethod
    def create(
        cls,
        path: str | os.PathLike[str],
        *,
        seed: int = 1,
        pool: int = 18,
        randomised_share: float = 0.5,
        leases_file: str | os.PathLike[str] | None = None,
        **changes: Any,
    ) -> SimulatedAp:
        import random

        rng = random.Random(seed)
        macs = [_mac(rng, rng.random() < randomised_share) for _ in range(pool)]
        ap = cls(
            path,
            new_state(
                seed=seed, pool=macs, leases_file=os.fspath(leases_file) if leases_file else None, **changes
            ),
        )
        ap.save()
        return ap

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> SimulatedAp:
        return cls(path, _load(path))

    def save(self) -> None:
        tmp = self.path + ".tmp"
        with open(tmp, "w") as f:
            json.dump(self.state, f)
        os.replace(tmp, self.path)
        if self.state["leases_file"]:
            with open(self.state["leases_file"], "w") as f:
                f.write(render_leases(self.state))

    # -- what happens --------------------------------------------------------------------------------------

    def set(self, **changes: Any) -> None:
        unknown = set(changes) - set(self.state)
        if unknown:
            raise KeyError(f"no such AP state: {sorted(unknown)}")
        self.state.update(changes)
        self.save()

    @property
    def stations(self) -> list[dict[str, Any]]:
        stations: list[dict[str, Any]] = self.state["stations"]
        return stations

    def join(self, mac: str) -> None:
        s = self.state
        if s["live"]:
            s["clock"] = time.time() - s["epoch"]
        if any(x["mac"] == mac for x in s["stations"]):
            return
        s["stations"].append(
            {"mac": mac, "joined_at": s["clock"], "rx_bytes": 0, "tx_bytes": 0, "signal": -60}
        )
        s["leases"][mac] = s["epoch"] + s["clock"] + 12 * 3600
        self.save()

    def leave(self, mac: str) -> None:
        self.state["stations"] = [x for x in self.state["stations"] if x["mac"] != mac]
        self.save()

    def traffic(self, mac: str, rx: int, tx: int) -> None:
        mod = 2 ** self.state["counter_bits"]
        for x in self.state["stations"]:
            if x["mac"] == mac:
                x["rx_bytes"], x["tx_bytes"] = (x["rx_bytes"] + rx) % mod, (x["tx_bytes"] + tx) % mod
        self.save()

    def reboot(self) -> None:
        """Every station is dropped and the counters start again; the leases survive (on flash)."""
        s = self.state
        s["epoch"] = time.time() if s["live"] else s["epoch"] + s["clock"]
        s["stations"], s["clock"] = [], 0.0
        self.save()

    def advance(self, seconds: float) -> None:
        """Let time pass with nobody coming or going and no traffic."""
        self.state["clock"] += seconds
        self.save()

    def step(self, seconds: float = 60.0) -> None:
        """Move ``seconds`` on: traffic, some stations leave, some devices of the pool arrive."""
        import random

        s = self.state
        rng = random.Random(s["seed"] * 1_000_003 + s["tick"])
        s["tick"] += 1
        s["clock"] += seconds
        mod = 2 ** s["counter_bits"]
        p = min(1.0, seconds / 1800)
        stay = []
        for x in s["stations"]:
            x["rx_bytes"] = (x["rx_bytes"] + rng.randrange(0, 40_000) * int(seconds)) % mod
            x["tx_bytes"] = (x["tx_bytes"] + rng.randrange(0, 200_000) * int(seconds)) % mod
            x["signal"] = rng.randrange(-80, -40)
            if rng.random() >= p:
                stay.append(x)
        s["stations"] = stay
        present = {x["mac"] for x in stay}
        for mac in s["pool"]:
            if mac not in present and rng.random() < p / 3:
                stay.append(
                    {"mac": mac, "joined_at": s["clock"], "rx_bytes": 0, "tx_bytes": 0, "signal": -60}
                )
                s["leases"][mac] = s["epoch"] + s["clock"] + 12 * 3600
        self.save()


# -- the fake tools ---------------------------------------------------------------------------------------------


def install_fake_commands(bin_dir: str | os.PathLike[str], state_path: str | os.PathLike[str]) -> str:
    """Write ``ubus``, ``hostapd_cli``, ``iw`` and ``ssh`` into ``bin_dir`` (put it first on PATH)."""
    bin_dir = os.fspath(bin_dir)
    os.makedirs(bin_dir, exist_ok=True)
    # -S skips site (a third of the start-up); the project root goes on sys.path by hand instead.
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    for tool in _TOOLS:
        script = os.path.join(bin_dir, tool)
        with open(script, "w") as f:
            f.write(
                f"#!{sys.executable} -S\nimport sys\nsys.path.insert(0, {root!r})\n"
                f"from lab.simulate.ap import fake_command_main\n"
                f"sys.exit(fake_command_main({tool!r}, {os.fspath(state_path)!r}, sys.argv[1:]))\n"
            )
        os.chmod(script, 0o755)
    return bin_dir


def _faulty(s: State, text: str) -> str:
    if s["fault"] == "hang":
        time.sleep(3600)
    if s["fault"] == "partial":
        return text[: len(text) // 2]
    if s["fault"] == "garbage":
        macs = " ".join(x["mac"].upper().replace(":", "-") for x in s["stations"])
        return f"\x00\x1b[2Jsegfault at {macs} ###\n" + text[::-1]
    return text


def fake_command_main(tool: str, state_path: str, argv: list[str]) -> int:
    """What a fake tool does: print the real tool's output for the simulated state."""
    s = _load(state_path)
    if tool == "ssh":
        return _fake_ssh(s, argv)
    if s["fault"] == "crash":
        sys.stderr.write(f"{tool}: Segmentation fault\n")
        return 139
    out = _tool_output(tool, s, argv)
    if isinstance(out, int):
        return out
    sys.stdout.write(_faulty(s, out))
    return 0


def _tool_output(tool: str, s: State, argv: list[str]) -> str | int:
    ifaces = s["ifaces"]
    if tool == "ubus":
        args = [a for i, a in enumerate(argv) if a != "-t" and (i == 0 or argv[i - 1] != "-t")]
        if args[:1] != ["call"] or len(args) < 3:
            sys.stderr.write("Usage: ubus [<options>] <command> [arguments...]\n")
            return 1
        if not s["enabled"] or args[1] not in {f"hostapd.{i}" for i in ifaces} or args[2] != "get_clients":
            sys.stderr.write("Command failed: Not found\n")
            return 4
        return render_ubus_get_clients(s)
    if tool == "hostapd_cli":
        iface = argv[argv.index("-i") + 1] if "-i" in argv else ifaces[0]
        if s["fault"] == "noconnect" or iface not in ifaces:
            sys.stderr.write("Failed to connect to hostapd - wpa_ctrl_open: No such file or directory\n")
            return 255
        header = "" if "-i" in argv else f"Selected interface '{iface}'\n"
        return header + (
            render_hostapd_status(s, iface) if argv[-1] == "status" else render_hostapd_all_sta(s)
        )
    if tool == "iw":
        iface = argv[1] if len(argv) > 1 else ""
        if iface not in ifaces:
            sys.stderr.write("command failed: No such device (-19)\n")
            return 237
        return render_iw_info(s, iface) if argv[2:] == ["info"] else render_iw_station_dump(s, iface)
    sys.stderr.write(f"{tool}: not simulated\n")
    return 127


def _fake_ssh(s: State, argv: list[str]) -> int:
    """``ssh [-o x] [-p n] [-l user] [-i key] host command``: runs ``command`` here, as the AP would."""
    i = 0
    while i < len(argv) and argv[i].startswith("-"):
        i += 2
    if s["fault"] == "noconnect":
        sys.stderr.write(f"ssh: connect to host {argv[i]} port 22: Connection refused\n")
        return 255
    sys.stdout.flush()
    os.execv("/bin/sh", ["sh", "-c", " ".join(argv[i + 1 :])])
    return 127  # not reached


class UbusHttpServer:
    """uhttpd's ``POST /ubus`` JSON-RPC on 127.0.0.1: rpcd login, ``hostapd.* get_clients``, ``file read``."""

    def __init__(
        self, state_path: str | os.PathLike[str], *, username: str = "thonminh", password: str = "secret"
    ) -> None:
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.state_path, self.username, self.password = os.fspath(state_path), username, password
        self.sessions: set[str] = set()
        self.requests = 0
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                server.requests += 1
                data = server.answer(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                return

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/ubus"

    def answer(self, body: bytes) -> str:
        """The JSON-RPC reply uhttpd-mod-ubus would send for ``body``."""
        s = _load(self.state_path)
        try:
            request = json.loads(body)
            session, obj, method, args = request["params"]
        except (ValueError, KeyError, TypeError):
            return json.dumps({"jsonrpc": "2.0", "error": {"code": -32700, "message": "Parse error"}})

        def reply(**kv: object) -> str:
            return json.dumps({"jsonrpc": "2.0", "id": request.get("id"), **kv})

        if obj == "session" and method == "login":
            if args.get("username") != self.username or args.get("password") != self.password:
                return reply(result=[6])
            token = os.urandom(16).hex()
            self.sessions.add(token)
            return reply(result=[0, {"ubus_rpc_session": token, "timeout": 300, "expires": 300}])
        # uhttpd looks the object up before it checks the session's ACL
        if obj.startswith("hostapd.") and (
            obj not in {f"hostapd.{i}" for i in s["ifaces"]} or not s["enabled"]
        ):
            return reply(error={"code": -32000, "message": "Object not found"})
        if session not in self.sessions:
            return reply(error={"code": -32002, "message": "Access denied"})
        if s["fault"] == "hang":
            time.sleep(5)
        if obj.startswith("hostapd.") and method == "get_clients":
            if s["fault"] == "garbage":
                return _faulty(s, "{}")
            return reply(result=[0, json.loads(render_ubus_get_clients(s))])
        if obj == "file" and method == "read" and args.get("path") == s["leases_file"]:
            return reply(result=[0, {"data": render_leases(s)}])
        return reply(error={"code": -32002, "message": "Access denied"})

    def __enter__(self) -> UbusHttpServer:
        import threading

        threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
