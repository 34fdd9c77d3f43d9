#!/usr/bin/env bash
# Check the main job from the outside, as a user would (CI runs it after `make demo` and
# after `make demo-down`).
#
#   scripts/demo-check.sh [PORT]         the web page answers, a login works, the lab
#                                        `demo` is running with its verification passed,
#                                        and its guests are isolated (lab host check in
#                                        the namespace NS, default hromada)
#   scripts/demo-check.sh --gone [NS]    nothing of the demo is left: no namespace, no
#                                        libvirtd or service in it, no lab `demo` recorded,
#                                        no libvirt object of it in the host's libvirt config
set -euo pipefail
cd "$(dirname "$0")/.."

HOME_DIR=${LAB_HOME:-/var/lib/hromada-lab}
NS=${NS:-hromada}
say() { printf 'demo-check: %s\n' "$*" >&2; }
fail() { say "FAILED: $*"; exit 1; }

gone() {
  # Only what belongs to the demo: other namespaces (a test run's) may be busy meanwhile.
  local ns=${1:-hromada} left="" f
  ip netns list | grep -qw "^$ns" && left="$left namespace $ns;"
  [ -e "/run/hromada-labns/$ns" ] && left="$left /run/hromada-labns/$ns (its libvirtd's state);"
  for f in /run/hromada-lab/serve-"$ns".pid /run/hromada-lab/forward-"$ns".pid; do
    [ -e "$f" ] && left="$left $f;"
  done
  for pid in $(pgrep -x libvirtd || true); do
    [ -z "$(ip netns identify "$pid" 2>/dev/null)" ] && left="$left a libvirtd outside any namespace;"
  done
  pgrep -f "TCP-LISTEN:${PORT:-8080},bind=127.0.0.1" >/dev/null && left="$left the socat forward;"
  ls /etc/libvirt/qemu/hl-demo.* /etc/libvirt/qemu/networks/hl-demo.* >/dev/null 2>&1 &&
    left="$left libvirt definitions of hl-demo.*;"
  [ -d "$HOME_DIR/labs/demo" ] && left="$left $HOME_DIR/labs/demo;"
  if LAB_HOME=$HOME_DIR .venv/bin/lab list 2>/dev/null | grep -qw demo; then
    left="$left the lab record of demo;"
  fi
  [ -z "$left" ] || fail "left after make demo-down:$left"
  say "ok: nothing of the demo is left"
}

up() {
  local port=${1:-8080} url token labs tests
  url="http://127.0.0.1:$port"
  curl -fsS "$url/healthz" >/dev/null || fail "$url/healthz does not answer"
  curl -fsS "$url/" | grep -qi "<html" || fail "$url/ is not the web page"
  [ -s "$HOME_DIR/demo-login" ] || fail "no demo login in $HOME_DIR/demo-login"
  token=$(python3 -c 'import json, sys
print(json.dumps({"name": "engineer", "password": open(sys.argv[1]).read().strip()}))' \
    "$HOME_DIR/demo-login" |
    curl -fsS -H 'Content-Type: application/json' --data-binary @- "$url/api/v1/login" |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["token"])') ||
    fail "logging in as engineer did not work"
  labs=$(curl -fsS -H "Authorization: Bearer $token" "$url/api/v1/labs/demo") ||
    fail "the API does not know the lab demo"
  printf '%s' "$labs" | python3 -c 'import json, sys
lab = json.load(sys.stdin)
assert lab["status"] == "running", lab["status"]
print("demo-check: lab demo:", lab["status"], ", ".join(m["name"] for m in lab["machines"]), file=sys.stderr)' ||
    fail "the lab demo is not running"
  tests=$(curl -fsS -H "Authorization: Bearer $token" "$url/api/v1/labs/demo/tests/latest") ||
    fail "the lab demo has no verification"
  printf '%s' "$tests" | python3 -c 'import json, sys
v = json.load(sys.stdin)
bad = [r for r in v["results"] if r["outcome"] in ("failed", "error")]
assert v["passed"] and v["results"] and not bad, bad or v
n = len(v["results"])
print(f"demo-check: lab demo verified: {n} tests passed", file=sys.stderr)' ||
    fail "the lab demo is not verified"
  # Its guests isolated as set up (the guest firewall, both machines' NIC filter rules,
  # its networks' routing rules), as `lab host check` reads them in the demo's namespace.
  isolation=$(scripts/labns exec "$NS" env COLUMNS=200 .venv/bin/lab host check 2>&1) ||
    fail "lab host check found a problem:
$isolation"
  for row in "guest firewall .* loaded" "NIC filters of lab machines +2 filtered" \
    "lab networks routed nowhere +2 isolated"; do
    printf '%s\n' "$isolation" | grep -Eq "$row" || fail "lab host check does not say: $row"
  done
  say "ok: the web page answers, the sample lab is verified and its guests are isolated"
}

if [ "${1:-}" = --gone ]; then gone "${2:-}"; else up "${1:-}"; fi
