#!/usr/bin/env bash
# The quick start: build, create a development PKI and the synthetic Leidschendam-Voorburg
# microdata, start enclaved, answer one query through enclavectl, stop the server.
#
#   deploy/demo.sh [TEMPLATE [--param name=value ...]]     (default: zzp_aantal_per_wijk)
#
# Everything it makes lives in ./run (override with ENCLAVE_DEMO_DIR); a second run reuses it.
# ENCLAVE_BIN_DIR=/usr/bin runs the installed programs (the enclave-server and enclavectl packages)
# instead of building; ENCLAVE_POLICIES_DIR picks the policies (default: this repository's
# policies/; the packaged copy is /usr/share/enclaved/policies).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
run="${ENCLAVE_DEMO_DIR:-$root/run}"
policies="${ENCLAVE_POLICIES_DIR:-$root/policies}"

if [ -n "${ENCLAVE_BIN_DIR:-}" ]; then
  echo "==> using the programs in $ENCLAVE_BIN_DIR"
  enclaved="$ENCLAVE_BIN_DIR/enclaved"
  enclavectl="$ENCLAVE_BIN_DIR/enclavectl"
  datagen="$ENCLAVE_BIN_DIR/enclave-datagen"
  steward="$ENCLAVE_BIN_DIR/enclave-steward"
else
  build="$root/build/release"
  echo "==> building (cmake --preset release, 2 jobs)"
  cmake --preset release >/dev/null
  cmake --build --preset release
  enclaved="$build/enclave/server/enclaved"
  enclavectl="$build/client/enclavectl"
  datagen="$build/enclave/datagen/enclave-datagen"
  steward="$build/enclave/steward/enclave-steward"
fi
for program in "$enclaved" "$enclavectl" "$datagen" "$steward"; do
  [ -x "$program" ] || { echo "demo.sh: $program is missing or not executable" >&2; exit 1; }
done

mkdir -p "$run/state" "$run/data"
chmod 700 "$run/state"  # enclaved refuses a state directory that group or others may use
if [ ! -f "$run/pki/ca.pem" ]; then
  echo "==> development PKI in $run/pki (CA, server and one certificate per principal)"
  "$root/deploy/dev-pki.sh" "$run/pki" >/dev/null
fi
if [ ! -f "$run/data/microdata.db" ]; then
  echo "==> synthetic microdata for Leidschendam-Voorburg (seed 42) in $run/data/microdata.db"
  # ENCLAVE_DEMO_PERSONS makes a smaller world (CI: deploy/package-test.sh); default ~100,000.
  "$datagen" --out "$run/data/microdata.db" --seed 42 --deliveries-out "$run/deliveries" \
    ${ENCLAVE_DEMO_PERSONS:+--persons "$ENCLAVE_DEMO_PERSONS"}
  echo "==> the municipal and CBS deliveries through enclave-steward: validate, pseudonymise, link,"
  echo "    load as one new dataset version (docs/data-steward.md)"
  deliveries=()
  for d in gbapersoontab bijstandpersoonbus srg_reintegratie gem_reintegratietraject jgdhulpbus; do
    deliveries+=(--description "$policies/deliveries/$d.textproto" --csv "$run/deliveries/$d.csv")
  done
  # The load is written to the server's query log; the server has not run yet, so make its
  # state directory (query log, signing key) first. enclaved's first start would do the same.
  [ -f "$run/state/audit_log.db" ] || "$steward" init --state-dir "$run/state" >/dev/null
  "$steward" load --db "$run/data/microdata.db" --state-dir "$run/state" \
    --key "$run/deliveries/pseudonym.key" "${deliveries[@]}"
fi
# Any steward command first rolls back a load that was interrupted; this lists the versions.
"$steward" versions --db "$run/data/microdata.db"

echo "==> four eyes: privacy officer officer1 approves every template (enclavectl template sign)"
[ -f "$run/pki/officer1.sign.key" ] || "$root/deploy/dev-pki.sh" "$run/pki" officer-key officer1 \
  "spiffe://udc-lv.local/privacy_officer/officer1" >/dev/null
"$enclavectl" template sign --key "$run/pki/officer1.sign.key" \
  --approvers "$run/pki/approvers.textproto" --out "$run/approvals" "$policies/templates" >/dev/null

cat > "$run/enclaved.textproto" <<CONF
# enclaved configuration written by deploy/demo.sh (all settings: deploy/enclaved.example.textproto)
listen_address: "127.0.0.1:7443"
database_path: "$run/data/microdata.db"
policies_dir: "$policies"
state_dir: "$run/state"
approvers_file: "$run/pki/approvers.textproto"
approvals_dir: "$run/approvals"
tls {
  client_ca_file: "$run/pki/ca.pem"
  server_cert_file: "$run/pki/server.pem"
  server_key_file: "$run/pki/server.key"
}
CONF
cat > "$run/enclavectl.conf" <<CONF
# enclavectl configuration written by deploy/demo.sh: the municipal analyst's certificate
target = 127.0.0.1:7443
ca = $run/pki/ca.pem
cert = $run/pki/analyst1.pem
key = $run/pki/analyst1.key
CONF

echo "==> starting enclaved on a free loopback port"
rm -f "$run/enclaved.port"
"$enclaved" --config "$run/enclaved.textproto" --listen 127.0.0.1:0 \
  --port-file "$run/enclaved.port" 2> "$run/enclaved.log" &
pid=$!
cleanup() {
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  fi
}
trap cleanup EXIT
for _ in $(seq 1 600); do
  [ -s "$run/enclaved.port" ] && break
  if ! kill -0 "$pid" 2>/dev/null; then
    echo "enclaved did not start:" >&2
    cat "$run/enclaved.log" >&2
    exit 1
  fi
  sleep 0.1
done
port="$(cat "$run/enclaved.port")"

template="${1:-zzp_aantal_per_wijk}"
[ $# -gt 0 ] && shift
echo "==> enclavectl run $template $* (as the municipal analyst, over mutual TLS)"
echo
"$enclavectl" --config "$run/enclavectl.conf" --target "127.0.0.1:$port" run "$template" "$@"
echo

echo "==> stopping enclaved (SIGTERM)"
kill -TERM "$pid"
status=0
wait "$pid" || status=$?
trap - EXIT
if [ "$status" -ne 0 ]; then
  echo "enclaved exited with status $status; see $run/enclaved.log" >&2
  exit "$status"
fi
cat <<EOF2
Stopped cleanly. To run it by hand:
  $enclaved --config $run/enclaved.textproto &
  $enclavectl --config $run/enclavectl.conf templates
  $enclavectl --config $run/enclavectl.conf describe bijstand_stand
  $enclavectl --config $run/enclavectl.conf run bijstand_stand --format csv
  kill %1      # SIGTERM: graceful shutdown
Other roles: use $run/pki/<name>.pem/.key with --cert/--key (researcher1: cell-key templates;
researcher2: the differentially private bijstand_dp_wijk_leeftijd; officer1, steward1, operator1).

The web page (tables, charts, the district map), with enclaved running as above:
  $enclavectl --config $run/enclavectl.conf serve
and open the URL it prints (open: http://127.0.0.1:PORT/?token=...) in a browser on this machine;
Ctrl-C stops it. The privacy officer's log view:
  $enclavectl --config $run/enclavectl.conf --cert $run/pki/officer1.pem --key $run/pki/officer1.key \\
    serve --log-key "\$(cat $run/state/log_verifier.key)"
EOF2
