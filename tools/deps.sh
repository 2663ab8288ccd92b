#!/usr/bin/env bash
# Installs the Debian packages netward's build and tests need, only those
# missing. Idempotent: a second run installs nothing and exits 0.
set -euo pipefail

pkgs=(
	clang llvm make pkg-config gcc libclang-rt-dev valgrind
	libbpf-dev bpftool libelf-dev zlib1g-dev
	libsystemd-dev libcjson-dev libmnl-dev libcurl4-openssl-dev
	libcmocka-dev
	iproute2 procps python3 kmod jq util-linux
	dbus-daemon python3-dbus python3-gi iputils-ping
	debootstrap systemd-container
	strongswan-charon strongswan-swanctl libcharon-extra-plugins nftables
)

missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
		missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
	exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
	echo "deps: missing packages: ${missing[*]} (run as root to install them)" >&2
	exit 1
fi
echo "deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
