"""docker-compose.yml checked statically (no container engine here), with everything it mounts and reads.

Parsed as YAML; every bind mount must exist in the repository or be written by scripts/make-secrets.sh (which
the test runs into a temporary directory); every ${VAR} must be one the script puts in .env; every service
needs a health check, a restart policy and a pinned image; the configs it mounts load with the project's own
validators; and the broker users the script writes are accepted by a real Mosquitto.
"""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import jsonschema_rs
import pytest
import yaml

from dashboards.provisioning import DASHBOARDS_PATH
from edge.config import load_gateway_config
from lab.localservices import InfluxDBServer, MosquittoServer, free_port
from server.config import load_server_config
from thonminh.evidence import GatewayKey, public_key_text
from thonminh.influx import InfluxClient

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
SERVICES = COMPOSE["services"]
THONMINH = Path(sys.executable).with_name("thonminh")
VAR = re.compile(r"\$\{(\w+)(?::?[-?][^}]*)?\}")


@pytest.fixture(scope="module")
def secrets_out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("secrets")
    subprocess.run(
        [str(ROOT / "scripts/make-secrets.sh"), "--out", str(out)],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return out


def env_of(out: Path) -> dict[str, str]:
    pairs = [
        line.split("=", 1)
        for line in (out / ".env").read_text().splitlines()
        if line and not line.startswith("#")
    ]
    return dict(pairs)


def test_the_stack_has_its_services() -> None:
    assert {"mosquitto", "influxdb", "grafana", "criteria"} <= set(SERVICES)
    assert {n for n, s in SERVICES.items() if "demo" in s.get("profiles", [])} == {"simulator", "gateway"}


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_service_has_health_check_restart_policy_and_pinned_image(name: str) -> None:
    service = SERVICES[name]
    assert service["healthcheck"]["test"], name
    assert service["restart"] in ("always", "unless-stopped"), name
    image = service.get("image", "")
    if image != SERVICES["criteria"]["image"]:  # the image built from this repository by the criteria service
        tag = image.rpartition(":")[2]
        assert ":" in image and tag != "latest" and re.search(r"\d+\.\d+\.\d+", tag), (
            f"{name}: unpinned {image}"
        )
    for volume in service.get("volumes", []):
        source = volume.split(":")[0]
        if not source.startswith("."):
            assert source in COMPOSE["volumes"], f"{name}: volume {source} is not declared"


def test_every_bind_mount_exists_or_is_generated_by_make_secrets(secrets_out: Path) -> None:
    for name, service in SERVICES.items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("./"):
                assert (ROOT / source).exists() or (secrets_out / source).exists(), f"{name}: {source}"
    assert (secrets_out / "deploy/compose/generated/mosquitto/passwd").exists()
    assert (ROOT / "Dockerfile").exists() and SERVICES["criteria"]["build"] == "."


def test_every_variable_comes_from_make_secrets_and_no_secret_is_literal(secrets_out: Path) -> None:
    produced = env_of(secrets_out)
    text = (ROOT / "docker-compose.yml").read_text(encoding="utf-8")
    used = set(VAR.findall(text))
    assert used and used <= set(produced), used - set(produced)
    for name, service in SERVICES.items():
        for key, value in (service.get("environment") or {}).items():
            if re.search(r"PASSWORD|TOKEN|_KEYS__|SECRET", key):
                assert VAR.fullmatch(str(value)), f"{name}.{key} holds a literal secret"
    assert all(len(v) >= 32 for k, v in produced.items() if k.endswith(("PASSWORD", "TOKEN", "_KEY")))


def test_make_secrets_keeps_existing_secrets(secrets_out: Path) -> None:
    before = env_of(secrets_out)
    subprocess.run(
        [str(ROOT / "scripts/make-secrets.sh"), "--out", str(secrets_out)],
        check=True,
        capture_output=True,
        timeout=60,
    )
    assert env_of(secrets_out) == before


def test_influxdb_init_script_gets_what_it_reads() -> None:
    script = (ROOT / "deploy/compose/influxdb-init/10-thonminh.sh").read_text()
    env = SERVICES["influxdb"]["environment"]
    provided_by_image = {"DOCKER_INFLUXDB_INIT_BUCKET_ID"}
    assigned = set(re.findall(r"^\s*([A-Za-z_]\w*)=", script, re.MULTILINE))  # the script's own variables
    assert {"org", "bucket_id", "rollup_id"} <= assigned
    for var in set(re.findall(r"\$\{?([A-Za-z_]\w*)", script)) - assigned:
        assert var in env or var in provided_by_image, var
    assert "influx v1 dbrp create" in script and "--default" in script
    subprocess.run(["bash", "-n", str(ROOT / "deploy/compose/influxdb-init/10-thonminh.sh")], check=True)


def test_grafana_gets_the_provisioning_and_the_variables_it_expands() -> None:
    grafana = SERVICES["grafana"]
    mounts = {v.split(":")[1]: v.split(":")[0] for v in grafana["volumes"]}
    for kind in ("datasources", "dashboards", "alerting"):
        assert mounts[f"/etc/grafana/provisioning/{kind}"] == f"./dashboards/provisioning/{kind}"
    assert mounts[DASHBOARDS_PATH] == "./dashboards/json"
    datasource = (ROOT / "dashboards/provisioning/datasources/thonminh.yaml").read_text()
    for var in VAR.findall(datasource):
        assert var in grafana["environment"], var


def test_mounted_configs_load_with_the_projects_validators(secrets_out: Path) -> None:
    env = env_of(secrets_out)
    server_env = {k: str(v) for k, v in SERVICES["criteria"]["environment"].items()}
    resolved = {k: env[VAR.fullmatch(v).group(1)] for k, v in server_env.items()}  # type: ignore[union-attr]
    config = load_server_config(ROOT / "deploy/compose/server.toml", environ=resolved)
    assert config.http.host == "0.0.0.0" and config.influxdb.url == "http://influxdb:8086"
    gateway = load_gateway_config(ROOT / "deploy/compose/gateway-demo.toml", environ={})
    assert gateway.influxdb.url == "http://influxdb:8086" and gateway.mqtt.host == "mosquitto"


def test_generated_broker_users_are_accepted_by_a_real_mosquitto(secrets_out: Path, tmp_path: Path) -> None:
    auth = secrets_out / "deploy/compose/generated/mosquitto"
    env = env_of(secrets_out)
    broker = MosquittoServer(
        tmp_path / "mq",
        allow_anonymous=False,
        extra_config=f"password_file {auth / 'passwd'}\nacl_file {auth / 'acl'}\n",
    )
    broker.start()
    try:

        def connect(user: str, password: str) -> int:
            cmd = [
                "mosquitto_pub",
                "-h",
                "127.0.0.1",
                "-p",
                str(broker.port),
                "-u",
                user,
                "-P",
                password,
                "-t",
                "thonminh/health",
                "-m",
                "1",
            ]
            return subprocess.run(cmd, capture_output=True, timeout=20).returncode

        assert connect(env["MQTT_GATEWAY_USER"], env["MQTT_GATEWAY_PASSWORD"]) == 0
        assert connect(env["MQTT_SIMULATOR_USER"], env["MQTT_SIMULATOR_PASSWORD"]) == 0
        assert connect(env["MQTT_GATEWAY_USER"], "wrong") != 0
    finally:
        broker.stop()


# -- the Compose specification, and every path, port, health check and permission against the code ----------

SCHEMA = ROOT / "tests/deploy/compose-spec.json"  # vendored: see compose-spec.NOTICE
PORT_IN_TEXT = re.compile(r"(?:localhost|127\.0\.0\.1)?:8080(/[\w./-]*)")


def test_compose_file_follows_the_compose_specification() -> None:
    validator = jsonschema_rs.validator_for(json.loads(SCHEMA.read_text(encoding="utf-8")))
    errors = [f"{'/'.join(map(str, e.instance_path))}: {e.message}" for e in validator.iter_errors(COMPOSE)]
    assert not errors, "\n".join(errors)
    published = {p.split(":")[-1] for p in SERVICES["criteria"]["ports"]}
    assert published == {"8080"}  # the port the service listens on, in deploy/compose/server.toml
    assert load_server_config(ROOT / "deploy/compose/server.toml", environ={}).http.port == 8080


def _dockerfile_healthcheck() -> list[str]:
    text = (ROOT / "Dockerfile").read_text(encoding="utf-8").replace("\\\n", " ")
    line = next(line for line in text.splitlines() if line.startswith("HEALTHCHECK"))
    return json.loads(line.split(" CMD ", 1)[1])


@pytest.fixture(scope="module")
def criteria_service(
    secrets_out: Path, influxdb: InfluxDBServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, dict[str, str], InfluxClient]]:
    """The criteria service as the compose stack runs it (deploy/compose/server.toml, keys from make-secrets),
    on a free loopback port and a fresh database of the test InfluxDB 1.x, with the stack's two retention
    policies (autogen and the rollups' thonminh_1h, as the DBRP mappings of the init script name them)."""
    env = env_of(secrets_out)
    database = f"t_compose_{uuid.uuid4().hex[:8]}"
    influx = InfluxClient(influxdb.url, database=database)
    influx.create_database(database)
    influx.query(f'CREATE RETENTION POLICY "thonminh_1h" ON "{database}" DURATION INF REPLICATION 1')
    # a village in the data, so that it is known to the indicator route
    influx.write(
        "uplink,village=kha-ly-thuong,gateway=klt-gw1,link=fiber up=1i,up_s=10,observed_s=10",
        database=database,
    )
    port = free_port()
    service_env = {
        k: env[VAR.fullmatch(str(v)).group(1)]  # type: ignore[union-attr]
        for k, v in SERVICES["criteria"]["environment"].items()
    }
    proc_env = {
        **os.environ,
        **service_env,
        "THONMINH_SERVER_INFLUXDB__URL": influxdb.url,
        "THONMINH_SERVER_INFLUXDB__DATABASE": database,
        # the registry on the criteria-data volume in the stack, here in a directory of the test's own
        "THONMINH_SERVER_EVIDENCE__REGISTRY": str(tmp_path_factory.mktemp("criteria-data") / "keys.sqlite"),
    }
    command = [str(THONMINH), *SERVICES["criteria"]["command"]]
    command[command.index("/etc/thonminh/server.toml")] = str(ROOT / "deploy/compose/server.toml")
    proc = subprocess.Popen(
        [*command, "--host", "127.0.0.1", "--port", str(port)],
        env=proc_env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(base, timeout=1)
                break
            except httpx.HTTPError:
                assert proc.poll() is None and time.monotonic() < deadline, (
                    "the criteria service did not start"
                )
                time.sleep(0.2)
        yield base, env, influx
    finally:
        proc.terminate()
        proc.wait(30)
        influx.drop_database(database)
        influx.close()


def test_the_key_registry_and_the_kept_results_are_on_a_named_volume() -> None:
    """The criteria service verifies (docs/evidence.md); its registry and the settled hours' results it keeps
    must outlive the container, so they lie under a named volume, not in the image's layer."""
    evidence = load_server_config(ROOT / "deploy/compose/server.toml", environ={}).evidence
    assert evidence.registry is not None and evidence.results_file is not None
    mounts = {v.split(":")[1]: v.split(":")[0] for v in SERVICES["criteria"]["volumes"]}
    for path in (evidence.registry, evidence.results_file):
        target = next((t for t in mounts if path.is_relative_to(t)), None)
        assert target is not None and mounts[target] in COMPOSE["volumes"], f"{path} is on no named volume"


@pytest.mark.parametrize("where", ["docker-compose.yml", "Dockerfile"])
def test_health_checks_of_the_criteria_service_pass_against_it(
    where: str,
    criteria_service: tuple[str, dict[str, str], InfluxClient],
) -> None:
    base, _, _ = criteria_service
    test = (
        SERVICES["criteria"]["healthcheck"]["test"]
        if where == "docker-compose.yml"
        else ["CMD", *_dockerfile_healthcheck()]
    )
    assert test[0] == "CMD" and test[1] == "python"  # exec form; the image has python, no curl or wget
    command = [sys.executable, *(arg.replace("http://127.0.0.1:8080", base) for arg in test[2:])]
    assert command[1:] != test[2:], "the health check does not ask 127.0.0.1:8080"
    done = subprocess.run(command, capture_output=True, text=True, timeout=30, check=False)
    assert done.returncode == 0, f"{where}: {test}: {done.stderr[-500:]}"


@pytest.mark.parametrize("doc", ["docker-compose.yml", "docs/deployment.md"])
def test_service_addresses_in_comments_and_docs_answer(
    doc: str,
    criteria_service: tuple[str, dict[str, str], InfluxClient],
) -> None:
    base, env, _ = criteria_service
    paths = set(PORT_IN_TEXT.findall((ROOT / doc).read_text(encoding="utf-8")))
    assert paths, f"{doc} names no address of the criteria service"
    for path in paths:
        answer = httpx.get(
            base + path.rstrip("."), headers={"X-API-Key": env["CRITERIA_READ_KEY"]}, timeout=10
        )
        assert answer.status_code == 200, f"{doc}: :8080{path} answers {answer.status_code}"


def test_the_documented_key_registration_registers_a_key(
    criteria_service: tuple[str, dict[str, str], InfluxClient],
) -> None:
    """docs/deployment.md's `keys add` line, run as the criteria container would (its environment, its
    address), registers a gateway's key with the stack's criteria service."""
    base, env, _ = criteria_service
    text = (ROOT / "docs/deployment.md").read_text(encoding="utf-8")
    (script,) = re.findall(r"docker compose exec criteria sh -c '(thonminh keys add .*?)'", text, re.DOTALL)
    public = public_key_text(GatewayKey.generate().public_key())
    script = (
        script.replace("\\\n", " ")
        .replace("thonminh ", f"{THONMINH} ", 1)
        .replace("http://127.0.0.1:8080", base)
        .replace("<base64>", public)
        .replace("<when the key was made>", "-1h")
    )
    container_env = {
        k: env[VAR.fullmatch(str(v)).group(1)]  # type: ignore[union-attr]
        for k, v in SERVICES["criteria"]["environment"].items()
    }
    done = subprocess.run(
        ["sh", "-c", script], env={**os.environ, **container_env}, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    listed = httpx.get(
        f"{base}/api/v1/gateways/klt-gw1/keys", headers={"X-API-Key": env["CRITERIA_READ_KEY"]}, timeout=10
    )
    assert listed.status_code == 200, listed.text
    assert [k["village"] for k in listed.json()["keys"]] == ["kha-ly-thuong"]


def _init_grants() -> tuple[dict[str, str], dict[str, set[str]]]:
    """From the InfluxDB init script: retention policy -> bucket variable, and user -> buckets it may write."""
    script = (ROOT / "deploy/compose/influxdb-init/10-thonminh.sh").read_text().replace("\\\n", " ")
    buckets = {
        m.group(2): m.group(1)
        for m in re.finditer(r"influx v1 dbrp create .*?--bucket-id \"\$(\w+)\" .*?--rp (\w+)", script)
    }
    writes = {
        m.group(1): set(re.findall(r"--write-bucket \"\$(\w+)\"", m.group(2)))
        for m in re.finditer(r"influx v1 auth create .*?--username \"\$(\w+)\"(.*)", script)
    }
    return buckets, writes


def test_the_criteria_user_may_write_where_the_service_writes(
    criteria_service: tuple[str, dict[str, str], InfluxClient],
) -> None:
    """An indicator entered through the API lands in a retention policy; the init script maps that to a bucket,
    and the criteria service's v1 user must be allowed to write there (and to the rollups' bucket)."""
    base, env, influx = criteria_service
    answer = httpx.put(
        f"{base}/api/v1/villages/kha-ly-thuong/indicators/eid_adoption_pct",
        timeout=10,
        headers={"X-API-Key": env["CRITERIA_ADMIN_KEY"]},
        json={"value": 31.5, "unit": "%"},
    )
    assert answer.status_code == 200, answer.text
    landed = [
        rp
        for rp in ("autogen", "thonminh_1h")
        if influx.select(f'SELECT count("value") FROM "{rp}"."indicator"').rows()
    ]
    assert landed == ["autogen"], landed
    buckets, writes = _init_grants()
    server_rp = load_server_config(ROOT / "deploy/compose/server.toml", environ={}).rollups.retention_policy
    criteria_writes = writes["INFLUXDB_CRITERIA_USER"]
    assert buckets[landed[0]] in criteria_writes, f"indicators go to {buckets[landed[0]]}: not writable"
    assert buckets[server_rp] in criteria_writes, f"rollups go to {buckets[server_rp]}: not writable"
    assert writes["INFLUXDB_GATEWAY_USER"] == {buckets["autogen"]} and not writes["INFLUXDB_GRAFANA_USER"]


def _mounted_files(service: str, out: Path) -> dict[str, Path]:
    """Container path -> host path of every file under the service's bind mounts (generated or committed)."""
    files: dict[str, Path] = {}
    for volume in SERVICES[service]["volumes"]:
        source, target = volume.split(":")[:2]
        if not source.startswith("./"):
            continue
        host = out / source if (out / source).exists() else ROOT / source
        for path in [host] if host.is_file() else [p for p in host.rglob("*") if p.is_file()]:
            files[target + str(path)[len(str(host)) :]] = path
    return files


def _readable_by_another_user(path: Path, mount_source: Path) -> bool:
    """Whether a user who owns nothing here can read ``path``: each directory from the mount down searchable."""
    if not path.stat().st_mode & stat.S_IROTH:
        return False
    return all(d.stat().st_mode & stat.S_IXOTH for d in path.parents if d.is_relative_to(mount_source))


def test_the_broker_can_read_its_files_with_a_strict_umask(tmp_path: Path) -> None:
    """The eclipse-mosquitto image drops to user mosquitto (uid 1883), who owns nothing make-secrets wrote, even
    when the operator's umask is 077; and the files the broker config names are all mounted."""
    subprocess.run(
        ["bash", "-c", f'umask 077 && exec "{ROOT}/scripts/make-secrets.sh" --out "{tmp_path}"'],
        check=True,
        capture_output=True,
        timeout=60,
    )
    files = _mounted_files("mosquitto", tmp_path)
    config = files["/mosquitto/config/mosquitto.conf"].read_text()
    named = re.findall(r"^(?:password_file|acl_file|cafile|certfile|keyfile) (\S+)", config, re.MULTILINE)
    assert len(named) == 5
    for container_path in ["/mosquitto/config/mosquitto.conf", *named]:
        assert container_path in files, f"{container_path} is not mounted"
        host = files[container_path]
        mount = next(
            (tmp_path if str(host).startswith(str(tmp_path)) else ROOT) / v.split(":")[0]
            for v in SERVICES["mosquitto"]["volumes"]
            if container_path.startswith(v.split(":")[1])
        )
        assert _readable_by_another_user(host, mount), f"{container_path} ({host}) is unreadable to mosquitto"
    secret = tmp_path / "deploy/compose/generated/mosquitto/passwords.secret.csv"
    assert secret.stat().st_mode & 0o077 == 0 and (tmp_path / ".env").stat().st_mode & 0o077 == 0
