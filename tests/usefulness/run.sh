#!/usr/bin/env bash
# The usefulness walk (issue 10 §4) on a world at municipality scale: development PKI, synthetic
# microdata (enclave-datagen --seed 42, about 100,000 persons), every template signed by the
# privacy officer officer1, a fresh enclaved (empty release history and budgets) on a free
# loopback port; then tests/usefulness/usefulness_walk asks every offered table as analyst1
# (templates only a researcher may run as researcher1 or researcher2: the DP template is
# researcher2's) and prints the report.
#
#   tests/usefulness/run.sh [--isolated] [WALK OPTIONS]   e.g. --verbose, --min-values-pct 95
#   tests/usefulness/run.sh --data-only   only make (or reuse) the database and print its path
#                                         (CTest fixture integration/municipality-data)
#
# Sequential (the default): the whole walk on one enclave with its release history on, so the
# cross-query protection (differencing guard, decomposition quota, privacy budgets) refuses what
# earlier tables of the walk make unsafe. Exit status: the walk's (0 aims met, 1 an aim missed,
# 2 usage or connection error).
# --isolated (or USEFULNESS_ISOLATED=1): the sequential walk first, then each table again as the
# first question on a fresh enclave (new state directory, empty release history and budgets):
# every 3-D table, and the parameter values the sequential walk did not release
# (USEFULNESS_ISOLATE_VALUES=all: every distinct parameter value, about 10 minutes more). The
# report shows both per template; the exit status checks the aims on the isolated outcomes.
#
# Environment: ENCLAVE_BUILD_DIR (default build/dev, configured with `cmake --preset dev` when
# missing), USEFULNESS_DIR (default $ENCLAVE_BUILD_DIR/usefulness: PKI, the database, state),
# USEFULNESS_POLICIES (default policies/ of this checkout: e.g. another branch's, to compare),
# USEFULNESS_NO_BUILD=1 (use the binaries as built: the CTest test integration/usefulness sets it).
# The database is generated once per enclave-datagen binary and reused (its name carries the
# binary's hash); state directories are new on every run. Every enclave of a run gets the same
# fixed development record key (USEFULNESS_DIR/record_key.secret, derived from a constant), so the
# cell-key noise, and the numbers, are the same on every run and on every isolated enclave.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
build="${ENCLAVE_BUILD_DIR:-$root/build/dev}"
work="${USEFULNESS_DIR:-$build/usefulness}"
policies="${USEFULNESS_POLICIES:-$root/policies}"
isolated="${USEFULNESS_ISOLATED:-0}"
isolate_values="${USEFULNESS_ISOLATE_VALUES:-refused}"
walk_args=()
data_only=0
for a in "$@"; do
  if [ "$a" = --isolated ]; then isolated=1
  elif [ "$a" = --data-only ]; then data_only=1
  else walk_args+=("$a"); fi
done
case "$isolate_values" in
  refused|all) ;;
  *) echo "USEFULNESS_ISOLATE_VALUES='$isolate_values': allowed: refused, all" >&2; exit 2 ;;
esac

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
# A PKI from an earlier run is reused while its client certificates (30 days) stay valid.
if [ -f "$pki/ca.pem" ] && ! openssl x509 -checkend 3600 -noout -in "$pki/analyst1.pem" >/dev/null 2>&1; then
  echo "==> the development PKI in $pki has expired: making a new one"
  rm -rf "$pki"
fi
if [ ! -f "$pki/ca.pem" ]; then
  echo "==> development PKI in $pki"
  "$root/deploy/dev-pki.sh" "$pki" >/dev/null
fi
[ -f "$pki/researcher2.pem" ] || "$root/deploy/dev-pki.sh" "$pki" client researcher2 \
  "spiffe://udc-lv.local/researcher/researcher2" >/dev/null
[ -f "$pki/officer1.sign.key" ] || "$root/deploy/dev-pki.sh" "$pki" officer-key officer1 \
  "spiffe://udc-lv.local/privacy_officer/officer1" >/dev/null

db="$work/lv-s42-$(sha256sum "$datagen" | cut -c1-12).db"
if [ ! -f "$db" ]; then
  rm -f "$work"/lv-s42-*.db
  echo "==> synthetic microdata, municipality scale, seed 42: $db"
  "$datagen" --out "$db.tmp" --seed 42 >/dev/null 2>"$work/datagen.log"
  mv "$db.tmp" "$db"
fi
if [ "$data_only" = 1 ]; then
  echo "$db"
  exit 0
fi

echo "==> officer1 signs every template"
rm -rf "$work/approvals"
"$enclavectl" template sign --key "$pki/officer1.sign.key" --approvers "$pki/approvers.textproto" \
  --out "$work/approvals" "$policies/templates" >/dev/null

# Development only: a fixed record key (the cell keys' secret), so that runs are comparable.
key="$work/record_key.secret"
if [ ! -f "$key" ]; then
  (umask 077 && printf 'usefulness walk, seed 42' | openssl dgst -sha256 -binary >"$key.tmp")
  mv "$key.tmp" "$key"
fi

pid=""
stop_server() {
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  fi
  pid=""
}
trap stop_server EXIT
# start_server STATE_DIR LOG: a fresh enclaved (new state directory) on a free port; sets $target.
start_server() {
  local state="$1" log="$2"
  rm -rf "$state"
  mkdir -p "$state"
  chmod 700 "$state"  # enclaved refuses a wider state directory
  install -m 600 "$key" "$state/record_key.secret"
  rm -f "$work/enclaved.port"
  "$enclaved" --database "$db" --policies "$policies" --state-dir "$state" \
    --client-ca "$pki/ca.pem" --cert "$pki/server.pem" --key "$pki/server.key" \
    --approvers "$pki/approvers.textproto" --approvals "$work/approvals" \
    --listen 127.0.0.1:0 --port-file "$work/enclaved.port" 2>"$log" &
  pid=$!
  for _ in $(seq 1 1200); do
    [ -s "$work/enclaved.port" ] && break
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "enclaved did not start:" >&2
      cat "$log" >&2
      exit 2
    fi
    sleep 0.05
  done
  [ -s "$work/enclaved.port" ] || { echo "enclaved did not report its port" >&2; exit 2; }
  target="127.0.0.1:$(cat "$work/enclaved.port")"
}
identity=(--ca "$pki/ca.pem" --cert "$pki/analyst1.pem" --key "$pki/analyst1.key"
  --researcher-cert "$pki/researcher1.pem" --researcher-key "$pki/researcher1.key"
  --researcher-cert "$pki/researcher2.pem" --researcher-key "$pki/researcher2.key")

start_server "$work/state" "$work/enclaved.log"
echo "==> usefulness walk against $target (sequential: one enclave, release history on)"
seq_records="$work/sequential.tsv"
rm -f "$seq_records"
status=0
"$walk" --target "$target" "${identity[@]}" --record "$seq_records" \
  ${walk_args[@]+"${walk_args[@]}"} || status=$?
stop_server
if [ "$isolated" != 1 ] || [ "$status" = 2 ]; then
  exit "$status"
fi

# Isolated: the distinct tables to re-ask (plan numbers), each on a fresh enclave.
iso_records="$work/isolated.tsv"
rm -f "$iso_records"
mapfile -t tables < <(awk -F'\t' -v all="$isolate_values" '
  ($2 == "3d" || all == "all" || $7 != "released") && !seen[$3 " " $6]++ { print $1 }' \
  "$seq_records")
echo
echo "==> isolated: ${#tables[@]} tables (every 3-D table, $([ "$isolate_values" = all ] \
  && echo "every parameter value" || echo "the parameter values the sequential walk did not release")),\
 each the first question on a fresh enclave"
started=$SECONDS
n=0
for t in "${tables[@]}"; do
  n=$((n + 1))
  start_server "$work/isolated-state" "$work/enclaved-isolated.log"
  printf '  [%d/%d] ' "$n" "${#tables[@]}"
  rc=0
  "$walk" --target "$target" "${identity[@]}" ${walk_args[@]+"${walk_args[@]}"} \
    --tables "$t" --record "$iso_records" --quiet || rc=$?
  stop_server
  [ "$rc" != 2 ] || exit 2
done
echo "    (${#tables[@]} fresh enclaves in $((SECONDS - started)) s)"
echo
echo "==> sequential and isolated"
status=0
"$walk" --report "$seq_records" --isolated "$iso_records" ${walk_args[@]+"${walk_args[@]}"} \
  || status=$?
exit "$status"
