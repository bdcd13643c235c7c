#!/usr/bin/env bash
# Writes .env for docker-compose.yml with random passwords, tokens and API keys, and the Mosquitto config, users,
# ACL and TLS certificate (deploy/compose/generated/mosquitto/), so no secret ever sits in the repository.
# `make secrets` runs it.
#
#   scripts/make-secrets.sh [--out DIR] [--force]
#
# An existing .env is kept (secrets are not rotated by accident) and only missing variables are added;
# --force writes everything anew. --out writes into DIR instead of the repository root.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="$repo"
force=0
while [ $# -gt 0 ]; do
  case "$1" in
    --out) out="$2"; shift 2 ;;
    --force) force=1; shift ;;
    -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
    *) echo "make-secrets.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
env_file="$out/.env"
auth_dir="$out/deploy/compose/generated/mosquitto"
python="${PYTHON:-python3}"

random() { "$python" -c 'import secrets; print(secrets.token_urlsafe(32))'; }

# name=value pairs; "random" values are drawn fresh
defaults=(
  "INFLUXDB_ADMIN_USER=admin"
  "INFLUXDB_ADMIN_PASSWORD=random"
  "INFLUXDB_ADMIN_TOKEN=random"
  "INFLUXDB_ORG=thonminh"
  "INFLUXDB_BUCKET=thonminh"
  "INFLUXDB_DATABASE=thonminh"
  "INFLUXDB_GRAFANA_USER=grafana"
  "INFLUXDB_GRAFANA_PASSWORD=random"
  "INFLUXDB_CRITERIA_USER=criteria"
  "INFLUXDB_CRITERIA_PASSWORD=random"
  "INFLUXDB_GATEWAY_USER=gateway"
  "INFLUXDB_GATEWAY_PASSWORD=random"
  "GRAFANA_ADMIN_USER=admin"
  "GRAFANA_ADMIN_PASSWORD=random"
  "CRITERIA_READ_KEY=random"
  "CRITERIA_ADMIN_KEY=random"
  "MQTT_GATEWAY_USER=gateway"
  "MQTT_GATEWAY_PASSWORD=random"
  "MQTT_SIMULATOR_USER=simulator"
  "MQTT_SIMULATOR_PASSWORD=random"
)

mkdir -p "$out"
if [ "$force" -eq 1 ] || [ ! -e "$env_file" ]; then
  : > "$env_file.tmp"
else
  cp "$env_file" "$env_file.tmp"
fi
chmod 600 "$env_file.tmp"
grep -q '^# thonminh' "$env_file.tmp" || printf '# thonminh compose secrets, written by scripts/make-secrets.sh: keep private, never commit\n' >> "$env_file.tmp"
for pair in "${defaults[@]}"; do
  name="${pair%%=*}"
  value="${pair#*=}"
  grep -q "^${name}=" "$env_file.tmp" && continue
  [ "$value" = random ] && value="$(random)"
  printf '%s=%s\n' "$name" "$value" >> "$env_file.tmp"
done
mv "$env_file.tmp" "$env_file"

# Mosquitto users, ACL and TLS certificates, with the gateway's password from .env
set -a
# shellcheck disable=SC1090
. "$env_file"
set +a
# Directories the broker container reads (certs/ is mounted whole) must be searchable by its user, mosquitto,
# who owns nothing here: whatever the operator's umask, they get 755.
mkdir -p "$auth_dir/certs"
chmod 755 "$auth_dir" "$auth_dir/certs"
# the broker's config: the village broker's, plus the demo simulator's listener
cat "$repo/firmware_config/mosquitto/mosquitto.conf" "$repo/deploy/compose/mosquitto-demo.conf" > "$auth_dir/mosquitto.conf"
chmod 644 "$auth_dir/mosquitto.conf"
venv_python="$repo/.venv/bin/python"
[ -x "$venv_python" ] && [ -z "${PYTHON:-}" ] && python="$venv_python"  # gen_auth.py imports the project
gen="$repo/firmware_config/mosquitto/gen_auth.py"
inventory="${INVENTORY:-$repo/deploy/compose/inventory-demo.csv}"
"$python" - "$auth_dir/passwords.secret.csv" <<'PY'
# gen_auth.py keeps the passwords it finds here: seed the gateway's with the one in .env
import csv, io, os, sys
from pathlib import Path

path = Path(sys.argv[1])
user, password = os.environ["MQTT_GATEWAY_USER"], os.environ["MQTT_GATEWAY_PASSWORD"]
rows = [r for r in csv.reader(l for l in (path.read_text().splitlines() if path.exists() else []) if not l.startswith("#"))
        if len(r) >= 2 and r[0] not in ("user", user)]
out = io.StringIO()
w = csv.writer(out, lineterminator="\n")
w.writerow(["user", "password", "role"])
w.writerows(rows + [[user, password, "gateway"]])
path.write_text(out.getvalue())
os.chmod(path, 0o600)
PY
if [ -f "$gen" ]; then
  "$python" "$gen" --inventory "$inventory" --out-dir "$auth_dir" --gateway-user "$MQTT_GATEWAY_USER"
else
  echo "make-secrets.sh: $gen not found; writing the gateway and simulator users only" >&2
fi
# The demo simulator publishes for every simulated device; without the generator, the gateway is added too.
"$python" - "$auth_dir" "$([ -f "$gen" ] && echo 1 || echo 0)" <<'PY'
import base64, hashlib, os, sys
from pathlib import Path

auth, have_gen = Path(sys.argv[1]), sys.argv[2] == "1"
users = {os.environ["MQTT_SIMULATOR_USER"]: os.environ["MQTT_SIMULATOR_PASSWORD"]}
if not have_gen:
    users[os.environ["MQTT_GATEWAY_USER"]] = os.environ["MQTT_GATEWAY_PASSWORD"]
passwd = auth / "passwd"
lines = [l for l in (passwd.read_text().splitlines() if passwd.exists() else []) if l.split(":", 1)[0] not in users]
for user, password in users.items():
    salt = os.urandom(12)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, 101)
    lines.append(f"{user}:$7$101${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}")
passwd.write_text("\n".join(lines) + "\n")
acl = auth / "acl"
text = acl.read_text() if acl.exists() else ""
marker = "# thonminh compose stack users (make-secrets.sh)"
if marker not in text:
    block = f"\n{marker}\nuser {os.environ['MQTT_SIMULATOR_USER']}\ntopic readwrite #\n"
    if not have_gen:
        block += f"\nuser {os.environ['MQTT_GATEWAY_USER']}\ntopic read #\n"
    acl.write_text(text + block)
# the broker in the container runs as user mosquitto: hashes and rules readable, plain passwords not
os.chmod(passwd, 0o644)
os.chmod(acl, 0o644)
PY
# TLS for the broker's 8883 listener (firmware_config/mosquitto/mosquitto.conf), made once
if [ ! -e "$auth_dir/certs/server.crt" ]; then
  if command -v openssl >/dev/null 2>&1; then
    sh "$repo/firmware_config/mosquitto/gen_certs.sh" "$auth_dir/certs" >/dev/null 2>&1
  else
    echo "make-secrets.sh: openssl not found: no broker TLS certificate (install openssl and run again)" >&2
  fi
fi
# read by the broker's user inside the container (also when made by an older version); the CA key stays 600
[ -e "$auth_dir/certs/server.key" ] && chmod 644 "$auth_dir/certs/server.key"
echo "wrote $env_file and $auth_dir/{mosquitto.conf,passwd,acl,certs/}"
