#!/usr/bin/env bash
# Makes sure the real services the tests and the demo use exist: mosquitto and influxd (InfluxDB 1.x).
set -euo pipefail
missing=()
command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ] || missing+=(mosquitto)
command -v mosquitto_sub >/dev/null 2>&1 || missing+=(mosquitto-clients)
command -v influxd >/dev/null 2>&1 || missing+=(influxdb)
# the uplink tests build network namespaces (ip) and a TLS target (openssl)
command -v ip >/dev/null 2>&1 || [ -x /usr/sbin/ip ] || missing+=(iproute2)
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
# the page tests run Debian's headless chromium; DejaVu Sans (below) carries every Vietnamese glyph
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
# the monthly dossier embeds DejaVu Sans (every Vietnamese glyph); its tests read the PDF with poppler
[ -f /usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf ] || missing+=(fonts-dejavu-core)
command -v pdftotext >/dev/null 2>&1 && command -v pdftoppm >/dev/null 2>&1 || missing+=(poppler-utils)
# the alert message tests render Grafana's notification templates with Go's text/template
command -v go >/dev/null 2>&1 || missing+=(golang-go)
[ ${#missing[@]} -eq 0 ] && exit 0
cmd="apt-get install -y --no-install-recommends ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then
  echo "missing: ${missing[*]}. Run as root:  apt-get update && $cmd" >&2
  exit 1
fi
echo "installing ${missing[*]} from Debian packages" >&2
export DEBIAN_FRONTEND=noninteractive
# The packaged services must not start on their own ports: tests start their own instances.
policy=/usr/sbin/policy-rc.d
created_policy=0
if [ ! -e "$policy" ]; then printf '#!/bin/sh\nexit 101\n' >"$policy"; chmod +x "$policy"; created_policy=1; fi
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
[ "$created_policy" -eq 1 ] && rm -f "$policy"
exit 0
