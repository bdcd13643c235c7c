"""The Grafana InfluxQL interpolation helper against the behaviour of Grafana 11's code (cited in
tests/dashboards/grafana_macros.py)."""

from __future__ import annotations

import pytest
from grafana_macros import (
    ALL,
    MacroError,
    TemplateVar,
    escape_regex,
    format_interval,
    grafana_interval_ms,
    interpolate,
    round_interval_ms,
)

Q = 'SELECT "up" FROM "uplink" WHERE $timeFilter AND "village" =~ /^$village$/ GROUP BY time($__interval)'


def run(query: str, **vars: TemplateVar) -> str:
    return interpolate(query, variables=vars, from_ms=1_000, to_ms=2_000, interval_ms=60_000)


def test_escape_regex_is_grafanas() -> None:
    assert escape_regex("a.b/c(d)|e*f+g?h^i$j[k]l{m}n\\o") == r"a\.b\/c\(d\)\|e\*f\+g\?h\^i\$j\[k\]l\{m\}n\\o"
    assert escape_regex("kha-ly-thuong") == "kha-ly-thuong"


def test_multi_value_selection_becomes_an_escaped_alternation() -> None:
    v = TemplateVar("village", ["kha-ly-thuong", "lang.b"])
    assert (
        'time >= 1000ms and time <= 2000ms AND "village" =~ /^(kha-ly-thuong|lang\\.b)$/ GROUP BY time(1m)'
        in run(Q, village=v)
    )
    assert "/^(kha-ly-thuong)$/" in run(Q, village=TemplateVar("village", ["kha-ly-thuong"]))


def test_all_uses_the_custom_all_value_unescaped_or_every_option() -> None:
    assert "/^.*$/" in run(Q, village=TemplateVar("village", [ALL], options=["a", "b"], all_value=".*"))
    assert "/^(a|b\\/c)$/" in run(Q, village=TemplateVar("village", [ALL], options=["a", "b/c"]))


def test_single_value_variable_is_escaped_only_inside_a_regex() -> None:
    single = TemplateVar("village", ["a.b"], multi=False, include_all=False)
    assert "/^a\\.b$/" in run(Q, village=single)
    assert "\"village\" = 'a.b'" in run(
        "SELECT 1 FROM x WHERE $timeFilter AND \"village\" = '$village'", village=single
    )


def test_numeric_values_are_not_escaped() -> None:
    assert "/^2.5$/" in run(Q, village=TemplateVar("village", "2.5", multi=True))  # a str selection


def test_intervals_follow_grafanas_rounding_and_minimum() -> None:
    assert round_interval_ms(86_400_000 / 1000) == 60_000
    assert round_interval_ms(7 * 86_400_000 / 1000) == 600_000
    assert grafana_interval_ms(0, 3_600_000, 1000, "1m") == 60_000  # 3.6 s rounds to 5 s, the minimum wins
    assert (
        format_interval(90_000) == "1m"
        and format_interval(86_400_000) == "1d"
        and format_interval(500) == "500ms"
    )
    out = interpolate(
        "SELECT x * 8000 / $__interval_ms FROM m WHERE $timeFilter GROUP BY time($interval)",
        variables={},
        from_ms=0,
        to_ms=1,
        interval_ms=300_000,
    )
    assert out.endswith("x * 8000 / 300000 FROM m WHERE time >= 0ms and time <= 1ms GROUP BY time(5m)")


@pytest.mark.parametrize(
    "query", ["SELECT 1 FROM m WHERE $__timeFilter", "SELECT 1 FROM m WHERE $timeFilter AND x = $unknown"]
)
def test_leftover_macros_are_errors(query: str) -> None:
    with pytest.raises(MacroError):
        run(query)


def test_dollars_inside_regex_literals_are_not_macros() -> None:
    assert run('SELECT 1 FROM m WHERE $timeFilter AND "a" =~ /^x$/').endswith("=~ /^x$/")


def test_time_variables_are_the_panels_range_in_epoch_ms() -> None:
    q = "SELECT x FROM m WHERE $timeFilter AND time < ${__to}ms AND time > $__from - 1d LIMIT [[__to]]"
    assert (
        run(q)
        == "SELECT x FROM m WHERE time >= 1000ms and time <= 2000ms AND time < 2000ms AND time > 1000 - 1d LIMIT 2000"
    )
    with pytest.raises(MacroError, match="formats"):
        run("SELECT x FROM m WHERE $timeFilter AND time < ${__to:date}")


def test_alert_rules_get_no_browser_interpolation() -> None:
    def backend(query: str) -> str:
        return interpolate(
            query,
            variables={"village": TemplateVar("village", ["a"])},
            from_ms=1_000,
            to_ms=2_000,
            interval_ms=60_000,
            frontend=False,
        )

    assert (
        backend("SELECT x FROM m WHERE $timeFilter")
        == "SELECT x FROM m WHERE time >= 1000ms and time <= 2000ms"
    )
    for query in ("SELECT x FROM m WHERE $timeFilter AND time < ${__to}ms", Q):
        with pytest.raises(MacroError):
            backend(query)
