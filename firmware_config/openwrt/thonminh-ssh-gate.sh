#!/bin/sh
# Forced command for the gateway's SSH key on the AP (backend = "ubus_ssh"). In /etc/dropbear/authorized_keys:
#   command="/usr/libexec/thonminh-ssh-gate",no-port-forwarding,no-agent-forwarding,no-pty ssh-ed25519 AAAA... thonminh-gw
# Only the two commands the wifi source sends are let through; anything else is refused.
set -f
set -- $SSH_ORIGINAL_COMMAND
case "$1 $2 $3 $4" in
	"ubus -t "[0-9]*" call")
		case "$5 $6 $#" in
			"hostapd."*" get_clients 6") exec ubus -t "$3" call "$5" get_clients ;;
		esac ;;
	"cat /tmp/dhcp.leases  ")
		[ $# -eq 2 ] && exec cat /tmp/dhcp.leases ;;
esac
echo "thonminh-ssh-gate: refused" >&2
exit 126
