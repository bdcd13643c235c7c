#!/usr/bin/env bash
# Install or upgrade the thonminh gateway on Raspberry Pi OS (Debian): a venv under /opt/thonminh with `thonminh`
# on the PATH, the config under /etc/thonminh, the buffer under /var/lib/thonminh, the village's Mosquitto
# (config, users and ACL from the light inventory, TLS certificate), the systemd unit, journald limits.
#
#   sudo deploy/install-gateway.sh                 # from a checkout of this repository
#   sudo deploy/install-gateway.sh --package thonminh-0.2.0-py3-none-any.whl
#
# Re-running it upgrades: the venv is upgraded in place, /etc/thonminh, the broker's passwords and certificate
# and /var/lib/thonminh (the buffer) are never overwritten, and the service is restarted (SIGTERM: the agent
# flushes, the buffer stays on disk). The unit is always enabled; it is started only once `thonminh edge
# check-config` passes (exit status 1 and what to fix otherwise).
#
# Options: --package PATH|DIR  what to pip-install (default: this repository)
#          --root DIR          install into DIR instead of / (packaging, tests); implies --no-system
#          --system            with --root: still run apt-get, useradd, usermod and chown on this machine, and
#                              enable the unit inside DIR (systemctl --root)
#          --no-system         skip apt, useradd, chown and systemctl (files only)
#          --no-pip            do not create or upgrade the venv
#          --broker-host NAME  a name or IP address the devices use for the broker, for its TLS certificate
#                              (repeatable; "mosquitto", "localhost" and 127.0.0.1 are always in it)
#          --dry-run           print the commands instead of running them
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(dirname "$here")"
package="$repo"
root=""
system=1
force_system=0
pip=1
dry=0
broker_hosts=()
while [ $# -gt 0 ]; do
  case "$1" in
    --package) package="$2"; shift 2 ;;
    --root) root="${2%/}"; system=0; shift 2 ;;
    --system) force_system=1; shift ;;
    --no-system) system=0; force_system=0; shift ;;
    --no-pip) pip=0; shift ;;
    --broker-host) broker_hosts+=("$2"); shift 2 ;;
    --dry-run) dry=1; shift ;;
    -h|--help) sed -n '2,23p' "$0"; exit 0 ;;
    *) echo "install-gateway.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
[ "$force_system" -eq 1 ] && system=1

# Paths as the running system sees them; "$root$x" is where they are written.
prefix=/opt/thonminh
etc=/etc/thonminh
state=/var/lib/thonminh
mosq=/etc/mosquitto
unit=thonminh-gateway.service
user=thonminh
gateway_mqtt_user=thonminh-gateway
venv_thonminh="$prefix/venv/bin/thonminh"

run() {
  if [ "$dry" -eq 1 ]; then printf '+ %s\n' "$*"; else "$@"; fi
}

# write DEST MODE: stdin to "$root$DEST" unless it exists (the operator's files are never overwritten)
write_once() {
  if [ -e "$root$1" ]; then cat >/dev/null; return; fi
  if [ "$dry" -eq 1 ]; then printf '+ write %s\n' "$1"; cat >/dev/null; return; fi
  cat > "$root$1"
  chmod "$2" "$root$1"
}

if [ "$system" -eq 1 ] && [ -z "$root" ] && [ "$dry" -eq 0 ] && [ "$(id -u)" -ne 0 ]; then
  echo "install-gateway.sh: run as root (sudo), or use --root DIR / --no-system" >&2
  exit 1
fi

install_packages_and_user() {
  run env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
    python3-venv python3-pip mosquitto mosquitto-clients openssl
  if ! id -u "$user" >/dev/null 2>&1; then
    run useradd --system --user-group --home-dir "$state" --no-create-home --shell /usr/sbin/nologin "$user"
  fi
  # the modem's serial port; the unit also grants it, this makes `sudo -u thonminh thonminh edge ...` work
  run usermod --append --groups dialout "$user"
}

install_venv() {
  [ -x "$root$prefix/venv/bin/python" ] || run python3 -m venv "$root$prefix/venv"
  run "$root$prefix/venv/bin/pip" install --quiet --upgrade pip
  run "$root$prefix/venv/bin/pip" install --quiet --upgrade "$package"
  # on the PATH of every login shell (sudo's secure_path includes /usr/local/bin)
  run ln -sfn "$venv_thonminh" "$root/usr/local/bin/thonminh"
}

# The config is the operator's: written once from the example, with absolute paths, the inventory beside it
# and the broker user the installer creates below.
install_gateway_config() {
  write_once "$etc/lights.csv" 0640 < "$repo/edge/sources/lights/lights.example.csv"
  sed -e 's#^state_dir = .*#state_dir = "/var/lib/thonminh"       \# sources keep their state here#' \
      -e 's#^path = "var/buffer.sqlite"#path = "/var/lib/thonminh/buffer.sqlite"#' \
      -e 's#^inventory = "sources/lights/lights.example.csv"#inventory = "lights.csv"#' \
      -e "/^\[mqtt\]/,/^\[/ s#^client_id = .*#client_id = \"$gateway_mqtt_user\"#" \
      -e "/^\[mqtt\]/,/^\[/ s#^\# username = .*#username = \"$gateway_mqtt_user\"#" \
      "$repo/edge/gateway.example.toml" | write_once "$etc/gateway.toml" 0640
}

# Mosquitto from Debian's package: its /etc/mosquitto/mosquitto.conf (persistence in /var/lib/mosquitto, a log
# file) includes conf.d/, where firmware_config/mosquitto/mosquitto.conf goes with the paths mapped. Its own
# persistence_location would be a duplicate of Debian's, which Mosquitto refuses.
install_broker() {
  local conf="$mosq/conf.d/thonminh.conf" secrets="$etc/mqtt-passwords.secret.csv"
  run install -d -m 0755 "$root$mosq/conf.d"
  if [ "$dry" -eq 1 ]; then
    echo "+ write $conf from firmware_config/mosquitto/mosquitto.conf"
  else
    sed -e '/^persistence_location /d' \
        -e 's#/mosquitto/config/certs/#/etc/mosquitto/certs/#; s#/mosquitto/config/#/etc/mosquitto/#' \
        "$repo/firmware_config/mosquitto/mosquitto.conf" > "$root$conf"
    chmod 0644 "$root$conf"
  fi
  # users and ACL from the light inventory; passwords already in the secrets file are kept
  if [ "$dry" -eq 0 ] && [ ! -x "$root$prefix/venv/bin/python" ]; then
    echo "install-gateway.sh: no venv at $prefix/venv: broker users and ACL not written (run without --no-pip)" >&2
  else
    run "$root$prefix/venv/bin/python" "$repo/firmware_config/mosquitto/gen_auth.py" \
      --inventory "$root$etc/lights.csv" --out-dir "$root$mosq" --gateway-user "$gateway_mqtt_user" \
      --passwords-out "$root$secrets"
  fi
  if [ ! -e "$root$mosq/certs/server.crt" ]; then
    run sh "$repo/firmware_config/mosquitto/gen_certs.sh" "$root$mosq/certs" "${broker_hosts[@]}"
  fi
}

gateway_mqtt_password() {
  [ -e "$root$etc/mqtt-passwords.secret.csv" ] || return 0
  awk -F, -v u="$gateway_mqtt_user" '$1 == u { print $2 }' "$root$etc/mqtt-passwords.secret.csv"
}

install_gateway_env() {
  write_once "$etc/gateway.env" 0640 <<ENV
# Secrets for the gateway (EnvironmentFile of thonminh-gateway.service), readable by root and thonminh only.
# THONMINH_INFLUXDB__PASSWORD=
# THONMINH_INFLUXDB__TOKEN=
THONMINH_MQTT__PASSWORD=$(gateway_mqtt_password)
ENV
}

# Ownership for the daemons that read these files: the broker runs as mosquitto, the gateway as thonminh.
set_owners() {
  run chown -R root:"$user" "$root$etc"
  run chown -R "$user":"$user" "$root$state"
  run chown mosquitto:mosquitto "$root$mosq/passwd" "$root$mosq/certs/server.key"
}

# Enabled before anything can fail, so a gateway whose config still needs fixing starts at boot once it is.
# With --root the unit is enabled inside that tree and nothing is started.
enable_and_start() {
  if [ -z "$root" ]; then
    run systemctl restart systemd-journald
    run systemctl daemon-reload
    run systemctl enable "$unit" mosquitto.service
    run systemctl restart mosquitto.service
  else
    run systemctl --root="$root" enable "$unit"
  fi
  if ! run "$root$venv_thonminh" edge check-config --config "$root$etc/gateway.toml"; then
    echo "install-gateway.sh: thonminh-gateway is installed and enabled but not started: fix $etc/gateway.toml" >&2
    echo "  (the error above), then: sudo systemctl restart thonminh-gateway" >&2
    return 1
  fi
  if [ -n "$root" ]; then
    echo "thonminh-gateway installed and enabled under $root"
  else
    run systemctl restart "$unit"
    echo "thonminh-gateway installed: journalctl -u thonminh-gateway -f"
  fi
}

[ "$system" -eq 1 ] && install_packages_and_user
run install -d -m 0755 "$root$prefix" "$root$prefix/share/doc" "$root/etc/systemd/system" \
  "$root/etc/systemd/journald.conf.d" "$root/usr/local/bin"
run install -d -m 0750 "$root$etc" "$root$state"
[ "$pip" -eq 1 ] && install_venv
install_gateway_config
install_broker
install_gateway_env
run install -m 0644 "$here/$unit" "$root/etc/systemd/system/$unit"
run install -m 0644 "$here/journald-thonminh.conf" "$root/etc/systemd/journald.conf.d/thonminh.conf"
run install -m 0644 "$repo/docs/deployment.md" "$root$prefix/share/doc/deployment.md"

if [ "$system" -eq 1 ]; then
  set_owners
  enable_and_start
else
  echo "files installed under ${root:-/} (no apt, user, chown or systemctl)"
fi
