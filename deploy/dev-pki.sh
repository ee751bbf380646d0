#!/usr/bin/env bash
# Development PKI for the enclave's mutual TLS: a client-and-server CA, a server certificate for
# localhost, one short-lived client certificate per development principal, and the certificates the
# negative tests need (an unknown principal, a rogue CA). NOT for production: keys are unencrypted.
#
#   deploy/dev-pki.sh OUTDIR [--days N] [--force]         create the whole set
#   deploy/dev-pki.sh OUTDIR client NAME URI [DAYS] [--force]  issue one more client certificate
#   deploy/dev-pki.sh OUTDIR officer-key NAME URI [DAYS] [--force]  one more template-approval key
#
# Client certificates carry EKU clientAuth only and exactly one URI SAN (the caller's identity,
# security.md §2.1). Files are OUTDIR/<name>.pem and OUTDIR/<name>.key; keys are mode 600.
# Four eyes (docs/privacy-officer.md): officer1 also gets an Ed25519 template-approval key,
# OUTDIR/officer1.sign.key, listed with its validity in OUTDIR/approvers.textproto (enclaved's
# approvers_file) for `enclavectl template sign`.
set -euo pipefail

PROG=$(basename "$0")
TRUST_DOMAIN="spiffe://udc-lv.local"

die() { echo "$PROG: $*" >&2; exit 1; }
usage() {
  sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

command -v openssl >/dev/null 2>&1 || die "the openssl command is required (apt-get install openssl)"

[[ $# -ge 1 ]] || usage
case "$1" in -h|--help) usage ;; esac
OUTDIR=$1
shift

FORCE=0
DAYS=30
MODE=all
CLIENT_NAME=""
CLIENT_URI=""

args=()
for a in "$@"; do
  if [[ $a == --force ]]; then FORCE=1; else args+=("$a"); fi
done
set -- ${args[@]+"${args[@]}"}

if [[ $# -ge 1 && ( $1 == client || $1 == officer-key ) ]]; then
  MODE=$1
  [[ $# -ge 3 && $# -le 4 ]] || die "usage: $PROG OUTDIR $1 NAME URI [DAYS] [--force]"
  CLIENT_NAME=$2
  CLIENT_URI=$3
  [[ $# -eq 4 ]] && DAYS=$4
else
  while [[ $# -gt 0 ]]; do
    case "$1" in
      --days)
        [[ $# -ge 2 ]] || die "--days needs a number of days"
        DAYS=$2
        shift 2
        ;;
      --days=*) DAYS=${1#--days=}; shift ;;
      -h|--help) usage ;;
      *) die "unknown argument: $1 (see $PROG --help)" ;;
    esac
  done
fi

[[ $DAYS =~ ^[0-9]+$ && $DAYS -ge 1 && $DAYS -le 3650 ]] || die "days must be a whole number from 1 to 3650, got '$DAYS'"

umask 077
mkdir -p "$OUTDIR"
OUTDIR=$(cd "$OUTDIR" && pwd)
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

new_key() {  # new_key FILE: EC P-256, PKCS#8 PEM, mode 600
  openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null \
    || die "cannot generate a key into $1"
  chmod 600 "$1"
}

serial() { echo "0x$(openssl rand -hex 16)"; }

make_ca() {  # make_ca NAME CN DAYS
  local name=$1 cn=$2 days=$3
  new_key "$OUTDIR/$name.key"
  openssl req -x509 -new -key "$OUTDIR/$name.key" -sha256 -days "$days" -subj "/O=enclave dev/CN=$cn" \
    -set_serial "$(serial)" \
    -addext "basicConstraints=critical,CA:TRUE,pathlen:0" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -addext "subjectKeyIdentifier=hash" \
    -out "$OUTDIR/$name.pem" 2>"$WORK/err" || die "cannot create CA $name: $(cat "$WORK/err")"
  chmod 644 "$OUTDIR/$name.pem"
}

# issue CA NAME CN DAYS EXTENSIONS...: key + certificate signed by OUTDIR/CA.{pem,key}
issue() {
  local ca=$1 name=$2 cn=$3 days=$4
  shift 4
  new_key "$OUTDIR/$name.key"
  openssl req -new -key "$OUTDIR/$name.key" -subj "/O=enclave dev/CN=$cn" -out "$WORK/$name.csr" \
    2>"$WORK/err" || die "cannot create a request for $name: $(cat "$WORK/err")"
  printf '%s\n' "$@" >"$WORK/$name.ext"
  openssl x509 -req -in "$WORK/$name.csr" -CA "$OUTDIR/$ca.pem" -CAkey "$OUTDIR/$ca.key" \
    -set_serial "$(serial)" -sha256 -days "$days" -extfile "$WORK/$name.ext" \
    -out "$OUTDIR/$name.pem" 2>"$WORK/err" || die "cannot issue $name: $(cat "$WORK/err")"
  chmod 644 "$OUTDIR/$name.pem"
}

issue_client() {  # issue_client CA NAME URI DAYS
  local ca=$1 name=$2 uri=$3 days=$4
  [[ $name =~ ^[A-Za-z0-9_.-]+$ ]] || die "client name must be [A-Za-z0-9_.-]+, got '$name'"
  [[ $uri =~ ^[a-z][a-z0-9+.-]*://[^[:space:],]+$ ]] || die "URI must look like spiffe://domain/path, got '$uri'"
  issue "$ca" "$name" "$name" "$days" \
    "basicConstraints=critical,CA:FALSE" \
    "keyUsage=critical,digitalSignature" \
    "extendedKeyUsage=clientAuth" \
    "subjectAltName=URI:$uri" \
    "subjectKeyIdentifier=hash" \
    "authorityKeyIdentifier=keyid"
}

# officer_key NAME URI DAYS: an Ed25519 template-approval key OUTDIR/NAME.sign.key (mode 600) and
# its public key, valid from today for DAYS days, appended to OUTDIR/approvers.textproto.
officer_key() {
  local name=$1 uri=$2 days=$3 approvers=$OUTDIR/approvers.textproto
  [[ $name =~ ^[A-Za-z0-9_.-]+$ ]] || die "officer name must be [A-Za-z0-9_.-]+, got '$name'"
  openssl genpkey -algorithm ed25519 -out "$OUTDIR/$name.sign.key" 2>/dev/null \
    || die "cannot generate an Ed25519 key into $OUTDIR/$name.sign.key"
  chmod 600 "$OUTDIR/$name.sign.key"
  local pub
  pub=$(openssl pkey -in "$OUTDIR/$name.sign.key" -pubout 2>/dev/null | sed -n 2p)
  [[ -n $pub ]] || die "cannot read the public key of $OUTDIR/$name.sign.key"
  if [[ ! -f $approvers ]]; then
    printf '%s\n' "# proto-file: proto/enclave/v1/policy.proto" \
      "# proto-message: enclave.v1.policy.ApproversFile" \
      "# Written by deploy/dev-pki.sh: development officer keys (public keys only)." >"$approvers"
  fi
  # A re-issued key replaces the officer's earlier entry.
  awk -v id="$name-dev" 'BEGIN{skip=0} /^officer_key \{/{buf=$0; skip=0; inblock=1; next}
    inblock{buf=buf "\n" $0; if ($0 ~ "key_id: \"" id "\"") skip=1; if ($0 ~ /^\}/){inblock=0; if(!skip) print buf}; next}
    {print}' "$approvers" >"$WORK/approvers" && cat "$WORK/approvers" >"$approvers"
  cat >>"$approvers" <<ENTRY
officer_key {
  key_id: "$name-dev"
  principal: "$uri"
  public_key: "$pub"
  valid_from: "$(date -u +%F)"
  valid_until: "$(date -u -d "+$days days" +%F)"
}
ENTRY
  chmod 644 "$approvers"
}

refuse_overwrite() {  # refuse_overwrite FILE...
  [[ $FORCE -eq 1 ]] && return 0
  for f in "$@"; do
    [[ -e $OUTDIR/$f ]] && die "$OUTDIR/$f exists; refusing to overwrite it (pass --force to replace it)"
  done
  return 0
}

if [[ $MODE == officer-key ]]; then
  refuse_overwrite "$CLIENT_NAME.sign.key"
  officer_key "$CLIENT_NAME" "$CLIENT_URI" "$DAYS"
  echo "$PROG: wrote $OUTDIR/$CLIENT_NAME.sign.key, listed in $OUTDIR/approvers.textproto ($DAYS days)"
  exit 0
fi

if [[ $MODE == client ]]; then
  [[ -f $OUTDIR/ca.pem && -f $OUTDIR/ca.key ]] || die "no CA in $OUTDIR (run '$PROG $OUTDIR' first)"
  refuse_overwrite "$CLIENT_NAME.pem" "$CLIENT_NAME.key"
  issue_client ca "$CLIENT_NAME" "$CLIENT_URI" "$DAYS"
  echo "$PROG: issued $OUTDIR/$CLIENT_NAME.pem ($CLIENT_URI, $DAYS days)"
  exit 0
fi

refuse_overwrite ca.pem ca.key rogue-ca.pem rogue-ca.key

CA_DAYS=$(( DAYS > 365 ? DAYS + 1 : 365 ))
make_ca ca "enclave dev client and server CA" "$CA_DAYS"
issue ca server localhost "$(( DAYS > 90 ? DAYS : 90 ))" \
  "basicConstraints=critical,CA:FALSE" \
  "keyUsage=critical,digitalSignature" \
  "extendedKeyUsage=serverAuth" \
  "subjectAltName=DNS:localhost,IP:127.0.0.1" \
  "subjectKeyIdentifier=hash" \
  "authorityKeyIdentifier=keyid"

issue_client ca analyst1 "$TRUST_DOMAIN/municipal_analyst/analyst1" "$DAYS"
issue_client ca researcher1 "$TRUST_DOMAIN/researcher/researcher1" "$DAYS"
issue_client ca researcher2 "$TRUST_DOMAIN/researcher/researcher2" "$DAYS"
issue_client ca officer1 "$TRUST_DOMAIN/privacy_officer/officer1" "$DAYS"
issue_client ca steward1 "$TRUST_DOMAIN/data_steward/steward1" "$DAYS"
issue_client ca operator1 "$TRUST_DOMAIN/operator/operator1" "$DAYS"
# Negative tests: a certificate from the right CA for a principal the policy does not know, and one
# carrying analyst1's identity but issued by a CA the server does not trust.
issue_client ca unknown1 "$TRUST_DOMAIN/municipal_analyst/unknown1" "$DAYS"
make_ca rogue-ca "rogue CA (negative tests only)" "$CA_DAYS"
issue_client rogue-ca rogue1 "$TRUST_DOMAIN/municipal_analyst/analyst1" "$DAYS"

# Four eyes: officer1's template-approval key (a fresh approvers file for a fresh PKI).
rm -f "$OUTDIR/approvers.textproto"
officer_key officer1 "$TRUST_DOMAIN/privacy_officer/officer1" "$DAYS"

for name in server analyst1 researcher1 researcher2 officer1 steward1 operator1 unknown1; do
  openssl verify -CAfile "$OUTDIR/ca.pem" "$OUTDIR/$name.pem" >/dev/null 2>&1 \
    || die "self-check failed: $name.pem does not verify against ca.pem"
done
echo "$PROG: wrote CA, server and client certificates to $OUTDIR (clients valid $DAYS days)"
