#!/usr/bin/env bash
# Vendor the web page's front-end libraries into api/web/vendor/ (gitignored), so that
# browsers load them from the lab's own server and never from the internet.
#   - @xterm/xterm and @xterm/addon-fit: the serial console (text login)
#   - @novnc/novnc: the graphical console (VNC)
# Pinned versions, each tarball checked against the sha512 `dist.integrity` the npm
# registry publishes for it (pinned here too: a changed tarball is refused, not used).
# Idempotent: a no-op when the pinned set is in place already. Called by setup-host.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

REGISTRY=${NPM_REGISTRY:-https://registry.npmjs.org}
DEST=api/web/vendor
# name version integrity (from `npm view NAME@VERSION dist.integrity`)
PINS=(
  "@xterm/xterm 6.0.0 sha512-TQwDdQGtwwDt+2cgKDLn0IRaSxYu1tSUjgKarSDkUM0ZNiSRXFpjxEsvc/Zgc5kq5omJ+V0a8/kIM2WD3sMOYg=="
  "@xterm/addon-fit 0.11.0 sha512-jYcgT6xtVYhnhgxh3QgYDnnNMYTcf8ElbxxFzX0IZo+vabQqSPAjC3c1wJrKB5E19VwQei89QCiZZP86DCPF7g=="
  "@novnc/novnc 1.7.0 sha512-ucEJOx4T2avIRCleodk7YobZj5O2Ga2AeLfQ69A/yjG9HHba2+PDgwSkN3FttrmG+70ZGx21sElNFouK13RzyA=="
)

say() { printf 'vendor-web: %s\n' "$*"; }
die() { printf 'vendor-web: error: %s\n' "$1" >&2; [ -n "${2:-}" ] && printf 'vendor-web: hint: %s\n' "$2" >&2; exit 2; }

stamp_text=$(printf '%s\n' "${PINS[@]}")
if [ -f "$DEST/.pins" ] && [ "$(cat "$DEST/.pins")" = "$stamp_text" ]; then
  say "front-end libraries: up to date"
  exit 0
fi

command -v curl >/dev/null || die "curl is missing" "apt-get install curl (setup-host.sh does)"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# sha512 of a file in npm's integrity notation: "sha512-" + base64 of the digest.
integrity() {
  python3 -c 'import base64, hashlib, sys
print("sha512-" + base64.b64encode(hashlib.sha512(open(sys.argv[1], "rb").read()).digest()).decode())' "$1"
}

fetch() {  # fetch NAME VERSION INTEGRITY -> unpacked into $work/NAME/package
  local name=$1 version=$2 want=$3 base file got
  base=${name#*/}
  file="$work/$base-$version.tgz"
  say "downloading $name@$version"
  curl -fsSL --retry 3 -o "$file" "$REGISTRY/$name/-/$base-$version.tgz" \
    || die "cannot download $name@$version from $REGISTRY" "is the npm registry reachable? NPM_REGISTRY names another"
  got=$(integrity "$file")
  [ "$got" = "$want" ] || die "$name@$version does not match its pinned integrity (got $got)" \
    "the registry served another file than the one pinned in $0; do not use it"
  mkdir -p "$work/$name"
  tar -xzf "$file" -C "$work/$name"
}

for pin in "${PINS[@]}"; do
  # shellcheck disable=SC2086
  fetch $pin
done

new="$work/vendor"
mkdir -p "$new/xterm" "$new/novnc"
x="$work/@xterm/xterm/package"
f="$work/@xterm/addon-fit/package"
n="$work/@novnc/novnc/package"
cp "$x/lib/xterm.mjs" "$x/css/xterm.css" "$new/xterm/"
cp "$x/LICENSE" "$new/xterm/LICENSE"
cp "$f/lib/addon-fit.mjs" "$new/xterm/"
cp "$f/LICENSE" "$new/xterm/LICENSE.addon-fit"
# noVNC is plain ES modules: core/ imports vendor/pako/ by relative path.
cp -r "$n/core" "$n/vendor" "$new/novnc/"
cp "$n/LICENSE.txt" "$n"/docs/LICENSE.* "$new/novnc/"
printf '%s\n' "$stamp_text" >"$new/.pins"

mkdir -p "$(dirname "$DEST")"
rm -rf "$DEST.old"
[ -d "$DEST" ] && mv "$DEST" "$DEST.old"
mv "$new" "$DEST"
rm -rf "$DEST.old"
chmod -R a+rX "$DEST"
say "front-end libraries in $DEST"
