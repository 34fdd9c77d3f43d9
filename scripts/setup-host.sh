#!/usr/bin/env bash
# Prepare a Debian 12 host for Hromada Lab. Idempotent: a second run changes nothing.
#   - Debian packages (QEMU, libvirt, image build tools)
#   - libvirt configuration (no NAT'd default network; /dev/kvm for the libvirt-qemu user)
#   - the project's Python virtual environment in .venv with the `lab` command
#   - the web page's front-end libraries, vendored from the npm registry (vendor-web.sh)
#   - daemons: enabled through systemd where it runs; otherwise they are started
#     per session inside a lab network namespace by scripts/labns.
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(
  qemu-system-x86 qemu-utils libvirt-daemon-system libvirt-clients libvirt-dev pkg-config
  genisoimage mmdebstrap dnsmasq-base iproute2 iptables nftables e2fsprogs tini
  python3 python3-venv python3-dev gcc make git
  curl socat ca-certificates fonts-dejavu-core chromium
)

say() { printf 'setup: %s\n' "$*"; }

[ "$(id -u)" = 0 ] || { echo "setup: must run as root (sudo make setup)" >&2; exit 2; }

missing=()
for pkg in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ "${#missing[@]}" -gt 0 ]; then
  say "installing ${missing[*]}"
  apt-get update -q
  # libvirt-daemon-system asks about an existing qemu.conf; take the packaged one.
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
    -o Dpkg::Options::=--force-confnew "${missing[@]}"
else
  say "Debian packages: all present"
fi

# libvirt ships a 'default' network with NAT; lab networks are isolated, so never autostart it.
rm -f /etc/libvirt/qemu/networks/autostart/default.xml

if [ -e /dev/kvm ] && getent group kvm >/dev/null; then
  chgrp kvm /dev/kvm && chmod 660 /dev/kvm
fi

if [ -d /run/systemd/system ]; then
  systemctl enable --now virtlogd.socket libvirtd.service >/dev/null
  say "libvirtd enabled under systemd"
else
  say "no systemd: libvirtd runs inside a lab namespace (scripts/labns up NAME)"
fi

PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  say "creating .venv"
  "$PY" -m venv .venv
fi
stamp=.venv/.installed-$(sha256sum pyproject.toml | cut -c1-16)
if [ ! -e "$stamp" ]; then
  say "installing Python dependencies into .venv"
  .venv/bin/pip install -q --disable-pip-version-check -U pip
  .venv/bin/pip install -q --disable-pip-version-check -e '.[dev]'
  rm -f .venv/.installed-* && touch "$stamp"
else
  say "Python dependencies: up to date"
fi
# The web page's libraries (xterm.js, noVNC), pinned and checked, into api/web/vendor/.
bash scripts/vendor-web.sh
say "done; try: .venv/bin/lab host check"
