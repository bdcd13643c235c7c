#!/bin/sh
# Make a private CA and the broker's TLS certificate for the cultural-house broker.
#
#   firmware_config/mosquitto/gen_certs.sh OUT_DIR [HOSTNAME_OR_IP ...]
#
# Writes OUT_DIR/ca.crt (give this one to the devices and the gateway), OUT_DIR/ca.key (keep it offline),
# OUT_DIR/server.crt and OUT_DIR/server.key (the broker's). The server certificate is valid for
# "mosquitto", "localhost", 127.0.0.1 and every name or IP address given (e.g. the broker's LAN address).
# EC P-256 keys: ESP32 (mbedTLS) and ESP8266 BearSSL builds both handle them. Valid for 10 years.
set -eu
out=${1:?usage: gen_certs.sh OUT_DIR [HOSTNAME_OR_IP ...]}
shift
mkdir -p "$out"
san="DNS:mosquitto,DNS:localhost,IP:127.0.0.1"
for name in "$@"; do
    case "$name" in
        *[!0-9.]*) san="$san,DNS:$name" ;;
        *) san="$san,IP:$name" ;;
    esac
done
umask 077
openssl ecparam -name prime256v1 -genkey -noout -out "$out/ca.key"
openssl req -new -x509 -key "$out/ca.key" -out "$out/ca.crt" -days 3650 -sha256 \
    -subj "/O=thonminh/CN=thonminh village broker CA" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign"
openssl ecparam -name prime256v1 -genkey -noout -out "$out/server.key"
openssl req -new -key "$out/server.key" -out "$out/server.csr" -subj "/O=thonminh/CN=mosquitto"
ext=$(mktemp)
printf 'subjectAltName=%s\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyAgreement\nextendedKeyUsage=serverAuth\n' \
    "$san" > "$ext"
openssl x509 -req -in "$out/server.csr" -CA "$out/ca.crt" -CAkey "$out/ca.key" -CAcreateserial \
    -out "$out/server.crt" -days 3650 -sha256 -extfile "$ext"
rm -f "$ext" "$out/server.csr" "$out/ca.srl"
chmod 644 "$out/ca.crt" "$out/server.crt"
chmod 600 "$out/ca.key" "$out/server.key"
echo "gen_certs: $out/ca.crt, $out/server.crt ($san)" >&2
