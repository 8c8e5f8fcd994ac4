#!/usr/bin/env bash
# Install the Debian packages the project needs, when they are missing.
#   tools/system-deps.sh base    venv, compiler and libvirt headers (libvirt-python builds)
#   tools/system-deps.sh qemu    base + the real backend: docker.io (the engine; started by
#                                testbed.qemu.engine when none answers), mmdebstrap (node
#                                image, no registry), qemu-utils (qemu-img, guest disk)
#   tools/system-deps.sh test    base + qemu + chromium (the report's browser test): what
#                                ./test.sh (every tox environment, qemu included) needs
# QEMU and libvirtd themselves run inside the node containers (their image is built from
# Debian's packages by mmdebstrap), so the host needs neither qemu-system-x86 nor
# libvirt-daemon. The guest's kernel and busybox are fetched with `apt-get download`.
# Needs root (or sudo) to install; prints what is missing otherwise.
set -euo pipefail

want=(python3-venv python3-dev gcc pkg-config libvirt-dev libvirt0)
qemu=(docker.io mmdebstrap qemu-utils ca-certificates)
case "${1:-base}" in
  base) ;;
  qemu) want+=("${qemu[@]}") ;;
  test) want+=("${qemu[@]}" chromium fonts-dejavu-core) ;;
  *) echo "usage: $0 [base|qemu|test]" >&2; exit 2 ;;
esac

missing=()
for pkg in "${want[@]}"; do
  # a Docker engine installed another way (docker-ce, a static dockerd) is as good
  if [ "$pkg" = docker.io ] && command -v dockerd >/dev/null 2>&1; then continue; fi
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
# the guest image's kernel and busybox come from `apt-get download`: it needs package lists
need_lists=0
if [ "${1:-base}" != base ] && ! compgen -G "/var/lib/apt/lists/*_Packages*" >/dev/null; then
  need_lists=1
fi
[ ${#missing[@]} -eq 0 ] && [ "$need_lists" -eq 0 ] && exit 0

if [ "$(id -u)" -eq 0 ]; then SUDO=""; elif command -v sudo >/dev/null; then SUDO="sudo"; else
  echo "missing Debian packages: ${missing[*]} (install them as root)" >&2; exit 1
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q >/dev/null
[ ${#missing[@]} -eq 0 ] && exit 0
echo "installing Debian packages: ${missing[*]}"
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
