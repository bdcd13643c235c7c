"""docker-compose.yml checked statically (no container engine here), with everything it mounts and reads.

Parsed as YAML; every bind mount must exist in the repository or be written by scripts/make-secrets.sh (which
the test runs into a temporary directory); every ${VAR} must be one the script puts in .env; every service
needs a health check, a restart policy and a pinned image; the configs it mounts load with the project's own
validators; and the broker users the script writes are accepted by a real Mosquitto.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
import yaml

from dashboards.provisioning import DASHBOARDS_PATH
from edge.config import load_gateway_config
from thonminh.localservices import MosquittoServer

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
SERVICES = COMPOSE["services"]
VAR = re.compile(r"\$\{(\w+)(?::?[-?][^}]*)?\}")


@pytest.fixture(scope="module")
def secrets_out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("secrets")
    subprocess.run([str(ROOT / "scripts/make-secrets.sh"), "--out", str(out)], check=True, capture_output=True, timeout=60)
    return out


def env_of(out: Path) -> dict[str, str]:
    pairs = [line.split("=", 1) for line in (out / ".env").read_text().splitlines() if line and not line.startswith("#")]
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
        assert ":" in image and tag != "latest" and re.search(r"\d+\.\d+\.\d+", tag), f"{name}: unpinned {image}"
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
    subprocess.run([str(ROOT / "scripts/make-secrets.sh"), "--out", str(secrets_out)], check=True, capture_output=True, timeout=60)
    assert env_of(secrets_out) == before


def test_influxdb_init_script_gets_what_it_reads() -> None:
    script = (ROOT / "deploy/compose/influxdb-init/10-thonminh.sh").read_text()
    env = SERVICES["influxdb"]["environment"]
    provided_by_image = {"DOCKER_INFLUXDB_INIT_BUCKET_ID"}
    for var in set(re.findall(r"\$\{?([A-Za-z_]\w*)", script)) - {"org", "bucket_id", "rollup_id"}:
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
    from server.config import load_server_config

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
    broker = MosquittoServer(tmp_path / "mq", allow_anonymous=False,
                             extra_config=f"password_file {auth / 'passwd'}\nacl_file {auth / 'acl'}\n")
    broker.start()
    try:
        def connect(user: str, password: str) -> int:
            cmd = ["mosquitto_pub", "-h", "127.0.0.1", "-p", str(broker.port), "-u", user, "-P", password,
                   "-t", "thonminh/health", "-m", "1"]
            return subprocess.run(cmd, capture_output=True, timeout=20).returncode

        assert connect(env["MQTT_GATEWAY_USER"], env["MQTT_GATEWAY_PASSWORD"]) == 0
        assert connect(env["MQTT_SIMULATOR_USER"], env["MQTT_SIMULATOR_PASSWORD"]) == 0
        assert connect(env["MQTT_GATEWAY_USER"], "wrong") != 0
    finally:
        broker.stop()
