#!/usr/bin/env bash
# Install the Debian packages the project needs, when they are missing.
#   tools/system-deps.sh base    venv, compiler and libvirt headers (libvirt-python builds)
#   tools/system-deps.sh test    base + chromium (the report's browser test)
# Needs root (or sudo) to install; prints what is missing otherwise.
set -euo pipefail

want=(python3-venv python3-dev gcc pkg-config libvirt-dev libvirt0)
case "${1:-base}" in
  base) ;;
  test) want+=(chromium fonts-dejavu-core) ;;
  *) echo "usage: $0 [base|test]" >&2; exit 2 ;;
esac

missing=()
for pkg in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -eq 0 ]; then SUDO=""; elif command -v sudo >/dev/null; then SUDO="sudo"; else
  echo "missing Debian packages: ${missing[*]} (install them as root)" >&2; exit 1
fi
echo "installing Debian packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q >/dev/null
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
