"""``thonminh edge status``: what a technician on site needs, in Vietnamese or English, or as JSON.

Per source its health now and since when (from the agent's health file on tmpfs, ``GatewayConfig.health_path``,
so it answers with the agent stopped until the next reboot, which empties tmpfs), the clock, InfluxDB's last
success and the backlog (from the buffer, read-only beside a running agent). Nothing here uses the network:
it answers while the uplink is down.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo

from edge.bufferschema import BufferStatus
from edge.config import GatewayConfig
from edge.health import HealthUnreadable, age_s, load_health
from thonminh.evidencekeys import grouped, key_fingerprint

__all__ = ["LABELS", "Lang", "agent_running", "collect", "damaged_buffer", "default_lang", "render", "text"]

Lang = Literal["vi", "en"]

#: Every label of the status page, (Vietnamese, English). ``<kind>.<state>`` overrides a state's words.
LABELS: dict[str, tuple[str, str]] = {
    "gateway": ("Gateway", "Gateway"),
    "agent": ("Dịch vụ gateway", "Agent"),
    "running": ("đang chạy", "running"),
    "stopped": ("đã dừng", "stopped"),
    "vanished": ("không chạy (dừng đột ngột?)", "not running (killed?)"),
    "never_ran": ("chưa chạy lần nào", "has not run yet"),
    "not_since_boot": (
        "chưa chạy từ lần khởi động máy gần nhất (trạng thái nguồn chỉ giữ trong RAM)",
        "has not run since the gateway started (source health is kept in RAM only)",
    ),
    "no_health_yet": ("chưa ghi trạng thái", "no health written yet"),
    "not_running": ("không chạy", "not running"),
    "health_unreadable": (
        "không đọc được tệp trạng thái ({why}): trạng thái các nguồn chưa rõ",
        "the health file cannot be read ({why}): the sources' states are unknown",
    ),
    "health_rewritten": ("dịch vụ ghi lại tệp trong vòng 30 giây", "the agent rewrites it within 30 s"),
    "health_written": ("trạng thái ghi lúc", "health written"),
    "as_left": ("trạng thái lúc dừng", "states as the agent left them"),
    "clock": ("Đồng hồ", "Clock"),
    "key": ("khóa ký", "signing key"),
    "synced": ("đã đồng bộ", "synchronised"),
    "not_synced": ("chưa đồng bộ", "not synchronised"),
    "clock_unknown": ("chưa rõ (agent chưa chạy)", "unknown (the agent has not run)"),
    "holding": ("đang giữ {n} mẫu chờ đồng bộ", "holding {n} samples until it is"),
    "influxdb": ("InfluxDB", "InfluxDB"),
    "last_write": ("ghi thành công gần nhất", "last successful write"),
    "untried": ("chưa thử ghi", "no write tried yet"),
    "backlog": ("tồn đọng", "backlog"),
    "points": ("điểm", "points"),
    "oldest": ("cũ nhất", "oldest"),
    "never": ("chưa bao giờ", "never"),
    "ago": ("{d} trước", "{d} ago"),
    "since": ("từ", "since"),
    "no_report": ("chưa có báo cáo", "no report yet"),
    "ok": ("tốt", "ok"),
    "degraded": ("suy giảm", "degraded"),
    "down": ("mất", "down"),
    "unknown": ("chưa rõ", "unknown"),
    "uplink.ok": ("có kết nối", "up"),
    "uplink.down": ("mất kết nối", "down"),
    "wifi.ok": ("đang phát", "up"),
    "wifi.down": ("tắt", "down"),
    "yes": ("có", "yes"),
    "no": ("không", "no"),
    "d": ("ngày", "d"),
    "h": ("giờ", "h"),
    "min": ("phút", "min"),
    "s": ("giây", "s"),
    # details the sources report (edge.sources.base.HealthDetail)
    "rtt_ms": ("RTT (ms)", "RTT (ms)"),
    "active": ("đường đang dùng", "active link"),
    "targets": ("đích trả lời", "targets answered"),
    "reason": ("lý do", "reason"),
    "error": ("lỗi", "error"),
    "port": ("cổng", "port"),
    "operator": ("nhà mạng", "operator"),
    "access_tech": ("công nghệ", "access technology"),
    "rsrp_dbm": ("RSRP (dBm)", "RSRP (dBm)"),
    "sinr_db": ("SINR (dB)", "SINR (dB)"),
    "reg_state": ("đăng ký mạng", "registration"),
    "sim": ("SIM", "SIM"),
    "clients": ("thiết bị kết nối", "clients"),
    "lights_online": ("đèn trực tuyến", "lights online"),
    "faults": ("lỗi theo loại", "faults"),
    "mqtt_connected": ("MQTT đã kết nối", "MQTT connected"),
    "cpu_temp_c": ("nhiệt độ CPU (°C)", "CPU temperature (°C)"),
    "version": ("phiên bản", "version"),
    "backlog_points": ("điểm tồn đọng", "backlog points"),
    "buffer": ("Bộ đệm", "Buffer"),
    "damaged": ("hỏng", "damaged"),
    "buffer_damaged": (
        "bộ đệm {path} bị hỏng ({why}): không đọc được, các điểm trong đó sẽ không được gửi",
        "the buffer {path} is damaged ({why}): its points cannot be read and will not be forwarded",
    ),
    "buffer_set_aside": (
        "Khi khởi động lần tới, dịch vụ gateway đổi tên nó thành {path}.bad-<giờ UTC>, tạo bộ đệm mới và đo tiếp",
        "At its next start the agent renames it {path}.bad-<UTC time>, starts a new buffer and goes on measuring",
    ),
    "buffer_untouched": (
        "lệnh này không động đến tệp. Hãy khởi động lại dịch vụ (sudo systemctl restart thonminh-gateway), "
        "hoặc dừng dịch vụ rồi tự dời tệp cùng -wal, -shm của nó sang chỗ khác",
        "this command left the file as it is. Restart the agent (sudo systemctl restart thonminh-gateway), "
        "or stop it and move the file with its -wal and -shm aside yourself",
    ),
    "forwarded": ("đã gửi", "forwarded"),
    "dropped": ("bỏ vì hết dung lượng", "dropped for the disk budget"),
    "rejected": ("bị từ chối", "rejected"),
    "rejected_of": (
        "{inputs} đầu vào, {dead} điểm vào thư chết",
        "{inputs} inputs, {dead} dead-lettered points",
    ),
    "dead_letters": (
        "thư chết (xem `thonminh edge dead-letters list`)",
        "dead letters kept (see `thonminh edge dead-letters list`)",
    ),
    "reject": ("từ chối", "reject"),
}


def default_lang(environ: Mapping[str, str] | None = None) -> Lang:
    """English when the locale says English; Vietnamese otherwise (C, POSIX, unset, vi_VN)."""
    env = os.environ if environ is None else environ
    locale = next((env[k] for k in ("LC_ALL", "LC_MESSAGES", "LANG") if env.get(k)), "")
    return "en" if locale.lower().startswith("en") else "vi"


def agent_running(buffer_path: Path) -> bool:
    """Whether a process holds the buffer's lock now (the agent, or a drain), without taking it."""
    lock = buffer_path.with_name(buffer_path.name + ".lock")
    try:
        fd = os.open(lock, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # closing also releases the shared lock if we got it
    return False


def _configured(config: GatewayConfig) -> list[tuple[str, str]]:
    """(name, kind) of every configured source, as the agent names them (``uplink:fiber``)."""
    names = [(f"{kind}:{cfg.name or kind}", kind) for kind, cfg in config.source_instances()]
    if not getattr(config.sources, "gateway", None):
        names.append(("gateway:gateway", "gateway"))  # the self-metrics run without a table
    return names


def collect(
    config: GatewayConfig,
    buffer: BufferStatus | None,
    *,
    running: bool,
    clock_synced: bool,
    health: dict[str, Any] | None = None,
    damaged: str | None = None,
) -> dict[str, Any]:
    """Everything ``status`` shows, as plain data (the ``--json`` answer). ``damaged``: why the buffer cannot be
    read (``BufferDamaged``), shown with everything else."""
    unreadable = None
    if health is None:
        try:
            health = load_health(config.health_path())
        except HealthUnreadable as err:  # said as such: "not run since the boot" would be false
            unreadable = str(err)
    reported = {e["source"]: e for e in (health or {}).get("sources", [])}
    sources = [
        reported.pop(
            name,
            {"source": name, "kind": kind, "state": "unknown", "since_ms": None, "at_ms": None, "detail": {}},
        )
        for name, kind in _configured(config)
    ]
    core = {name: reported.pop(name, None) for name in ("clock", "influxdb")}
    sources += list(reported.values())  # sources added in code (the simulator's)
    agent = dict((health or {}).get("agent", {}))
    agent["running"] = running
    if unreadable:
        agent["health_unreadable"] = unreadable
    flux = core["influxdb"] or {}
    site = config.site
    out: dict[str, Any] = {
        "gateway": {
            "village": site.village,
            "gateway": site.gateway,
            "name": site.name,
            "key": key_fingerprint(config.evidence_key_path),
        },
        "agent": agent,
        "clock": {
            "synced": clock_synced,
            "held": buffer.held if buffer else 0,
            "since_ms": (core["clock"] or {}).get("since_ms"),
        },
        "influxdb": {
            "url": config.influxdb.url,
            "state": flux.get("state", "unknown"),
            "since_ms": flux.get("since_ms"),
            **{k: v for k, v in flux.get("detail", {}).items() if k == "error"},  # the last write's failure
        },
        "sources": sources,
    }
    if damaged is not None:
        out["buffer_damaged"] = {"path": str(config.buffer.path), "error": damaged}
    if buffer is not None:
        counters = buffer.counters
        last_write = counters.get("last_write_ms") or None
        out["influxdb"].update(
            last_write_ms=last_write,
            backlog_points=buffer.points - buffer.held,
            backlog_bytes=buffer.bytes,
            oldest_ms=buffer.oldest_ms,
        )
        started = agent.get("started_ms")
        if out["influxdb"]["state"] == "ok" and (not last_write or (started and last_write < started)):
            # The agent says "ok" while it has nothing to send (every sample held for the clock): no write of
            # this run reached InfluxDB, so whether one would is not known.
            out["influxdb"].update(state="unknown", since_ms=None, untried=True)
        # the buffer's figures at the top level, as before
        out.update(
            {
                "points": buffer.points,
                "bytes": buffer.bytes,
                "held_for_clock": buffer.held,
                "oldest_ms": buffer.oldest_ms,
                "dead_letters": buffer.dead_letters,
                "max_bytes": config.buffer.max_bytes,
                **counters,
                "recent_rejects": [
                    dict(zip(("at_ms", "source", "reason", "sample"), r, strict=True)) for r in buffer.rejects
                ],
            }
        )
    return out


@dataclass(frozen=True, slots=True)
class _Words:
    """Labels and times in one language, times in the site's zone."""

    lang: Lang
    tz: ZoneInfo
    now_ms: int | None = None

    def __call__(self, key: str, **values: object) -> str:
        pair = LABELS.get(key)
        word = key if pair is None else pair[0 if self.lang == "vi" else 1]
        return word.format(**values) if values else word

    def state(self, kind: str, state: str) -> str:
        return self(f"{kind}.{state}") if f"{kind}.{state}" in LABELS else self(state)

    def duration(self, seconds: float) -> str:
        s = int(seconds)
        parts = [(s // 86400, "d"), (s % 86400 // 3600, "h"), (s % 3600 // 60, "min"), (s % 60, "s")]
        shown = [f"{n} {self(unit)}" for n, unit in parts if n][:2]
        return " ".join(shown) or f"0 {self('s')}"

    def when(self, ms: int | None) -> str:
        """``2024-05-01 10:00:03 (2 h 5 min ago)`` in the site's time zone, or ``never``."""
        if not ms:
            return self("never")
        local = datetime.fromtimestamp(ms / 1000, self.tz).strftime("%Y-%m-%d %H:%M:%S")
        return f"{local} ({self('ago', d=self.duration(age_s(ms, self.now_ms) or 0.0))})"

    def value(self, value: object) -> str:
        if isinstance(value, bool):
            return self("yes" if value else "no")
        return str(value)


def _never_ran(data: dict[str, Any]) -> bool:
    """No health file, no agent and no buffer: tmpfs is empty after a boot, so the buffer tells "ever ran"."""
    agent = data["agent"]
    left = {"written_ms", "health_unreadable"} & set(agent) or {"points", "buffer_damaged"} & set(data)
    return not left and not agent["running"]


def _agent_line(data: dict[str, Any], w: _Words) -> str:
    agent = data["agent"]
    if _never_ran(data):
        return w("never_ran")
    if "health_unreadable" in agent:
        head = f"{w('running' if agent['running'] else 'not_running')}; "
        then = f"; {w('health_rewritten')}" if agent["running"] else ""
        return head + w("health_unreadable", why=agent["health_unreadable"]) + then
    if "written_ms" not in agent:
        return f"{w('running')}; {w('no_health_yet')}" if agent["running"] else w("not_since_boot")
    if data["agent"]["running"]:
        head = f"{w('running')} (pid {agent.get('pid')}, {w('since')} {w.when(agent.get('started_ms'))})"
        return f"{head}; {w('health_written')} {w.when(agent.get('written_ms'))}"
    stopped = agent.get("stopped_ms")
    if stopped:
        return f"{w('stopped')} {w.when(stopped)}; {w('as_left')}"
    return f"{w('vanished')}; {w('as_left')}: {w.when(agent.get('written_ms'))}"


def _source_lines(entry: Mapping[str, Any], w: _Words) -> list[str]:
    state = w.state(entry["kind"], entry["state"])
    since = (
        f"  {w('since')} {w.when(entry['since_ms'])}" if entry.get("since_ms") else f"  ({w('no_report')})"
    )
    detail = "; ".join(f"{w(k)}: {w.value(v)}" for k, v in entry.get("detail", {}).items())
    return [f"{entry['source']}: {state.upper()}{since}"] + ([f"    {detail}"] if detail else [])


def render(data: dict[str, Any], lang: Lang, *, tz: str) -> list[str]:
    """The status as text lines: the agent, the clock, InfluxDB, every source, the buffer."""
    w = _Words(lang, ZoneInfo(tz))
    g = data["gateway"]
    name = f"{g['name']} ({g['village']})" if g.get("name") else g["village"]
    key = f" · {w('key')} {grouped(g['key'])}" if g.get("key") else ""
    lines = [f"{w('gateway')} {g['gateway']} · {name}{key}", f"{w('agent')}: {_agent_line(data, w)}"]
    clock = data["clock"]
    # the line is the agent's clock (it holds samples until synchronised): before its first run, none to report
    synced = w("clock_unknown") if _never_ran(data) else w("synced" if clock["synced"] else "not_synced")
    held = f", {w('holding', n=clock['held'])}" if clock["held"] else ""
    lines.append(f"{w('clock')}: {synced}{held}")
    flux = data["influxdb"]
    since = f" {w('since')} {w.when(flux['since_ms'])}" if flux.get("since_ms") else ""
    untried = f" ({w('untried')})" if flux.get("untried") else ""
    lines.append(
        f"{w('influxdb')} {flux['url']}: {w.state('influxdb', flux['state']).upper()}{untried}{since}"
    )
    if flux.get("error"):
        lines.append(f"    {w('error')}: {flux['error']}")
    if "backlog_points" in flux:
        lines.append(f"    {w('last_write')}: {w.when(flux['last_write_ms'])}")
        lines.append(
            f"    {w('backlog')}: {flux['backlog_points']} {w('points')}, {flux['backlog_bytes']} B; "
            f"{w('oldest')}: {w.when(flux['oldest_ms'])}"
        )
    for entry in data["sources"]:
        lines += _source_lines(entry, w)
    if "points" in data:
        lines += _buffer_lines(data, w)
    if "buffer_damaged" in data:
        damage = data["buffer_damaged"]
        lines.append(
            f"{w('buffer')}: {w('damaged').upper()}: {w('buffer_damaged', path=damage['path'], why=damage['error'])}"
        )
        lines.append(f"    {w('buffer_set_aside', path=damage['path'])}")
    return lines


def damaged_buffer(path: Path, why: str, lang: Lang) -> str:
    """What a command that found the buffer damaged says (it leaves the file to the agent)."""
    w = _Words(lang, ZoneInfo("UTC"))
    return (
        f"{w('buffer_damaged', path=path, why=why)}. {w('buffer_set_aside', path=path)}; "
        f"{w('buffer_untouched')}."
    )


def _buffer_lines(data: dict[str, Any], w: _Words) -> list[str]:
    share = 100 * data["bytes"] / data["max_bytes"]
    rejected = data["rejected_total"] + data["dead_letter_total"]
    of = w("rejected_of", inputs=data["rejected_total"], dead=data["dead_letter_total"])
    lines = [
        f"{w('buffer')}: {data['points']} {w('points')}, {data['bytes']} B / {data['max_bytes']} B ({share:.1f} %)",
        f"    {w('forwarded')} {data['forwarded_total']}; {w('dropped')} {data['dropped_total']}; "
        f"{w('rejected')} {rejected} ({of})",
        f"    {w('dead_letters')}: {data['dead_letters']}",
    ]
    for r in data["recent_rejects"]:
        sample = f": {r['sample']!r}" if r["sample"] else ""
        lines.append(f"{w('reject')} {w.when(r['at_ms'])} {r['source']}: {r['reason']}{sample}")
    return lines


def text(data: dict[str, Any], lang: Lang, *, tz: str) -> str:
    return "\n".join(render(data, lang, tz=tz))
