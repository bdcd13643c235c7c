"""Config errors name the file and the key path, and exit 2 from the command line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from edge.config import load_gateway_config
from thonminh.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "edge" / "gateway.example.toml"
MINIMAL = """
[site]
village = "kha-ly-thuong"
gateway = "gw1"
latitude = 21.38
longitude = 106.57
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "gateway.toml"
    path.write_text(text)
    return path


def test_example_config_is_valid():
    config = load_gateway_config(EXAMPLE)
    assert config.site.village == "kha-ly-thuong"
    assert config.buffer.path == (EXAMPLE.parent / "var" / "buffer.sqlite").resolve()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ('[influxdb]\nurl = "htp:/x"\n', "gateway.toml: influxdb.url: invalid URL 'htp:/x'"),
        ('[buffer]\nmax_bytes = "lots"\n', "gateway.toml: buffer.max_bytes: Input should be a valid integer"),
        ("[mqtt]\nprot = 1883\n", "gateway.toml: mqtt.prot: unknown key"),
        ('[influxdb]\napi = "v2"\n', "gateway.toml: influxdb: api = 'v2' needs org, bucket, token"),
        ("[sources.nonexistent]\n", "gateway.toml: sources.nonexistent: unknown key"),
        (
            "[forwarder]\nbackoff_initial_s = 10\nbackoff_max_s = 1\n",
            "gateway.toml: forwarder: backoff_max_s (1.0) must be at least backoff_initial_s (10.0)",
        ),
    ],
)
def test_bad_values_name_the_key_path(tmp_path: Path, extra: str, message: str):
    with pytest.raises(ConfigError) as info:
        load_gateway_config(write(tmp_path, MINIMAL + extra))
    assert message in str(info.value)


def test_missing_required_and_bad_slug(tmp_path: Path):
    text = MINIMAL.replace('village = "kha-ly-thuong"\n', "").replace('"gw1"', '"GW 1"')
    with pytest.raises(ConfigError) as info:
        load_gateway_config(write(tmp_path, text))
    assert "gateway.toml: site.village: required value is missing" in str(info.value)
    assert "gateway.toml: site.gateway: 'GW 1' is not a slug" in str(info.value)


def test_invalid_toml_and_missing_file(tmp_path: Path):
    with pytest.raises(ConfigError, match="gateway.toml: invalid TOML"):
        load_gateway_config(write(tmp_path, "[site\n"))
    with pytest.raises(ConfigError, match="cannot read"):
        load_gateway_config(tmp_path / "nope.toml")


def test_secrets_from_environment_and_masked(tmp_path: Path):
    path = write(tmp_path, MINIMAL + '[influxdb]\nusername = "gw"\n')
    config = load_gateway_config(path, environ={"THONMINH_INFLUXDB__PASSWORD": "s3cret"})
    assert config.influxdb.password.get_secret_value() == "s3cret"
    assert "s3cret" not in json.dumps(config.model_dump(mode="json"))


def run_cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "thonminh.cli", *args], capture_output=True, text=True, timeout=60, env=env
    )


def test_check_config_command(tmp_path: Path):
    ok = run_cli("edge", "check-config", "--static", "--print", "--config", str(EXAMPLE))
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["site"]["village"] == "kha-ly-thuong"

    bad = run_cli(
        "edge", "check-config", "--config", str(write(tmp_path, MINIMAL + '[influxdb]\nurl = "htp:/x"\n'))
    )
    assert bad.returncode == 2
    assert "gateway.toml: influxdb.url: invalid URL 'htp:/x'" in bad.stderr


def test_version_and_help_on_every_command():
    assert run_cli("--version").stdout.startswith("thonminh, version")
    for args in (["--help"], ["edge", "--help"], ["edge", "check-config", "--help"]):
        result = run_cli(*args)
        assert result.returncode == 0, (args, result.stderr)
        assert "Usage:" in result.stdout


WIFI_PAIR = (
    MINIMAL
    + """
[[sources.wifi]]
backend = "ubus_http"
ap = "cultural-house"
[sources.wifi.http]
url = "http://127.0.0.1:9/ubus"
password = "from-file"
[[sources.wifi]]
backend = "ubus_http"
ap = "school"
[sources.wifi.http]
url = "http://127.0.0.1:9/ubus"
password = "from-file"
"""
)


def test_environment_override_indexes_arrays_of_tables(tmp_path: Path):
    path = write(tmp_path, WIFI_PAIR)
    config = load_gateway_config(path, environ={"THONMINH_SOURCES__WIFI__1__HTTP__PASSWORD": "pw"})
    first, second = config.sources.wifi
    assert (first.http.password.get_secret_value(), second.http.password.get_secret_value()) == (
        "from-file",
        "pw",
    )
    with pytest.raises(ConfigError) as info:
        load_gateway_config(path, environ={"THONMINH_SOURCES__WIFI__5__HTTP__PASSWORD": "pw"})
    assert (
        str(info.value)
        == "THONMINH_SOURCES__WIFI__5__HTTP__PASSWORD: sources.wifi[5]: gateway.toml has 2 of them"
    )


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"THONMINH_INFLUXDB__URL": "htp:/x"}, "THONMINH_INFLUXDB__URL: influxdb.url: invalid URL 'htp:/x'"),
        (
            {"THONMINH_BUFFER__MAX_BYTES": "lots"},
            "THONMINH_BUFFER__MAX_BYTES: buffer.max_bytes: Input should be a valid integer",
        ),
        ({"THONMINH_MQTT__PROT": "1883"}, "THONMINH_MQTT__PROT: mqtt.prot: unknown key"),
        (
            {"thonminh_mqtt__port": "0"},
            "thonminh_mqtt__port: mqtt.port: Input should be greater than or equal to 1",
        ),
    ],
)
def test_a_bad_environment_value_is_blamed_on_its_variable(tmp_path: Path, environ: dict, message: str):
    """Not on the file, which is fine: the operator must look at the environment (systemd unit, compose file)."""
    with pytest.raises(ConfigError) as info:
        load_gateway_config(write(tmp_path, MINIMAL), environ=environ)
    assert str(info.value).startswith(message), str(info.value)
    assert "gateway.toml" not in str(info.value)


def test_file_and_environment_errors_are_told_apart(tmp_path: Path):
    path = write(tmp_path, MINIMAL + '[influxdb]\nurl = "htp:/file"\n[buffer]\nmax_bytes = 100\n')
    with pytest.raises(ConfigError) as info:
        load_gateway_config(path, environ={"THONMINH_INFLUXDB__URL": "htp:/env"})
    lines = str(info.value).splitlines()
    assert (
        "THONMINH_INFLUXDB__URL: influxdb.url: invalid URL 'htp:/env' (want http://host[:port]/path or https://...)"
        in lines
    )
    assert (
        "gateway.toml: buffer.max_bytes: Input should be greater than or equal to 1048576 (got 100)" in lines
    )
    assert not any("htp:/file" in line for line in lines)  # the environment wins over the file


def test_environment_overrides_reach_nested_tables_and_other_prefixes_are_not_ours(tmp_path: Path):
    environ = {
        "THONMINH_MQTT__TLS__INSECURE": "true",  # a table the file does not have
        "THONMINH_SERVER_AUTH__READ_KEYS__X": "k"
        * 20,  # the criteria service's prefix: not a gateway section
        "THONMINH_DEMO_INFLUX_URL": "http://127.0.0.1:1",  # no '__': not an override
        "OTHER__X": "1",
    }
    config = load_gateway_config(write(tmp_path, MINIMAL), environ=environ)
    assert config.mqtt.tls is not None and config.mqtt.tls.insecure is True


def test_check_config_reports_what_this_machine_lacks(tmp_path: Path):
    """Unknown interface and a serial path that does not exist: exit 2 naming both key paths."""
    text = (
        MINIMAL
        + """
[[sources.uplink]]
link = "fiber"
interface = "nosuchif0"
[[sources.uplink.targets]]
kind = "tcp"
host = "127.0.0.1"
port = 9

[sources.modem]
port = "/dev/serial/by-id/no-such-modem"
"""
    )
    result = run_cli("edge", "check-config", "--config", str(write(tmp_path, text)))
    assert result.returncode == 2
    assert "gateway.toml: sources.uplink[0].interface" in result.stderr and "nosuchif0" in result.stderr
    assert "gateway.toml: sources.modem[0].port" in result.stderr
    assert run_cli("edge", "check-config", "--static", "--config", str(write(tmp_path, text))).returncode == 0


def test_influxdb_answers_are_compressed_only_when_the_config_asks(tmp_path: Path):
    plain = load_gateway_config(write(tmp_path, MINIMAL), environ={})
    asked = load_gateway_config(
        write(tmp_path, MINIMAL), environ={"THONMINH_INFLUXDB__COMPRESS_ANSWERS": "true"}
    )
    assert not plain.influxdb.client().compress_answers
    assert asked.influxdb.client().compress_answers


def test_an_env_file_is_read_as_systemd_reads_it_under_the_environment(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from thonminh.config import environ_with_file

    env_file = tmp_path / "gateway.env"
    assert environ_with_file(env_file, {"A": "1"}) == {"A": "1"}  # no file: the environment alone
    env_file.write_text("# secrets\nA=from-file\nB='quoted # not a comment'\nexport C=3\n\nD=\n")
    assert environ_with_file(env_file, {"A": "1"}) == {
        "A": "1",
        "B": "quoted # not a comment",
        "C": "3",
        "D": "",
    }
    env_file.unlink()
    env_file.mkdir()  # a file that cannot be read (as root, a mode would not stop it)
    assert environ_with_file(env_file, {"A": "1"}) == {"A": "1"}
    assert "gateway.env: cannot read" in caplog.text and "run as the service's user" in caplog.text


DEEP = "a = " + "[" * 1000 + "]" * 1000 + "\n"  # deeper than tomllib's recursion reaches


def test_toml_nested_too_deeply_is_an_invalid_toml_error(tmp_path: Path):
    from lab.simulate.scenario import load_scenario
    from server.config import load_server_config

    for load in (load_gateway_config, load_server_config, load_scenario):
        with pytest.raises(ConfigError) as info:
            load(write(tmp_path, MINIMAL + DEEP))
        assert str(info.value) == "gateway.toml: invalid TOML (nested too deeply)", load


def test_deeply_nested_toml_exits_2_from_both_commands(tmp_path: Path):
    gateway = run_cli("edge", "check-config", "--static", "--config", str(write(tmp_path, DEEP)))
    assert (gateway.returncode, gateway.stderr) == (
        2,
        "error: gateway.toml: invalid TOML (nested too deeply)\n",
    )
    server = tmp_path / "server.toml"
    server.write_text((ROOT / "server" / "server.example.toml").read_text() + DEEP)
    served = run_cli("server", "--config", str(server))
    assert (served.returncode, served.stderr) == (2, "error: server.toml: invalid TOML (nested too deeply)\n")


@pytest.mark.parametrize("value", ["inf", "1e308", "nan"])
@pytest.mark.parametrize(
    ("where", "bound"),
    [
        ("gateway_interval_s", 86400),
        ("forwarder.backoff_initial_s", 60),
        ("forwarder.backoff_max_s", 150),  # half of thonminh.evidence.IN_FLIGHT_S
        ("forwarder.flush_deadline_s", 3600),
        ("clock.jump_threshold_s", 86400),
    ],
)
def test_a_float_setting_is_bounded(tmp_path: Path, where: str, bound: int, value: str):
    """An infinite interval or wait is no setting: the agent would never do the thing, and say nothing."""
    table, _, key = where.rpartition(".")
    text = f"{MINIMAL}[{table}]\n{key} = {value}\n" if table else f"{key} = {value}\n{MINIMAL}"
    with pytest.raises(ConfigError) as info:
        load_gateway_config(write(tmp_path, text), environ={})
    assert f"gateway.toml: {where}: Input should be" in str(info.value)
    if value != "nan":
        assert f"less than or equal to {bound}" in str(info.value)


def test_gateway_interval_inf_fails_check_config(tmp_path: Path):
    result = run_cli(
        "edge",
        "check-config",
        "--static",
        "--config",
        str(write(tmp_path, "gateway_interval_s = inf\n" + MINIMAL)),
    )
    assert result.returncode == 2
    assert "gateway.toml: gateway_interval_s: Input should be less than or equal to 86400" in result.stderr
