#!/usr/bin/env bash
# Install or upgrade the thonminh gateway on Raspberry Pi OS (Debian): a venv under /opt/thonminh, the config
# under /etc/thonminh, the buffer under /var/lib/thonminh, the systemd unit, journald limits.
#
#   sudo deploy/install-gateway.sh                 # from a checkout of this repository
#   sudo deploy/install-gateway.sh --package thonminh-0.2.0-py3-none-any.whl
#
# Re-running it upgrades: the venv is upgraded in place, /etc/thonminh and /var/lib/thonminh (the buffer) are
# never overwritten, and the service is restarted (SIGTERM: the agent flushes, the buffer stays on disk).
#
# Options: --package PATH|DIR  what to pip-install (default: this repository)
#          --root DIR          install into DIR instead of / (packaging, tests); implies --no-system
#          --no-system         skip apt, useradd and systemctl (files only)
#          --no-pip            do not create or upgrade the venv
#          --dry-run           print the commands instead of running them
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(dirname "$here")"
package="$repo"
root=""
system=1
pip=1
dry=0
while [ $# -gt 0 ]; do
  case "$1" in
    --package) package="$2"; shift 2 ;;
    --root) root="${2%/}"; system=0; shift 2 ;;
    --no-system) system=0; shift ;;
    --no-pip) pip=0; shift ;;
    --dry-run) dry=1; shift ;;
    -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
    *) echo "install-gateway.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done

prefix="$root/opt/thonminh"
etc="$root/etc/thonminh"
state="$root/var/lib/thonminh"
unit_dir="$root/etc/systemd/system"
journald_dir="$root/etc/systemd/journald.conf.d"
user=thonminh

run() {
  if [ "$dry" -eq 1 ]; then printf '+ %s\n' "$*"; else "$@"; fi
}

if [ "$system" -eq 1 ] && [ "$dry" -eq 0 ] && [ "$(id -u)" -ne 0 ]; then
  echo "install-gateway.sh: run as root (sudo), or use --root DIR / --no-system" >&2
  exit 1
fi

if [ "$system" -eq 1 ]; then
  run env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends python3-venv python3-pip
  if ! id -u "$user" >/dev/null 2>&1; then
    run useradd --system --user-group --home-dir /var/lib/thonminh --no-create-home --shell /usr/sbin/nologin "$user"
  fi
  # the modem's serial port; the unit also grants it, this makes `sudo -u thonminh thonminh edge ...` work
  run usermod --append --groups dialout "$user"
fi

run install -d -m 0755 "$prefix" "$prefix/share/doc" "$unit_dir" "$journald_dir"
run install -d -m 0750 "$etc" "$state"
if [ "$pip" -eq 1 ]; then
  [ -x "$prefix/venv/bin/python" ] || run python3 -m venv "$prefix/venv"
  run "$prefix/venv/bin/pip" install --quiet --upgrade pip
  run "$prefix/venv/bin/pip" install --quiet --upgrade "$package"
fi

# The config is the operator's: written once from the example, never overwritten by an upgrade.
if [ ! -e "$etc/gateway.toml" ]; then
  if [ "$dry" -eq 1 ]; then
    echo "+ write $etc/gateway.toml from edge/gateway.example.toml"
  else
    sed -e 's#^state_dir = .*#state_dir = "/var/lib/thonminh"       \# sources keep their state here#' \
        -e 's#^path = "var/buffer.sqlite"#path = "/var/lib/thonminh/buffer.sqlite"#' \
        "$repo/edge/gateway.example.toml" > "$etc/gateway.toml"
    chmod 0640 "$etc/gateway.toml"
  fi
fi
if [ ! -e "$etc/gateway.env" ]; then
  if [ "$dry" -eq 1 ]; then
    echo "+ write $etc/gateway.env"
  else
    cat > "$etc/gateway.env" <<'ENV'
# Secrets for the gateway (EnvironmentFile of thonminh-gateway.service), readable by root and thonminh only.
# THONMINH_INFLUXDB__PASSWORD=
# THONMINH_INFLUXDB__TOKEN=
# THONMINH_MQTT__PASSWORD=
ENV
    chmod 0640 "$etc/gateway.env"
  fi
fi

run install -m 0644 "$here/thonminh-gateway.service" "$unit_dir/thonminh-gateway.service"
run install -m 0644 "$here/journald-thonminh.conf" "$journald_dir/thonminh.conf"
run install -m 0644 "$repo/docs/deployment.md" "$prefix/share/doc/deployment.md"

if [ "$system" -eq 1 ]; then
  run chown -R root:"$user" "$etc"
  run chown -R "$user":"$user" "$state"
  run systemctl restart systemd-journald
  run systemctl daemon-reload
  run "$prefix/venv/bin/thonminh" edge check-config --config "$etc/gateway.toml"
  run systemctl enable thonminh-gateway.service
  run systemctl restart thonminh-gateway.service
  echo "thonminh-gateway installed: journalctl -u thonminh-gateway -f"
else
  echo "files installed under ${root:-/} (no apt, user or systemctl)"
fi
