#!/usr/bin/env bash
# Prepare this machine as a Hromada Lab host. Only a bootstrap: it gets ansible-core into
# .tools/ and runs playbooks/host.yml against localhost, which does the real work
# (packages, libvirt, service user, .venv, web assets, systemd units, firewall ruleset).
# Idempotent: a second run changes nothing.
#
#   scripts/setup-host.sh            for development and tests (`make setup`): also the
#                                    linters, the browser, vagrant and the [dev] extras
#   scripts/setup-host.sh --server   what the service needs, nothing more (`make demo`)
#
#   LAB_HOST_VARS  more extra variables for the playbook, as JSON, over the defaults
#                  {"lab_host_dev": true (false with --server),
#                   "ansible_python_interpreter": "/usr/bin/python3"}
#                  (Debian's Python: the apt module needs its python3-apt), and
#                  lab_host_home from LAB_HOME when that is set. They are kept
#                  in .tools/host-vars.json, so the test that runs the playbook a second
#                  time (tests/host/test_host_playbook.py) uses the same ones.
set -euo pipefail
cd "$(dirname "$0")/.."

DEV=true
case "${1:-}" in
  --server) DEV=false ;;
  "") ;;
  *) echo "setup: unknown option $1 (only --server)" >&2; exit 2 ;;
esac
TOOLS=.tools
ANSIBLE_CORE=ansible-core==2.19.14  # as in playbooks/host/lab_host/defaults/main.yml
PY=/usr/bin/python3

say() { printf 'setup: %s\n' "$*"; }

[ "$(id -u)" = 0 ] || { echo "setup: must run as root (sudo make setup)" >&2; exit 2; }

# python3-venv is all the bootstrap needs from Debian; the playbook installs the rest.
if ! dpkg-query -W -f='${db:Status-Status}' python3-venv 2>/dev/null | grep -qx installed; then
  say "installing python3-venv"
  apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q python3-venv
fi
if [ ! -x "$TOOLS/bin/python" ]; then
  say "creating $TOOLS (ansible-core for playbooks/host.yml)"
  "$PY" -m venv "$TOOLS"
fi
if ! "$TOOLS/bin/python" -m pip show -q ansible-core 2>/dev/null \
  || [ "$("$TOOLS/bin/python" -m pip show ansible-core | sed -n 's/^Version: //p')" != "${ANSIBLE_CORE#*==}" ]; then
  say "installing $ANSIBLE_CORE into $TOOLS"
  "$TOOLS/bin/pip" install -q --disable-pip-version-check "$ANSIBLE_CORE"
fi

LAB_HOST_DEV=$DEV LAB_HOST_VARS=${LAB_HOST_VARS:-"{}"} "$PY" -c '
import json, os, sys
wanted = {
    "lab_host_dev": os.environ["LAB_HOST_DEV"] == "true",
    "ansible_python_interpreter": sys.executable,
}
if os.environ.get("LAB_HOME"):  # the Makefile exports it: the same LAB_HOME everywhere
    wanted["lab_host_home"] = os.environ["LAB_HOME"]
wanted.update(json.loads(os.environ["LAB_HOST_VARS"]))
print(json.dumps(wanted))' >"$TOOLS/host-vars.json"
say "running playbooks/host.yml against localhost with $(cat "$TOOLS/host-vars.json")"
ANSIBLE_FORCE_COLOR=0 exec "$TOOLS/bin/ansible-playbook" -i localhost, -c local \
  -e "@$TOOLS/host-vars.json" playbooks/host.yml
