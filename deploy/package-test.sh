#!/usr/bin/env bash
# Builds the Debian packages, installs them on this machine with apt, follows the operator guide's
# steps (docs/operator.md) on the installed files, runs the demo against the installed programs,
# then removes and purges the packages and checks what must survive. Run as root on a CI or
# throwaway machine: it installs, and at the end deletes, /etc/enclaved, /var/lib/enclaved and
# /srv/enclave (it refuses to start when any of them exists).
#
#   deploy/package-test.sh [BUILD_DIR]     (default build/release, configured and built if needed;
#                                           CI passes build/ci, already built by the test workflow)
#
# There is no systemd as PID 1 here (a container), so the unit is checked statically:
# `systemd-analyze verify` and `systemd-analyze security --offline=true --threshold=15` (tenths:
# at most 1.5) on the installed unit. What systemd would do at start is done by hand: the
# log-signing key is decrypted from its credential with systemd-creds into a directory passed as
# $CREDENTIALS_DIRECTORY, and enclaved runs as the enclaved user. Readiness and the watchdog
# (Type=notify) are tested by tests/integration/systemd_notify_test.cc.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
build="${1:-$root/build/release}"

step() { echo "==> $*"; }
fail() { echo "package-test.sh: FAILED: $*" >&2; exit 1; }
expect_mode() {  # PATH MODE OWNER GROUP
  local got
  got="$(stat -c '%a %U %G' "$1")" || fail "$1 does not exist"
  [ "$got" = "$2 $3 $4" ] || fail "$1 is '$got', expected '$2 $3 $4'"
}

[ "$(id -u)" -eq 0 ] || { echo "package-test.sh: run as root (apt install, users)" >&2; exit 2; }
for d in /etc/enclaved /var/lib/enclaved /srv/enclave; do
  [ ! -e "$d" ] || { echo "package-test.sh: $d exists: this machine has an enclave installation;" \
    "run the test on a CI or throwaway machine (it deletes $d at the end)" >&2; exit 2; }
done
dpkg-query -W enclave-server >/dev/null 2>&1 && fail "enclave-server is already installed"
created_user=1
getent passwd enclaved >/dev/null && created_user=0

work="$(mktemp -d /tmp/enclave-package-test.XXXXXX)"
chmod 0755 "$work"  # the enclaved user reads the PKI and the demo files below it
server_pid=""
cleanup() {
  [ -n "$server_pid" ] && kill -TERM "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

# --- packages ------------------------------------------------------------------------------------
if [ ! -f "$build/CMakeCache.txt" ]; then
  step "configuring and building the release build (cmake --preset release, 2 jobs)"
  cmake --preset release >/dev/null
  cmake --build --preset release
  build="$root/build/release"
fi
step "building the packaged programs in $build (a no-op when they are up to date)"
cmake --build "$build" --target enclaved enclave-steward enclave-datagen enclavectl >/dev/null
step "cpack -G DEB in $build"
(cd "$build" && cpack -G DEB -B "$work/packages" >"$work/cpack.log") ||
  { cat "$work/cpack.log" >&2; fail "cpack"; }
server_deb="$(ls "$work"/packages/enclave-server_*.deb)"
client_deb="$(ls "$work"/packages/enclavectl_*.deb)"
for deb in "$server_deb" "$client_deb"; do
  echo "    $(basename "$deb"): $(dpkg-deb -f "$deb" Depends)"
  dpkg-deb -f "$deb" Depends | grep -q 'libc6' || fail "$deb: Depends lacks the shared libraries"
done
dpkg-deb -f "$server_deb" Depends | grep -q 'libgrpc++' || fail "enclave-server must depend on libgrpc++"
dpkg-deb -f "$server_deb" Depends | grep -q 'adduser' || fail "enclave-server must depend on adduser"

step "apt install ./enclave-server_*.deb ./enclavectl_*.deb"
export DEBIAN_FRONTEND=noninteractive
apt-get install -y -q "$server_deb" "$client_deb" >"$work/install.log" 2>&1 ||
  { cat "$work/install.log" >&2; fail "apt install"; }
grep -q "the service is NOT enabled" "$work/install.log" || fail "postinst did not say how to enable"

step "installed files, user, directories and modes"
for f in /usr/bin/enclaved /usr/bin/enclave-steward /usr/bin/enclave-datagen /usr/bin/enclavectl \
         /lib/systemd/system/enclaved.service /etc/enclaved/enclaved.textproto \
         /usr/share/enclaved/enclaved.example.textproto /usr/share/enclaved/dev-pki.sh \
         /usr/share/enclaved/nftables.conf /usr/share/enclaved/policies/access/principals.textproto \
         /usr/share/doc/enclave-server/operator.md /usr/share/doc/enclavectl/analyst.md; do
  [ -e "$f" ] || fail "$f is not installed"
done
enclaved --version
enclavectl --version
getent passwd enclaved | grep -q ':/var/lib/enclaved:/usr/sbin/nologin$' || fail "user enclaved"
expect_mode /etc/enclaved 750 root enclaved
expect_mode /etc/enclaved/pki 750 root enclaved
expect_mode /etc/enclaved/policies 750 root enclaved
expect_mode /etc/enclaved/approvals 750 root enclaved
expect_mode /etc/enclaved/credentials 700 root root
expect_mode /var/lib/enclaved 700 enclaved enclaved
expect_mode /srv/enclave 750 enclaved enclaved
dpkg-query -W -f='${Conffiles}\n' enclave-server | grep -q '/etc/enclaved/enclaved.textproto' ||
  fail "/etc/enclaved/enclaved.textproto is not a conffile"
[ ! -e /etc/systemd/system/multi-user.target.wants/enclaved.service ] ||
  fail "the package enabled the service before it was configured"

step "systemd-analyze verify and security (threshold 15 = 1.5) on the installed unit"
systemd-analyze verify /lib/systemd/system/enclaved.service
systemd-analyze security --offline=true --threshold=15 /lib/systemd/system/enclaved.service |
  tail -1

# --- the operator guide, steps 3-7 ---------------------------------------------------------------
step "guide: policies from /usr/share/enclaved/policies"
cp -r /usr/share/enclaved/policies/. /etc/enclaved/policies/
chown -R root:enclaved /etc/enclaved/policies && chmod -R g+rX,o-rwx /etc/enclaved/policies

step "guide: development PKI (/usr/share/enclaved/dev-pki.sh) and the server's TLS files"
/usr/share/enclaved/dev-pki.sh "$work/pki" >/dev/null
install -m 0644 -o root -g enclaved "$work/pki/ca.pem" "$work/pki/server.pem" /etc/enclaved/pki/
install -m 0600 -o enclaved -g enclaved "$work/pki/server.key" /etc/enclaved/pki/

step "guide: synthetic microdata as the enclaved user"
runuser -u enclaved -- enclave-datagen --out /srv/enclave/microdata.db --seed 42 --persons 20000 \
  >/dev/null

step "guide: four eyes: the approvers file and officer1's approvals of every template"
install -m 0640 -o root -g enclaved "$work/pki/approvers.textproto" /etc/enclaved/approvers.textproto
enclavectl template sign --key "$work/pki/officer1.sign.key" \
  --approvers /etc/enclaved/approvers.textproto --out /etc/enclaved/approvals \
  /etc/enclaved/policies/templates >/dev/null
chgrp -R enclaved /etc/enclaved/approvals && chmod -R g+rX /etc/enclaved/approvals
enclavectl template check --approvers /etc/enclaved/approvers.textproto \
  --approvals /etc/enclaved/approvals /etc/enclaved/policies/templates >/dev/null

step "guide: the log-signing key as an encrypted credential"
openssl genpkey -algorithm ed25519 | systemd-creds encrypt --name=log-signing-key - \
  /etc/enclaved/credentials/log-signing-key.cred 2>/dev/null
# What systemd does at each start (LoadCredentialEncrypted=): decrypt into a directory only the
# service can read, named by $CREDENTIALS_DIRECTORY.
creds="$work/credentials"
install -d -m 0700 -o enclaved -g enclaved "$creds"
systemd-creds decrypt --name=log-signing-key /etc/enclaved/credentials/log-signing-key.cred \
  "$creds/log-signing-key" 2>/dev/null
chown enclaved:enclaved "$creds/log-signing-key" && chmod 0400 "$creds/log-signing-key"

step "guide: enclaved --check on the installed configuration (as the unit's ExecStartPre)"
check_out="$(runuser -u enclaved -- env CREDENTIALS_DIRECTORY="$creds" \
  enclaved --config /etc/enclaved/enclaved.textproto --check)"
echo "    $check_out"
[[ $check_out == "configuration OK: "* ]] || fail "enclaved --check"
# And as a plain shell would run it: the credential is refused by name, not silently replaced.
if runuser -u enclaved -- enclaved --config /etc/enclaved/enclaved.textproto --check \
    >/dev/null 2>"$work/nocreds.err"; then
  fail "--check passed without \$CREDENTIALS_DIRECTORY"
fi
grep -q 'CREDENTIALS_DIRECTORY' "$work/nocreds.err" || fail "the missing credential is not named"

step "the installed server with the installed configuration, one query as analyst1, health as operator1"
# setpriv execs enclaved itself (no runuser in between), so $! is the server and gets the SIGTERM.
CREDENTIALS_DIRECTORY="$creds" setpriv --reuid=enclaved --regid=enclaved --init-groups -- \
  enclaved --config /etc/enclaved/enclaved.textproto --port-file /var/lib/enclaved/port \
  --listen 127.0.0.1:0 2>"$work/enclaved.log" &
server_pid=$!
for _ in $(seq 1 600); do
  [ -s /var/lib/enclaved/port ] && break
  kill -0 "$server_pid" 2>/dev/null || { cat "$work/enclaved.log" >&2; fail "enclaved did not start"; }
  sleep 0.1
done
port="$(cat /var/lib/enclaved/port)"
enclavectl --target "127.0.0.1:$port" --ca "$work/pki/ca.pem" --cert "$work/pki/analyst1.pem" \
  --key "$work/pki/analyst1.key" run bijstand_stand --format csv >"$work/query.csv"
[ -s "$work/query.csv" ] || fail "no answer from the installed server"
health="$(enclavectl --target "127.0.0.1:$port" --ca "$work/pki/ca.pem" \
  --cert "$work/pki/operator1.pem" --key "$work/pki/operator1.key" health)" ||
  fail "enclavectl health as operator1 (the installed server is not SERVING)"
echo "    $health"
kill -TERM "$server_pid"
wait "$server_pid" || fail "enclaved did not stop cleanly (see $work/enclaved.log)"
server_pid=""
rm -f /var/lib/enclaved/port
for f in audit_log.db checkpoint log_verifier.key record_key.secret; do
  [ "$(stat -c %U /var/lib/enclaved/$f)" = enclaved ] || fail "/var/lib/enclaved/$f not owned by enclaved"
done
[ ! -e /var/lib/enclaved/log_signing.key ] || fail "a plain signing key was created beside the credential"

# --- the demo against the installed programs -----------------------------------------------------
step "deploy/demo.sh with ENCLAVE_BIN_DIR=/usr/bin and the packaged policies"
ENCLAVE_BIN_DIR=/usr/bin ENCLAVE_POLICIES_DIR=/usr/share/enclaved/policies \
  ENCLAVE_DEMO_DIR="$work/demo" ENCLAVE_DEMO_PERSONS=20000 "$root/deploy/demo.sh" >"$work/demo.log" 2>&1 ||
  { cat "$work/demo.log" >&2; fail "demo against the installed programs"; }
grep -q "Stopped cleanly" "$work/demo.log" || fail "demo output"

# --- upgrade keeps a changed configuration -------------------------------------------------------
step "reinstall: a changed /etc/enclaved/enclaved.textproto is kept"
echo "# changed by the operator" >>/etc/enclaved/enclaved.textproto
apt-get install -y -q --reinstall "$server_deb" >"$work/reinstall.log" 2>&1 ||
  { cat "$work/reinstall.log" >&2; fail "reinstall"; }
tail -1 /etc/enclaved/enclaved.textproto | grep -q "changed by the operator" ||
  fail "the reinstall overwrote the changed configuration"
expect_mode /etc/enclaved 750 root enclaved

# --- remove and purge ----------------------------------------------------------------------------
step "apt remove: programs gone, configuration and state kept"
apt-get remove -y -q enclave-server enclavectl >"$work/remove.log" 2>&1 ||
  { cat "$work/remove.log" >&2; fail "apt remove"; }
[ ! -e /usr/bin/enclaved ] && [ ! -e /usr/bin/enclavectl ] || fail "programs left after remove"
[ -f /etc/enclaved/enclaved.textproto ] || fail "remove deleted the configuration"
[ -f /var/lib/enclaved/audit_log.db ] || fail "remove deleted the query log"

step "apt purge enclave-server (enclavectl has no configuration): the query log, state, microdata, keys and policies survive, and it says where"
apt-get purge -y -q enclave-server >"$work/purge.log" 2>&1 ||
  { cat "$work/purge.log" >&2; fail "apt purge"; }
grep -q "KEPT" "$work/purge.log" || fail "purge did not say what it kept"
dpkg-query -W -f='${Status}\n' enclave-server 2>/dev/null | grep -q "ok installed" &&
  fail "enclave-server still installed"
[ ! -e /etc/enclaved/enclaved.textproto ] || fail "purge kept the conffile"
for f in /var/lib/enclaved/audit_log.db /var/lib/enclaved/checkpoint /var/lib/enclaved/record_key.secret \
         /srv/enclave/microdata.db /etc/enclaved/pki/server.key /etc/enclaved/approvers.textproto \
         /etc/enclaved/credentials/log-signing-key.cred \
         /etc/enclaved/policies/access/principals.textproto; do
  [ -e "$f" ] || fail "purge deleted $f"
done
getent passwd enclaved >/dev/null || fail "purge deleted the enclaved user (files are still owned by it)"
dpkg-statoverride --list /etc/enclaved >/dev/null 2>&1 && fail "purge left the statoverride"

# This machine is a test machine: undo what the test made (an operator would back up first).
rm -rf /etc/enclaved /var/lib/enclaved /srv/enclave
[ "$created_user" -eq 1 ] && deluser --quiet --system enclaved >/dev/null 2>&1 || true
getent group enclaved >/dev/null && [ "$created_user" -eq 1 ] && delgroup --quiet --system enclaved >/dev/null 2>&1 || true
step "package test passed"
