#!/usr/bin/env bash
# The usefulness walk (issue 10 §4) on a world at municipality scale: development PKI, synthetic
# microdata (enclave-datagen --seed 42, about 100,000 persons), every template signed by the
# privacy officer officer1, a fresh enclaved (empty release history and budgets) on a free
# loopback port; then tests/usefulness/usefulness_walk asks every offered table as analyst1
# (researcher-only templates as researcher1) and prints the report.
#
#   tests/usefulness/run.sh [WALK OPTIONS]        e.g. --verbose, --min-values-pct 95
#
# Environment: ENCLAVE_BUILD_DIR (default build/dev, configured with `cmake --preset dev` when
# missing), USEFULNESS_DIR (default $ENCLAVE_BUILD_DIR/usefulness: PKI, the database, state),
# USEFULNESS_POLICIES (default policies/ of this checkout: e.g. another branch's, to compare),
# USEFULNESS_NO_BUILD=1 (use the binaries as built: the CTest test integration/usefulness sets it).
# The database is generated once per enclave-datagen binary and reused (its name carries the
# binary's hash); the state directory is new on every run. Exit status: the walk's (0 aims met,
# 1 an aim missed, 2 usage or connection error).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
build="${ENCLAVE_BUILD_DIR:-$root/build/dev}"
work="${USEFULNESS_DIR:-$build/usefulness}"
policies="${USEFULNESS_POLICIES:-$root/policies}"

if [ "${USEFULNESS_NO_BUILD:-0}" != 1 ]; then
  if [ ! -f "$build/CMakeCache.txt" ]; then
    (cd "$root" && cmake --preset dev >/dev/null)
  fi
  echo "==> building enclaved, enclavectl, enclave-datagen, usefulness_walk in $build (2 jobs)"
  cmake --build "$build" -j2 --target enclaved enclavectl enclave-datagen usefulness_walk >/dev/null
fi
enclaved="$build/enclave/server/enclaved"
enclavectl="$build/client/enclavectl"
datagen="$build/enclave/datagen/enclave-datagen"
walk="$build/tests/usefulness/usefulness_walk"

mkdir -p "$work"
pki="$work/pki"
if [ ! -f "$pki/ca.pem" ]; then
  echo "==> development PKI in $pki"
  "$root/deploy/dev-pki.sh" "$pki" >/dev/null
fi
[ -f "$pki/officer1.sign.key" ] || "$root/deploy/dev-pki.sh" "$pki" officer-key officer1 \
  "spiffe://udc-lv.local/privacy_officer/officer1" >/dev/null

db="$work/lv-s42-$(sha256sum "$datagen" | cut -c1-12).db"
if [ ! -f "$db" ]; then
  rm -f "$work"/lv-s42-*.db
  echo "==> synthetic microdata, municipality scale, seed 42: $db"
  "$datagen" --out "$db.tmp" --seed 42 >/dev/null 2>"$work/datagen.log"
  mv "$db.tmp" "$db"
fi

echo "==> officer1 signs every template"
rm -rf "$work/approvals"
"$enclavectl" template sign --key "$pki/officer1.sign.key" --approvers "$pki/approvers.textproto" \
  --out "$work/approvals" "$policies/templates" >/dev/null

state="$work/state"
rm -rf "$state"
mkdir -p "$state"
rm -f "$work/enclaved.port"
"$enclaved" --database "$db" --policies "$policies" --state-dir "$state" \
  --client-ca "$pki/ca.pem" --cert "$pki/server.pem" --key "$pki/server.key" \
  --approvers "$pki/approvers.textproto" --approvals "$work/approvals" \
  --listen 127.0.0.1:0 --port-file "$work/enclaved.port" 2>"$work/enclaved.log" &
pid=$!
stop() {
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  fi
}
trap stop EXIT
for _ in $(seq 1 1200); do
  [ -s "$work/enclaved.port" ] && break
  if ! kill -0 "$pid" 2>/dev/null; then
    echo "enclaved did not start:" >&2
    cat "$work/enclaved.log" >&2
    exit 2
  fi
  sleep 0.1
done
[ -s "$work/enclaved.port" ] || { echo "enclaved did not report its port" >&2; exit 2; }
target="127.0.0.1:$(cat "$work/enclaved.port")"

echo "==> usefulness walk against $target"
status=0
"$walk" --target "$target" --ca "$pki/ca.pem" \
  --cert "$pki/analyst1.pem" --key "$pki/analyst1.key" \
  --researcher-cert "$pki/researcher1.pem" --researcher-key "$pki/researcher1.key" "$@" || status=$?
exit "$status"
