#!/usr/bin/env bash
# The demo's web page and API: `lab serve` inside the lab namespace (where the guests are
# reachable), forwarded to the host's loopback, and a login for the web page.
#
#   scripts/demo-serve.sh NS [PORT]     start (or restart) both; prints the address and login
#   scripts/demo-serve.sh --stop NS     stop both
#
# On a Centre server none of this is needed: libvirtd and `lab serve` run under systemd in
# the host's own namespace (playbooks/host.yml). The forwarder is socat on 127.0.0.1 only,
# starting one `ip netns exec NS socat` per connection: loopback to loopback, nothing else.
set -euo pipefail
cd "$(dirname "$0")/.."

RUN=/run/hromada-lab
LAB=.venv/bin/lab
say() { printf 'demo: %s\n' "$*" >&2; }
die() { say "error: $1"; [ -n "${2:-}" ] && say "hint: $2"; exit 2; }

stop() {
  local ns=$1 f pid
  for f in "$RUN/serve-$ns.pid" "$RUN/forward-$ns.pid"; do
    [ -e "$f" ] || continue
    pid=$(cat "$f")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 30); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    rm -f "$f"
  done
}

if [ "${1:-}" = --stop ]; then stop "${2:?namespace}"; exit 0; fi
ns=${1:?namespace (as made by scripts/labns up)}
port=${2:-8080}
[ "$(id -u)" = 0 ] || die "must run as root" "run it with sudo"
[ -e "/run/hromada-labns/$ns/mnt" ] || die "no namespace $ns" "create it: scripts/labns up $ns"
command -v socat >/dev/null || die "socat is missing" "make setup"

stop "$ns"
mkdir -p "$RUN" /var/log/hromada-lab
scripts/labns exec "$ns" setsid "$LAB" serve --host 127.0.0.1 --port "$port" \
  </dev/null >>/var/log/hromada-lab/serve.log 2>&1 &
echo $! >"$RUN/serve-$ns.pid"
setsid socat "TCP-LISTEN:$port,bind=127.0.0.1,reuseaddr,fork" \
  "EXEC:ip netns exec $ns socat STDIO TCP\:127.0.0.1\:$port" </dev/null >/dev/null 2>&1 &
echo $! >"$RUN/forward-$ns.pid"

url="http://127.0.0.1:$port"
for _ in $(seq 1 100); do
  curl -fsS "$url/healthz" >/dev/null 2>&1 && break
  sleep 0.2
done
curl -fsS "$url/healthz" >/dev/null || die "the service did not answer on $url" \
  "look at /var/log/hromada-lab/serve.log"

# A login for the web page: user `engineer` (role engineer), its password kept 0600 in
# LAB_HOME so that a second `make demo` shows the same one.
home=${LAB_HOME:-/var/lib/hromada-lab}
login="$home/demo-login"
if ! "$LAB" user list 2>/dev/null | grep -qw engineer; then
  "$LAB" user add engineer --role engineer >/dev/null
fi
if [ ! -s "$login" ]; then
  (umask 077 && .venv/bin/python -c 'import secrets; print(secrets.token_urlsafe(12))' >"$login")
  "$LAB" user passwd engineer --password-stdin <"$login" >/dev/null
fi
say "web page and API: $url/  (OpenAPI: $url/openapi.json)"
say "log in as engineer; the password: cat $login"
say "stop them: scripts/demo-serve.sh --stop $ns"
