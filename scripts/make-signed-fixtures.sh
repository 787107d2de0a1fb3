#!/usr/bin/env bash
# Regenerates the Authenticode test PKI and the signed fixtures used by tests/it/trust_*.rs.
#
# Run from the repository root:   scripts/make-signed-fixtures.sh
#
# Idempotent: private keys under tests/fixtures/pki/ are created only when missing, so a re-run
# re-issues byte-identical certificates (fixed serials and validity dates, deterministic RSA
# PKCS#1 v1.5 signatures) and re-signs the fixtures with fixed signing times. Tests never run
# this script; they read the committed outputs.
#
# Needs: openssl (3.0+), osslsigncode (2.9), gcab, python3; optional: wixl + faketime (MSI).
# See reference/authenticode.md §8 for where these recipes come from.
set -euo pipefail

ROOT=$(pwd)
PKI="$ROOT/tests/fixtures/pki"
OUT="$ROOT/tests/fixtures/signed"
[ -f "$ROOT/Cargo.toml" ] || { echo "run from the repository root" >&2; exit 1; }
for tool in openssl osslsigncode gcab python3; do
    command -v "$tool" >/dev/null || { echo "missing tool: $tool" >&2; exit 1; }
done

mkdir -p "$PKI" "$OUT"
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

# Fixed times (UTC). Signer certificates are valid 2025-01-01 .. 2027-04-05 (825 days), so a
# verification "3 years after signing" (2028-06-01) is after expiry.
SIGN_TIME=1748779200          # 2025-06-01T12:00:00Z: signingTime of every current-signer fixture
TSA_TIME=1748779200           # 2025-06-01T12:00:00Z: genTime of the RFC 3161 token
EXPIRED_SIGN_TIME=1622548800  # 2021-06-01T12:00:00Z: inside the expired signer's validity
MSI_FAKETIME="2025-06-01 12:00:00"

# --- test PKI ---------------------------------------------------------------------------------
key_rsa() { [ -f "$PKI/$1.key" ] || openssl genrsa -out "$PKI/$1.key" 2048 2>/dev/null; }
key_ec()  { [ -f "$PKI/$1.key" ] || openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$PKI/$1.key"; }

key_rsa ca; key_rsa signer; key_rsa other; key_rsa expired; key_rsa tsa; key_ec ecdsa

cat > "$WORK/ca.cnf" <<EOF
[ ca ]
default_ca = test_ca
[ test_ca ]
dir = $WORK/cadb
database = \$dir/index.txt
new_certs_dir = \$dir/new
serial = \$dir/serial
default_md = sha256
policy = any
unique_subject = no
copy_extensions = none
[ any ]
commonName = supplied
organizationName = optional
[ root_ext ]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[ codesign_ext ]
basicConstraints = CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = codeSigning
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[ tsa_ext ]
basicConstraints = CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = critical,timeStamping
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
EOF

# issue NAME SUBJECT SERIAL START END EXT [selfsign]
issue() {
    local name=$1 subj=$2 serial=$3 start=$4 end=$5 ext=$6 self=${7:-}
    rm -rf "$WORK/cadb"; mkdir -p "$WORK/cadb/new"; : > "$WORK/cadb/index.txt"
    echo "$serial" > "$WORK/cadb/serial"
    openssl req -new -key "$PKI/$name.key" -subj "$subj" -out "$WORK/$name.csr"
    if [ -n "$self" ]; then
        openssl ca -batch -notext -config "$WORK/ca.cnf" -selfsign -keyfile "$PKI/ca.key" \
            -startdate "$start" -enddate "$end" -extensions "$ext" \
            -in "$WORK/$name.csr" -out "$PKI/$name.pem" 2>/dev/null
    else
        openssl ca -batch -notext -config "$WORK/ca.cnf" -cert "$PKI/ca.pem" -keyfile "$PKI/ca.key" \
            -startdate "$start" -enddate "$end" -extensions "$ext" \
            -in "$WORK/$name.csr" -out "$PKI/$name.pem" 2>/dev/null
    fi
    openssl x509 -in "$PKI/$name.pem" -outform DER -out "$PKI/$name.cer"
}

issue ca      "/CN=supctl Test Root CA"                 1000 20190101000000Z 20490101000000Z root_ext self
issue signer  "/CN=supctl Test Code Signer/O=Example"   1001 20250101000000Z 20270405000000Z codesign_ext
issue other   "/CN=supctl Test Other Signer/O=Example"  1002 20250101000000Z 20270405000000Z codesign_ext
issue expired "/CN=supctl Test Expired Signer/O=Example" 1003 20200101000000Z 20220101000000Z codesign_ext
issue tsa     "/CN=supctl Test TSA"                     1004 20200101000000Z 20400101000000Z tsa_ext
issue ecdsa   "/CN=supctl Test ECDSA Signer/O=Example"  1005 20250101000000Z 20270405000000Z codesign_ext

# --- catalog CABs -----------------------------------------------------------------------------
mkdir -p "$WORK/cab/V2"
cat > "$WORK/cab/catalog.xml" <<'EOF'
<?xml version="1.0" encoding="utf-8"?>
<smc:SystemsManagementCatalog xmlns:smc="http://schemas.microsoft.com/sms/2005/04/CorporatePublishing/SystemsManagementCatalog.xsd" xmlns:sdp="http://schemas.microsoft.com/wsus/2005/04/CorporatePublishing/SoftwareDistributionPackage.xsd">
  <smc:SoftwareDistributionPackage PackageId="6c0b2e36-0f3a-4a57-9d2f-1b6f1c2b9a10">
    <sdp:Properties><sdp:VendorName>Example</sdp:VendorName><sdp:ProductName>Test Product</sdp:ProductName></sdp:Properties>
  </smc:SoftwareDistributionPackage>
</smc:SystemsManagementCatalog>
EOF
printf '{"6c0b2e36-0f3a-4a57-9d2f-1b6f1c2b9a10":"2025-06-01T00:00:00Z"}\n' > "$WORK/cab/V2/update_manifest.json"
touch -d '2025-06-01T00:00:00Z' "$WORK/cab/catalog.xml" "$WORK/cab/V2/update_manifest.json"
rm -f "$OUT/catalog-unsigned.cab"
(cd "$WORK/cab" && gcab -c -z "$OUT/catalog-unsigned.cab" catalog.xml V2/update_manifest.json)

sign() { # sign CERT HASH TIME IN OUT [extra osslsigncode args...]
    local cert=$1 hash=$2 time=$3 in=$4 out=$5; shift 5
    rm -f "$out"
    osslsigncode sign -certs "$PKI/$cert.pem" -key "$PKI/$cert.key" -h "$hash" \
        -n "supctl test" -time "$time" "$@" -in "$in" -out "$out" >/dev/null
}

U="$OUT/catalog-unsigned.cab"
sign signer sha1 "$SIGN_TIME" "$U" "$WORK/catalog-sha1.cab"
sign signer sha256 "$SIGN_TIME" "$WORK/catalog-sha1.cab" "$OUT/catalog-dual.cab" -nest
# Three signatures: a second -nest adds another value to the same nested-signature SET.
sign signer sha384 "$SIGN_TIME" "$OUT/catalog-dual.cab" "$OUT/catalog-triple.cab" -nest
sign signer sha256 "$SIGN_TIME" "$U" "$OUT/catalog-ts.cab" \
    -TSA-certs "$PKI/tsa.pem" -TSA-key "$PKI/tsa.key" -TSA-time "$TSA_TIME"
sign expired sha256 "$EXPIRED_SIGN_TIME" "$U" "$OUT/catalog-expired.cab"
sign expired sha256 "$EXPIRED_SIGN_TIME" "$U" "$OUT/catalog-expired-ts.cab" \
    -TSA-certs "$PKI/tsa.pem" -TSA-key "$PKI/tsa.key" -TSA-time "$EXPIRED_SIGN_TIME"
sign other sha256 "$SIGN_TIME" "$U" "$OUT/catalog-other.cab"
sign ecdsa sha384 "$SIGN_TIME" "$U" "$OUT/catalog-ecdsa.cab"
# Signed with the TSA's key: its EKU is timeStamping only, so it must not pass as a code signer.
sign tsa sha256 "$SIGN_TIME" "$U" "$OUT/catalog-wrong-eku.cab"

# Legacy (PKCS#9) countersignature: osslsigncode only makes those through a network TSA, so the
# TSA's SignerInfo is made with `openssl cms` over the signer's signature value (identified by
# subjectKeyIdentifier, -keyid) and spliced in as unsigned attribute 1.2.840.113549.1.9.6.
# The signer is the expired one, countersigned inside its validity (2021-06-01).
cat > "$WORK/der.py" <<'PY'
import struct, sys

def tlv(b, off):
    l = b[off + 1]
    if l < 0x80:
        return off + 2, off + 2 + l
    n = l & 0x7F
    return off + 2 + n, off + 2 + n + int.from_bytes(b[off + 2:off + 2 + n], 'big')

def kids(b, start, end):
    out, off = [], start
    while off < end:
        cs, ce = tlv(b, off)
        out.append((b[off], off, cs, ce))
        off = ce
    return out

def enc(tag, content):
    n = len(content)
    if n < 0x80:
        return bytes([tag, n]) + content
    lb = n.to_bytes((n.bit_length() + 7) // 8, 'big')
    return bytes([tag, 0x80 | len(lb)]) + lb + content

def signer_info(p7):
    """(SignedData children, the single SignerInfo TLV) of a ContentInfo."""
    cs, ce = tlv(p7, 0)
    explicit = kids(p7, cs, ce)[1]
    sd = kids(p7, explicit[2], explicit[3])[0]
    parts = kids(p7, sd[2], sd[3])
    return parts, kids(p7, parts[-1][2], parts[-1][3])[0]

def cab_sig(path):
    b = open(path, 'rb').read()
    pos, ln = struct.unpack_from('<II', b, 44)
    return b, pos, b[pos:pos + ln]

if sys.argv[1] == 'sigvalue':
    _, _, p7 = cab_sig(sys.argv[2])
    _, si = signer_info(p7)
    sig = [f for f in kids(p7, si[2], si[3]) if f[0] == 0x04][0]
    open(sys.argv[3], 'wb').write(p7[sig[2]:sig[3]])
elif sys.argv[1] == 'splice':
    b, pos, p7 = cab_sig(sys.argv[2])
    cms = open(sys.argv[3], 'rb').read()
    _, csi = signer_info(cms)
    oid = bytes.fromhex('06092a864886f70d010906')  # 1.2.840.113549.1.9.6
    attr = enc(0x30, oid + enc(0x31, cms[csi[1]:csi[3]]))
    parts, si = signer_info(p7)
    assert kids(p7, si[2], si[3])[-1][0] == 0x04, 'signer already has unsigned attributes'
    new_sis = enc(0x31, enc(0x30, p7[si[2]:si[3]] + enc(0xA1, attr)))
    body = b''.join(p7[f[1]:f[3]] for f in parts[:-1]) + new_sis
    new_p7 = enc(0x30, bytes.fromhex('06092a864886f70d010702') + enc(0xA0, enc(0x30, body)))
    out = bytearray(b[:pos] + new_p7)
    struct.pack_into('<I', out, 48, len(new_p7))
    open(sys.argv[4], 'wb').write(out)
PY
if command -v faketime >/dev/null; then
    sign expired sha256 "$EXPIRED_SIGN_TIME" "$U" "$WORK/cs-base.cab" -ac "$PKI/tsa.pem"
    python3 "$WORK/der.py" sigvalue "$WORK/cs-base.cab" "$WORK/sigvalue.bin"
    faketime "2021-06-01 12:00:00" openssl cms -sign -binary -in "$WORK/sigvalue.bin" \
        -signer "$PKI/tsa.pem" -inkey "$PKI/tsa.key" -md sha256 -nosmimecap -keyid -nocerts \
        -outform DER -out "$WORK/cs.der"
    python3 "$WORK/der.py" splice "$WORK/cs-base.cab" "$WORK/cs.der" "$OUT/catalog-countersigned.cab"
else
    echo "faketime not installed: catalog-countersigned.cab left as it is" >&2
fi

# Tampered: one byte flipped inside the compressed body (after the CFFILE entries).
cp "$OUT/catalog-dual.cab" "$OUT/catalog-tampered.cab"
python3 - "$OUT/catalog-tampered.cab" <<'EOF'
import sys
p = sys.argv[1]; b = bytearray(open(p, 'rb').read())
b[200] ^= 0xFF
open(p, 'wb').write(b)
EOF

# Truncated signature: drop the last 64 bytes of the PKCS#7 and shrink siglen to match, so the
# container checks pass and the DER itself is cut short.
python3 - "$OUT/catalog-dual.cab" "$OUT/catalog-truncated.cab" <<'EOF'
import struct, sys
b = bytearray(open(sys.argv[1], 'rb').read())
sigpos, siglen = struct.unpack_from('<II', b, 44)
assert sigpos + siglen == len(b)
b = b[:-64]
struct.pack_into('<I', b, 48, siglen - 64)
open(sys.argv[2], 'wb').write(b)
EOF

# --- PE ---------------------------------------------------------------------------------------
# A minimal PE32 console image: headers + one .text section holding `xor eax,eax; ret`.
python3 - "$OUT/pe-unsigned.exe" <<'EOF'
import struct, sys
dos = bytearray(0x40)
dos[0:2] = b'MZ'
struct.pack_into('<I', dos, 0x3C, 0x40)
coff = struct.pack('<HHIIIHH', 0x14C, 1, 0x67E3C600, 0, 0, 0xE0, 0x0102)
opt = struct.pack('<HBBIIIIIIIIIHHHHHHIIIIHHIIIIII',
    0x10B, 14, 0, 0x200, 0, 0, 0x1000, 0x1000, 0x2000, 0x400000, 0x1000, 0x200,
    6, 0, 0, 0, 6, 0, 0, 0x2000, 0x200, 0, 3, 0x8540, 0x100000, 0x1000, 0x100000, 0x1000, 0, 16)
opt += bytes(16 * 8)
assert len(opt) == 0xE0
sect = struct.pack('<8sIIIIIIHHI', b'.text', 0x10, 0x1000, 0x200, 0x200, 0, 0, 0, 0, 0x60000020)
hdr = bytes(dos) + b'PE\0\0' + coff + opt + sect
hdr += bytes(0x200 - len(hdr))
text = b'\x31\xC0\xC3' + bytes(0x200 - 3)
open(sys.argv[1], 'wb').write(hdr + text)
EOF
sign signer sha256 "$SIGN_TIME" "$OUT/pe-unsigned.exe" "$OUT/pe-signed.exe"
sign signer sha1 "$SIGN_TIME" "$OUT/pe-signed.exe" "$OUT/pe-nested.exe" -nest

# --- MSI (optional: needs wixl) ---------------------------------------------------------------
if command -v wixl >/dev/null; then
    mkdir -p "$WORK/msi"
    cat > "$WORK/msi/product.wxs" <<'EOF'
<?xml version="1.0" encoding="utf-8"?>
<Wix xmlns="http://schemas.microsoft.com/wix/2006/wi">
  <Product Id="0B8E3F6A-5C1D-4E2B-9A7F-3D4C5B6A7E80" Name="Test Product" Language="1033" Version="1.2.3.0" Manufacturer="Example"
           UpgradeCode="12345678-1234-1234-1234-123456789012">
    <Package Id="5E1A2B3C-4D5E-4F60-8A9B-0C1D2E3F4A5B" InstallerVersion="200" Compressed="yes" InstallScope="perMachine"/>
    <Media Id="1" Cabinet="product.cab" EmbedCab="yes"/>
    <Directory Id="TARGETDIR" Name="SourceDir"><Directory Id="ProgramFilesFolder">
      <Directory Id="INSTALLDIR" Name="TestProduct">
        <Component Id="Main" Guid="87654321-4321-4321-4321-210987654321"><File Id="Payload" Source="payload.txt"/></Component>
      </Directory></Directory></Directory>
    <Feature Id="Complete" Level="1"><ComponentRef Id="Main"/></Feature>
  </Product>
</Wix>
EOF
    printf 'payload\n' > "$WORK/msi/payload.txt"
    touch -d '2025-06-01T00:00:00Z' "$WORK/msi/payload.txt"
    rm -f "$OUT/msi-unsigned.msi"
    if command -v faketime >/dev/null; then
        (cd "$WORK/msi" && faketime "$MSI_FAKETIME" wixl -o "$OUT/msi-unsigned.msi" product.wxs)
    else
        (cd "$WORK/msi" && wixl -o "$OUT/msi-unsigned.msi" product.wxs)
    fi
    sign signer sha256 "$SIGN_TIME" "$OUT/msi-unsigned.msi" "$OUT/msi-signed.msi"
    sign signer sha256 "$SIGN_TIME" "$OUT/msi-unsigned.msi" "$OUT/msi-signed-dse.msi" -add-msi-dse
else
    echo "wixl not installed: MSI fixtures left as they are" >&2
fi

# --- self-check with osslsigncode -------------------------------------------------------------
check() { # check FILE [extra verify args]
    local f=$1; shift
    osslsigncode verify -CAfile "$PKI/ca.pem" -TSA-CAfile "$PKI/ca.pem" "$@" -in "$f" >/dev/null \
        || { echo "osslsigncode rejects $f" >&2; exit 1; }
}
NOW_2026=1767225600 # 2026-01-01
for f in catalog-dual catalog-ts catalog-other catalog-ecdsa; do check "$OUT/$f.cab" -time "$NOW_2026"; done
check "$OUT/catalog-expired.cab" -time "$EXPIRED_SIGN_TIME"
check "$OUT/catalog-expired-ts.cab" -time "$NOW_2026"
check "$OUT/catalog-triple.cab" -time "$NOW_2026"
# Proves the splice kept the PKCS#7 well-formed and its digests intact.
[ -f "$OUT/catalog-countersigned.cab" ] && check "$OUT/catalog-countersigned.cab" -time "$EXPIRED_SIGN_TIME"
check "$OUT/pe-signed.exe" -time "$NOW_2026"; check "$OUT/pe-nested.exe" -time "$NOW_2026"
[ -f "$OUT/msi-signed.msi" ] && check "$OUT/msi-signed.msi" -time "$NOW_2026"
[ -f "$OUT/msi-signed-dse.msi" ] && check "$OUT/msi-signed-dse.msi" -time "$NOW_2026"
if osslsigncode verify -CAfile "$PKI/ca.pem" -time "$NOW_2026" -in "$OUT/catalog-tampered.cab" >/dev/null 2>&1; then
    echo "tampered fixture still verifies" >&2; exit 1
fi

# --- thumbprints for the README ---------------------------------------------------------------
for c in ca signer other expired tsa ecdsa; do
    printf '%-8s SHA-1 %s\n         SHA-256 %s\n' "$c" \
        "$(openssl x509 -in "$PKI/$c.pem" -noout -fingerprint -sha1 | cut -d= -f2 | tr -d :)" \
        "$(openssl x509 -in "$PKI/$c.pem" -noout -fingerprint -sha256 | cut -d= -f2 | tr -d :)"
done
ls -l "$OUT"
