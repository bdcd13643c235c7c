"""Default routes from verbatim kernel tables, and which uplink is active."""

from __future__ import annotations

from pathlib import Path

from edge.sources.uplink.routes import (
    DefaultRoute,
    active_interface,
    interface_of_address,
    parse_ip_route,
    parse_proc_ipv6_route,
    parse_proc_route,
    read_default_routes,
)

FIXTURES = Path(__file__).parent / "fixtures"


def read(name: str) -> str:
    return (FIXTURES / name).read_text()


def test_two_default_routes_the_lowest_metric_wins():
    routes = parse_proc_route(read("proc_net_route_failover.txt"))
    assert routes == [DefaultRoute("fib0", 100, "198.18.1.2"), DefaultRoute("lte0", 700, "198.18.2.2")]
    assert active_interface(routes) == "fib0"


def test_failover_moves_the_default_route_to_4g():
    assert active_interface(parse_proc_route(read("proc_net_route_after_failover.txt"))) == "lte0"


def test_single_default_route_and_no_default_route():
    assert active_interface(parse_proc_route(read("proc_net_route_single.txt"))) == "eth0"
    assert active_interface(parse_proc_route(read("proc_net_route_single.txt").splitlines()[0])) is None


def test_ip_route_text_form_agrees_with_proc():
    routes = parse_ip_route(read("ip_route_failover.txt"))
    assert [(r.interface, r.metric) for r in routes] == [("fib0", 100), ("lte0", 700)]
    linkdown = (
        "default via 198.18.1.2 dev fib0 metric 100 linkdown\ndefault via 198.18.2.2 dev lte0 metric 700\n"
    )
    assert active_interface(parse_ip_route(linkdown)) == "lte0"


def test_ipv6_default_route_ignores_the_kernels_lo_reject_route():
    routes = parse_proc_ipv6_route(read("proc_net_ipv6_route.txt"))
    assert routes == [DefaultRoute("fib0", 100, "2001:0db8:0001:0000:0000:0000:0000:0002")]


def test_garbage_and_missing_tables_mean_no_default_route(tmp_path: Path):
    assert parse_proc_route("Iface\tDestination\nnot a route line at all\neth0 zz zz zz zz zz zz zz\n") == []
    assert read_default_routes(tmp_path / "missing", tmp_path / "missing6") == ([], [])


def test_interface_of_a_local_address():
    assert interface_of_address("127.0.0.1") == "lo"
    assert interface_of_address("192.0.2.254") is None
