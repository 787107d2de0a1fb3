#!/usr/bin/env bash
# Regenerates the end-to-end test catalogs (tests/fixtures/e2e/) with the project's
# generator. The approved-signer catalog of the e2e tests is the quickstart's own
# (examples/quickstart/, scripts/make-quickstart.sh); this script makes the variants:
#
#   other-signer/contoso-v3.cab      the quickstart catalog signed by a signer nobody approved (11508)
#   unsigned-content/                the quickstart catalog whose first origin file is unsigned (11516)
#   foreign-content/                 the quickstart catalog whose content is signed by an unapproved certificate
#   bench/                           24 updates with signed content (kill -9 / resume)
#   formats/contoso-v1.cab, -v2.cab  the quickstart catalog in the older CAB generations (no V3\)
#   expired-signer/contoso-v3.cab    the quickstart catalog signed by the trust tests' expired signer
#   many-certs/contoso-v3.cab        the quickstart catalog shipping 5 unapproved content certificates, 4 expired
#
# Idempotent: the extra signer is created once and committed; the generator is deterministic
# and every signature carries a fixed signing time. Needs cargo, openssl and osslsigncode.
set -euo pipefail
cd "$(dirname "$0")/.."

QS_PKI=examples/quickstart/pki
OUT=tests/fixtures/e2e
SEED=1

for tool in openssl osslsigncode; do
  command -v "$tool" >/dev/null || { echo "make-e2e-fixtures: $tool is required (apt-get install $tool)" >&2; exit 1; }
done
[ -f "$QS_PKI/ca.key" ] || { echo "make-e2e-fixtures: run scripts/make-quickstart.sh first" >&2; exit 1; }

# A second code signer from the quickstart CA, valid ten years: validly signed, never approved.
PKI=$OUT/pki
if [ ! -f "$PKI/other.pem" ]; then
  echo "creating the e2e 'other' signer in $PKI (test-only key, committed on purpose)"
  mkdir -p "$PKI"
  tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
  openssl req -newkey rsa:2048 -nodes -keyout "$PKI/other.key" -out "$tmp/other.csr" \
    -subj "/CN=Fabrikam Code Signing (supctl e2e test, not approved)/O=Fabrikam" 2>/dev/null
  printf "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=codeSigning\n" > "$tmp/other.ext"
  openssl x509 -req -in "$tmp/other.csr" -CA "$QS_PKI/ca.pem" -CAkey "$QS_PKI/ca.key" -CAcreateserial \
    -CAserial "$tmp/ca.srl" -out "$PKI/other.pem" -days 3650 -extfile "$tmp/other.ext" 2>/dev/null
fi
[ -f "$PKI/other.cer" ] || openssl x509 -in "$PKI/other.pem" -outform DER -out "$PKI/other.cer"

# One signing time inside both signers' validity: a minute after the later notBefore.
nb() { date -u -d "$(openssl x509 -in "$1" -noout -startdate | cut -d= -f2)" +%s; }
a=$(nb "$QS_PKI/signer.pem"); b=$(nb "$PKI/other.pem")
SIGN_TIME=$(( (a > b ? a : b) + 60 ))

gen() {
  cargo run --quiet -p supctl-test-kit --bin supctl-gen-catalog -- --seed "$SEED" \
    --sign-time "$SIGN_TIME" "$@"
}
QS_SIGN=(--sign-cert "$QS_PKI/signer.pem" --sign-key "$QS_PKI/signer.key")

rm -rf "$OUT/other-signer" "$OUT/unsigned-content" "$OUT/foreign-content" "$OUT/bench" "$OUT/formats" "$OUT/expired-signer" "$OUT/many-certs"

# 11508: same updates and categories as the quickstart, signed by `other`. Metadata only
# (nothing from it may ever be staged).
gen --profile quickstart --out "$OUT/other-signer/contoso-v3.cab" \
  --sign-cert "$PKI/other.pem" --sign-key "$PKI/other.key" --content-cert "$PKI/other.cer"

# 11516: the first origin file (contoso-tool-1.0.exe) is not signed; its digest is true.
gen --profile quickstart --out "$OUT/unsigned-content/contoso-v3.cab" \
  --content-dir "$OUT/unsigned-content/content" --content-size 4096 --unsigned-content 1 \
  "${QS_SIGN[@]}" --content-cert "$QS_PKI/signer.cer"

# TRUST_FAIL: an approved catalog whose content is signed by `other`, which it also ships
# as a content certificate (so the plan warns that it is pending approval).
gen --profile quickstart --out "$OUT/foreign-content/contoso-v3.cab" \
  --content-dir "$OUT/foreign-content/content" --content-size 1024 \
  "${QS_SIGN[@]}" --content-sign-cert "$PKI/other.pem" --content-sign-key "$PKI/other.key" \
  --content-cert "$PKI/other.cer"

# kill -9 / resume: enough updates (and signed files) that an apply can be killed midway.
gen --profile bench --updates 24 --out "$OUT/bench/bench-24.cab" \
  --content-dir "$OUT/bench/content" --content-size 1024 \
  "${QS_SIGN[@]}" --content-cert "$QS_PKI/signer.cer"

# Plans converge for every format: the quickstart's updates as a v1 catalog (XML and V2\
# only) and as a v2 catalog (plus ContentCertificates\), neither with categories; metadata
# only, signed by the approved quickstart signer.
gen --profile quickstart --format v1 --out "$OUT/formats/contoso-v1.cab" "${QS_SIGN[@]}"
gen --profile quickstart --format v2 --out "$OUT/formats/contoso-v2.cab" "${QS_SIGN[@]}" \
  --content-cert "$QS_PKI/signer.cer"

# An expired signer (tests/fixtures/pki/expired, valid 2020-01-01 .. 2022-01-01), no timestamp,
# signed inside its validity: refused unless the catalog sets allow_expired_signer = true.
EXPIRED_PKI=tests/fixtures/pki
EXPIRED_SIGN_TIME=1622548800 # 2021-06-01T12:00:00Z, as scripts/make-signed-fixtures.sh
cargo run --quiet -p supctl-test-kit --bin supctl-gen-catalog -- --seed "$SEED" \
  --sign-time "$EXPIRED_SIGN_TIME" --profile quickstart --out "$OUT/expired-signer/contoso-v3.cab" \
  --sign-cert "$EXPIRED_PKI/expired.pem" --sign-key "$EXPIRED_PKI/expired.key" \
  --content-cert "$QS_PKI/signer.cer"
osslsigncode verify -CAfile "$EXPIRED_PKI/ca.pem" -time "$EXPIRED_SIGN_TIME" \
  -in "$OUT/expired-signer/contoso-v3.cab" >/dev/null \
  || { echo "make-e2e-fixtures: expired-signer/contoso-v3.cab does not verify" >&2; exit 1; }

# Issue 13: a catalog shipping several content certificates, four of them long expired
# (self-signed, 2015), none approved; metadata only. The expired ones are made once and
# committed (their validity is in the past, so they cannot be re-made identically).
if [ ! -f "$PKI/expired-4.cer" ]; then
  tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
  printf '[ca]\ndefault_ca=t\n[t]\ndatabase=%s/index\nnew_certs_dir=%s\nserial=%s/serial\ndefault_md=sha256\npolicy=p\n[p]\ncommonName=supplied\n' \
    "$tmp" "$tmp" "$tmp" > "$tmp/ca.cnf"
  : > "$tmp/index"; echo 01 > "$tmp/serial"
  for i in 1 2 3 4; do
    openssl req -new -newkey rsa:2048 -nodes -keyout "$tmp/k$i" -out "$tmp/c$i.csr" \
      -subj "/CN=Contoso Content Signing 2015-$i (supctl e2e test, expired)/O=Contoso" 2>/dev/null
    openssl ca -batch -config "$tmp/ca.cnf" -selfsign -keyfile "$tmp/k$i" -in "$tmp/c$i.csr" \
      -startdate 20150101000000Z -enddate 20160101000000Z -notext -out "$tmp/c$i.pem" 2>/dev/null
    openssl x509 -in "$tmp/c$i.pem" -outform DER -out "$PKI/expired-$i.cer"
  done
fi
gen --profile quickstart --out "$OUT/many-certs/contoso-v3.cab" "${QS_SIGN[@]}" \
  --content-cert "$PKI/expired-1.cer" --content-cert "$PKI/expired-2.cer" \
  --content-cert "$PKI/expired-3.cer" --content-cert "$PKI/expired-4.cer" \
  --content-cert "$PKI/other.cer"

# Independent check of every signature that should verify (the expired signer: above).
for f in $(ls "$OUT"/*/*.cab | grep -v /expired-signer/) "$OUT"/foreign-content/content/* "$OUT"/bench/content/*; do
  osslsigncode verify -CAfile "$QS_PKI/ca.pem" -in "$f" >/dev/null \
    || { echo "make-e2e-fixtures: $f does not verify" >&2; exit 1; }
done
if osslsigncode verify -CAfile "$QS_PKI/ca.pem" -in "$OUT/unsigned-content/content/contoso-tool-1.0.exe" >/dev/null 2>&1; then
  echo "make-e2e-fixtures: contoso-tool-1.0.exe should be unsigned" >&2; exit 1
fi

echo "signing time:              $SIGN_TIME ($(date -u -d "@$SIGN_TIME" +%FT%TZ))"
echo "e2e fixtures size:         $(du -sb "$OUT" | cut -f1) bytes"
echo "other signer SHA-1:        $(openssl x509 -in "$PKI/other.pem" -noout -fingerprint -sha1 | cut -d= -f2 | tr -d :)"
