#!/usr/bin/env bash
# Makes the manual WSUS signing certificates of tests/it/signing.rs with openssl, as an admin
# would (PFX exported with its key, or PEM certificate + PKCS#8 key):
#
#   good.pfx         RSA 3072, code signing, valid 2025-01-01 .. 2045-01-01 (password below)
#   good.pem/.key    the same certificate and key as PEM
#   expired.pfx      code signing, expired 2021-01-01
#   tls.pfx          EKU server authentication only
#   small.pfx        RSA 1024
#   other.key        a key that belongs to no certificate here (good.pem + other.key mismatch)
#
# Run from the repository root: scripts/make-signing-fixtures.sh. Needs openssl 3.
# Idempotent: existing files are kept, so the committed thumbprints stay as they are.
set -euo pipefail
OUT=tests/fixtures/signing
PASS=correct-horse-battery
[ -f Cargo.toml ] || { echo "run from the repository root" >&2; exit 1; }
mkdir -p "$OUT"
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

cat > "$WORK/ca.cnf" <<CNF
[ca]
default_ca = ca_default
[ca_default]
database = $WORK/index.txt
new_certs_dir = $WORK
serial = $WORK/serial
default_md = sha256
policy = any
unique_subject = no
[any]
commonName = supplied
[code]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = codeSigning
[tls]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth
CNF
: > "$WORK/index.txt"
echo 01 > "$WORK/serial"

# cert NAME BITS EXT START END: a self-signed certificate with fixed dates.
cert() {
  local name=$1 bits=$2 ext=$3 start=$4 end=$5
  [ -f "$OUT/$name.pfx" ] && return
  openssl genpkey -algorithm RSA -pkeyopt "rsa_keygen_bits:$bits" -out "$WORK/$name.key" 2>/dev/null
  openssl req -new -key "$WORK/$name.key" -subj "/CN=supctl test WSUS signing ($name)" -out "$WORK/$name.csr"
  openssl ca -batch -notext -config "$WORK/ca.cnf" -selfsign -keyfile "$WORK/$name.key" \
    -startdate "$start" -enddate "$end" -extensions "$ext" -in "$WORK/$name.csr" \
    -out "$WORK/$name.pem" 2>/dev/null
  # AES-256 with PBKDF2, as Windows Server 2019+ exports; legacy 3DES stores read as well.
  openssl pkcs12 -export -inkey "$WORK/$name.key" -in "$WORK/$name.pem" -name "$name" \
    -passout "pass:$PASS" -out "$OUT/$name.pfx"
  if [ "$name" = good ]; then
    cp "$WORK/good.pem" "$OUT/good.pem"
    cp "$WORK/good.key" "$OUT/good.key"
  fi
}

cert good 3072 code 20250101000000Z 20450101000000Z
cert expired 2048 code 20200101000000Z 20210101000000Z
cert tls 2048 tls 20250101000000Z 20450101000000Z
cert small 1024 code 20250101000000Z 20450101000000Z
[ -f "$OUT/other.key" ] || openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$OUT/other.key" 2>/dev/null
echo "$PASS" > "$OUT/password.txt"
openssl x509 -in "$OUT/good.pem" -noout -fingerprint -sha1 | cut -d= -f2 | tr -d : > "$OUT/good.sha1"
ls -l "$OUT"
