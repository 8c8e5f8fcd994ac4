#!/bin/sh
# Debian/Ubuntu packages the real backend (testbed.qemu) needs on the host, as root.
#   docker.io   the engine (testbed.qemu.engine starts dockerd when none answers)
#   mmdebstrap  builds the node image from Debian packages (no registry needed)
#   qemu-utils  qemu-img, for the guest's template disk
# The guest's kernel (linux-image-cloud-amd64) and busybox-static are fetched with
# `apt-get download` and unpacked with `dpkg -x`, not installed: apt-get update is enough.
# Building libvirt-python from PyPI also needs libvirt-dev, pkg-config and gcc
# (python3-dev when the interpreter is Debian's).
set -eu
apt-get update
DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
    docker.io mmdebstrap qemu-utils libvirt-dev pkg-config gcc "$@"
