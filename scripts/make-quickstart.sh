#!/usr/bin/env bash
# Regenerates the offline quickstart's catalog and content (examples/quickstart/).
#
# Idempotent: the PKI is created once and committed, the generator is deterministic and
# every signature carries a fixed signing time, so re-running reproduces the same bytes.
# Run from anywhere; needs cargo, openssl and osslsigncode.
set -euo pipefail
cd "$(dirname "$0")/.."

QS=examples/quickstart
SEED=1

for tool in openssl osslsigncode; do
  command -v "$tool" >/dev/null || { echo "make-quickstart: $tool is required (apt-get install $tool)" >&2; exit 1; }
done

# The quickstart's own test PKI, created here once. Not tests/fixtures/pki: that signer is
# valid for 825 days, the quickstart's for ten years, so the demo keeps working.
PKI=$QS/pki
if [ ! -f "$PKI/signer.pem" ]; then
  echo "creating the quickstart test PKI in $PKI (test-only keys, committed on purpose)"
  mkdir -p "$PKI"
  tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
  openssl req -x509 -newkey rsa:2048 -nodes -keyout "$PKI/ca.key" -out "$PKI/ca.pem" -days 7300 \
    -subj "/CN=supctl Quickstart Test Root CA/O=Contoso" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
  openssl req -newkey rsa:2048 -nodes -keyout "$PKI/signer.key" -out "$tmp/signer.csr" \
    -subj "/CN=Contoso Code Signing (supctl quickstart test)/O=Contoso" 2>/dev/null
  printf "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=codeSigning\n" > "$tmp/signer.ext"
  openssl x509 -req -in "$tmp/signer.csr" -CA "$PKI/ca.pem" -CAkey "$PKI/ca.key" -CAcreateserial \
    -CAserial "$tmp/ca.srl" -out "$PKI/signer.pem" -days 3650 -extfile "$tmp/signer.ext" 2>/dev/null
  openssl x509 -in "$PKI/ca.pem" -outform DER -out "$PKI/ca.cer"
fi
# DER form of the signer: the content certificate shipped in the catalog.
[ -f "$PKI/signer.cer" ] || openssl x509 -in "$PKI/signer.pem" -outform DER -out "$PKI/signer.cer"

# A signing time one minute after the signer's notBefore: inside its validity and a pure
# function of the PKI, so outputs stay byte-stable.
not_before=$(openssl x509 -in "$PKI/signer.pem" -noout -startdate | cut -d= -f2)
SIGN_TIME=$(( $(date -u -d "$not_before" +%s) + 60 ))

rm -rf "$QS/content"
mkdir -p "$QS/catalog"
cargo run --quiet -p supctl-test-kit --bin supctl-gen-catalog -- \
  --profile quickstart --seed "$SEED" \
  --out "$QS/catalog/contoso-v3.cab" \
  --content-dir "$QS/content" --content-size 4096 \
  --sign-cert "$PKI/signer.pem" --sign-key "$PKI/signer.key" --sign-time "$SIGN_TIME" \
  --content-cert "$PKI/signer.cer"

# Check what was made with an independent verifier before anyone commits it.
osslsigncode verify -CAfile "$PKI/ca.pem" -in "$QS/catalog/contoso-v3.cab" >/dev/null \
  || { echo "make-quickstart: the catalog signature does not verify" >&2; exit 1; }
for f in "$QS"/content/*; do
  osslsigncode verify -CAfile "$PKI/ca.pem" -in "$f" >/dev/null \
    || { echo "make-quickstart: $f does not verify" >&2; exit 1; }
done

# The gitops example's in-house catalog (examples/gitops/contoso.toml) is this same file: a
# catalog `path` must name a file for the config to validate.
mkdir -p examples/gitops/catalogs
cp "$QS/catalog/contoso-v3.cab" examples/gitops/catalogs/contoso-lob.cab

echo "PKI:                       $PKI"
echo "signing time:              $SIGN_TIME ($(date -u -d "@$SIGN_TIME" +%FT%TZ))"
echo "quickstart size:           $(du -sb "$QS" | cut -f1) bytes"
echo "signer SHA-1 thumbprint:   $(openssl x509 -in "$PKI/signer.pem" -noout -fingerprint -sha1 | cut -d= -f2 | tr -d :)"
