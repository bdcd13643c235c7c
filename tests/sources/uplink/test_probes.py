"""Each probe kind against switchable targets on loopback, bound to an interface or a source address."""

from __future__ import annotations

import ssl
import subprocess
import time

from edge.sources.uplink.config import UplinkConfig
from edge.sources.uplink.probes import Prober
from lab.simulate.targets import DnsTarget, HttpTarget, TcpTarget


def uplink(*targets: dict, **kw) -> UplinkConfig:
    kw.setdefault("interface", "lo")
    kw.setdefault("timeout_s", 1.0)
    kw.setdefault("interval_s", 5.0)
    return UplinkConfig(link="fiber", targets=list(targets), **kw)


async def one(config: UplinkConfig):
    [result] = await Prober(config).cycle()
    return result


async def test_tcp_up_refused_and_rtt(tcp: TcpTarget):
    result = await one(uplink({"kind": "tcp", "host": "127.0.0.1", "port": tcp.port}))
    assert result.ok and 0 < result.rtt_ms < 1000
    tcp.down()
    result = await one(uplink({"kind": "tcp", "host": "127.0.0.1", "port": tcp.port}))
    assert (result.ok, result.error, result.rtt_ms) == (False, "refused", None)


async def test_http_expect_status_and_blackhole(http: HttpTarget):
    target = {"kind": "http", "url": f"http://127.0.0.1:{http.port}/generate_204", "expect_status": 204}
    assert (await one(uplink(target))).ok
    http.status = 200  # a captive portal answering 200 instead of 204
    assert (await one(uplink(target))).error == "status 200"
    assert (await one(uplink({**target, "expect_status": None}))).ok  # any status below 400 by default
    http.down("blackhole")
    started = time.monotonic()
    result = await one(uplink(target, timeout_s=0.5))
    assert result.error == "timeout" and 0.45 < time.monotonic() - started < 2.0


async def test_dns_answers_servfail_and_silence(dns: DnsTarget):
    target = {"kind": "dns", "host": "127.0.0.1", "port": dns.port, "query": "vnexpress.net"}
    assert (await one(uplink(target))).ok
    dns.down("servfail")
    assert (await one(uplink(target))).error == "dns SERVFAIL"
    dns.down("blackhole")
    assert (await one(uplink(target, timeout_s=0.3))).error == "timeout"
    dns.down("refuse")
    assert (await one(uplink(target))).error == "refused"


async def test_icmp_echo_on_loopback():
    result = await one(uplink({"kind": "icmp", "host": "127.0.0.1"}))
    assert result.ok and result.rtt_ms is not None


async def test_a_missing_interface_fails_every_probe(tcp: TcpTarget):
    config = uplink(
        {"kind": "tcp", "host": "127.0.0.1", "port": tcp.port},
        {"kind": "icmp", "host": "127.0.0.1"},
        interface="thonminh0",
    )
    results = await Prober(config).cycle()
    assert [r.error for r in results] == ["no interface thonminh0"] * 2


async def test_binding_to_the_wrong_source_address_fails():
    # Two "uplinks" on loopback: 127.0.0.2 and 127.0.0.3. The targets answer only the first one, like a
    # server reachable through the fiber only; a probe bound to the other address must not succeed.
    with (
        HttpTarget("127.0.0.1", allow_peers={"127.0.0.2"}) as http,
        DnsTarget("127.0.0.1", allow_peers={"127.0.0.2"}) as dns,
    ):
        targets = (
            {"kind": "http", "url": f"http://127.0.0.1:{http.port}/"},
            {"kind": "dns", "host": "127.0.0.1", "port": dns.port},
        )
        right = await Prober(
            uplink(*targets, interface=None, source_address="127.0.0.2", timeout_s=0.5)
        ).cycle()
        wrong = await Prober(
            uplink(*targets, interface=None, source_address="127.0.0.3", timeout_s=0.5)
        ).cycle()
        assert [r.ok for r in right] == [True, True]
        assert [r.ok for r in wrong] == [False, False]
        assert http.served == 1 and dns.served == 1


async def test_targets_are_probed_concurrently_within_the_timeout(tcp: TcpTarget):
    with HttpTarget("127.0.0.1") as slow1, DnsTarget("127.0.0.1") as slow2:
        slow1.down("blackhole")
        slow2.down("blackhole")
        config = uplink(
            {"kind": "http", "url": f"http://127.0.0.1:{slow1.port}/"},
            {"kind": "dns", "host": "127.0.0.1", "port": slow2.port},
            {"kind": "tcp", "host": "127.0.0.1", "port": tcp.port},
            timeout_s=0.6,
        )
        started = time.monotonic()
        results = await Prober(config).cycle()
        elapsed = time.monotonic() - started
    assert [r.ok for r in results] == [False, False, True]
    assert elapsed < 1.1  # two dead targets cost one timeout, not two


async def test_host_names_resolve_through_the_link_resolver(tcp: TcpTarget):
    with DnsTarget("127.0.0.1", answer="127.0.0.1") as resolver:
        config = uplink(
            {"kind": "tcp", "host": "probe.thonminh.test", "port": tcp.port},
            resolver="127.0.0.1",
            resolver_port=resolver.port,
        )
        prober = Prober(config)
        assert (await prober.cycle())[0].ok
        assert resolver.served == 1
        assert (await prober.cycle())[0].ok and resolver.served == 1  # cached for the record's TTL
        resolver.down("servfail")
        fresh = await Prober(config).cycle()
        assert fresh[0].error == "resolve probe.thonminh.test: no address"


async def test_https_verifies_the_certificate(tmp_path):
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=probe.thonminh.test",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(cert, key)
    with HttpTarget("127.0.0.1", tls=server) as https:
        url = f"https://127.0.0.1:{https.port}/generate_204"
        trusted = await one(uplink({"kind": "http", "url": url, "expect_status": 204, "ca_file": str(cert)}))
        untrusted = await one(uplink({"kind": "http", "url": url, "expect_status": 204}))
    assert trusted.ok, trusted.error
    assert not untrusted.ok and untrusted.error.startswith("tls: CERTIFICATE_VERIFY_FAILED")
