#!/bin/sh
# install.sh: install a stagelink agent on this machine (a Raspberry Pi, or any systemd Linux) as a
# service. It downloads nothing: bring the binary (cross-built, see README "On a Raspberry Pi").
#
#   sudo ./install.sh bridge ./bridge-armv7 ./bridge.yaml
#   sudo ./install.sh printer ./printer-arm64
#
# It puts the binary at /usr/local/bin/stagelink-KIND (0755), the bridge's config at
# /etc/stagelink/bridge.yaml (0640; an existing one is kept unless --force), creates
# /etc/stagelink/KIND.env (0600) with placeholders if there is none, installs the unit
# stagelink-KIND.service (from deploy/systemd/, or next to this script), then runs
# `systemctl daemon-reload` and `systemctl enable --now stagelink-KIND`.
#
# Options: --force       replace an existing config (never the env file: it holds the secrets)
#          --no-start    install the files only, no systemctl
#          --root DIR    install below DIR instead of / (default $DESTDIR), for packaging and tests:
#                        the unit is enabled there offline (systemctl --root), nothing is started
# SYSTEMCTL names the systemctl to run (default systemctl). Checked by `go test ./deploy` (TestInstallScript).
set -eu

usage() {
	echo "usage: $0 [--force] [--no-start] [--root DIR] bridge|printer BINARY [CONFIG]" >&2
	exit 2
}
die() {
	echo "install.sh: $*" >&2
	exit 1
}

force=no
start=yes
root=${DESTDIR:-}
while [ $# -gt 0 ]; do
	case $1 in
	--force) force=yes ;;
	--no-start) start=no ;;
	--root)
		[ $# -ge 2 ] || usage
		root=$2
		shift
		;;
	--root=*) root=${1#--root=} ;;
	-h | --help) usage ;;
	-*) die "unknown option $1" ;;
	*) break ;;
	esac
	shift
done
if [ $# -lt 2 ] || [ $# -gt 3 ]; then usage; fi
kind=$1
binary=$2
config=${3:-}
case $kind in
bridge | printer) ;;
*) die "unknown agent '$kind': want bridge or printer" ;;
esac
[ -f "$binary" ] || die "no binary at $binary"
[ -z "$config" ] || [ -f "$config" ] || die "no config at $config"
[ "$kind" = bridge ] || [ -z "$config" ] || die "the printer agent has no config file: put its settings in /etc/stagelink/printer.env"
root=${root%/}
if [ -z "$root" ] && [ "$(id -u)" -ne 0 ]; then
	die "run it as root (sudo $0 …), or give --root DIR"
fi

here=$(cd "$(dirname "$0")" && pwd)
unit=stagelink-$kind.service
if [ -f "$here/$unit" ]; then
	unitsrc=$here/$unit
elif [ -f "$here/../systemd/$unit" ]; then
	unitsrc=$here/../systemd/$unit
else
	die "no $unit next to $0 or in ../systemd/"
fi

etc=$root/etc/stagelink
mkdir -p "$root/usr/local/bin" "$etc" "$root/etc/systemd/system"

# put SRC DST MODE: copy next to DST, then rename, so a running binary is replaced, not overwritten. The
# copy is made unreadable to others first, so a config never lies about with looser rights.
put() {
	(umask 077 && cp "$1" "$2.new")
	chmod "$3" "$2.new"
	mv -f "$2.new" "$2"
}

put "$binary" "$root/usr/local/bin/stagelink-$kind" 0755
echo "installed $root/usr/local/bin/stagelink-$kind"

if [ "$kind" = bridge ]; then
	if [ -n "$config" ] && { [ ! -e "$etc/bridge.yaml" ] || [ "$force" = yes ]; }; then
		put "$config" "$etc/bridge.yaml" 0640
		echo "installed $etc/bridge.yaml"
	elif [ -e "$etc/bridge.yaml" ]; then
		echo "kept $etc/bridge.yaml (--force replaces it)"
	else
		die "no config: give one (an example: deploy/bridge.example.yaml)"
	fi
fi

env=$etc/$kind.env
if [ ! -e "$env" ]; then
	(
		umask 077
		if [ "$kind" = bridge ]; then
			printf '%s\n' '# The token the hub gave this bridge (dashboard → Tokens, or the hub'"'"'s -bridge-token).' \
				'STAGELINK_BRIDGE_TOKEN=change-me' >"$env"
		else
			printf '%s\n' '# The broker and the serial port of the printer.' \
				'STAGELINK_PRINTER_AMQP=amqp://stagelink:change-me@broker.example.com:5672/' \
				'STAGELINK_PRINTER_SERIAL=/dev/ttyUSB0' >"$env"
		fi
	)
	chmod 0600 "$env"
	echo "created $env: put the real values in it"
fi
if grep -q 'change-me' "$env"; then
	echo "warning: $env still holds placeholders; edit it, then: systemctl restart stagelink-$kind" >&2
fi

put "$unitsrc" "$root/etc/systemd/system/$unit" 0644
echo "installed $root/etc/systemd/system/$unit"

systemctl=${SYSTEMCTL:-systemctl}
if [ "$start" = no ]; then
	:
elif [ -n "$root" ]; then
	# Below another root: enable the unit there, offline; never touch this machine's systemd.
	$systemctl --root="$root" enable "stagelink-$kind"
	echo "enabled stagelink-$kind below $root: it starts when that system boots"
else
	$systemctl daemon-reload
	$systemctl enable --now "stagelink-$kind"
	echo "started stagelink-$kind: journalctl -u stagelink-$kind -f"
fi
