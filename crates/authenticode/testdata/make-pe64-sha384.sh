#!/usr/bin/env bash
# Regenerates pe64-sha384.exe, the streaming verifier's PE32+ fixture: three sections listed
# out of file order (the digest sorts them by PointerToRawData), 100 bytes of trailing data
# before the certificate table, signed by the test `signer` with SHA-384 and a nested SHA-256
# signature. SHA-384 is the digest StreamingVerifier does not compute by default, so the file
# exercises its "missing image digest" path with a real signature.
#
# Run from the repository root: crates/authenticode/testdata/make-pe64-sha384.sh
# Needs python3 and osslsigncode 2.9; uses the test PKI of tests/fixtures/pki (see
# tests/fixtures/signed/README.md). RSA signatures with a fixed -time are byte-stable.
set -euo pipefail
PKI=tests/fixtures/pki
OUT=crates/authenticode/testdata
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
SIGN_TIME=1748779200 # 2025-06-01T12:00:00Z, inside the signer's validity

python3 - "$WORK/unsigned.exe" <<'PY'
import struct, sys
dos = bytearray(0x80)
dos[0:2] = b'MZ'
struct.pack_into('<I', dos, 0x3C, 0x80)
coff = struct.pack('<HHIIIHH', 0x8664, 3, 0x67E3C600, 0, 0, 0xF0, 0x0022)
opt = struct.pack('<HBBIIIIIQIIHHHHHHIIIIHHQQQQII',
    0x20B, 14, 0, 0x600, 0x200, 0, 0x1000, 0x1000, 0x140000000, 0x1000, 0x200,
    6, 0, 0, 0, 6, 0, 0, 0x4000, 0x400, 0, 3, 0x8160, 0x100000, 0x1000, 0x100000, 0x1000, 0, 16)
opt += bytes(16 * 8)
assert len(opt) == 0xF0
def sect(name, vsize, va, size, ptr, ch):
    return struct.pack('<8sIIIIIIHHI', name, vsize, va, size, ptr, 0, 0, 0, 0, ch)
# Table order .data, .text, .rdata; file order .text (0x400), .rdata (0x600), .data (0x800).
sects = (sect(b'.data', 0x80, 0x3000, 0x200, 0x800, 0xC0000040)
       + sect(b'.text', 0x10, 0x1000, 0x200, 0x400, 0x60000020)
       + sect(b'.rdata', 0x40, 0x2000, 0x200, 0x600, 0x40000040))
hdr = bytes(dos) + b'PE\0\0' + coff + opt + sects
hdr += bytes(0x400 - len(hdr))
text = b'\x31\xC0\xC3' + bytes(0x200 - 3)
rdata = b'supctl streaming fixture'.ljust(0x200, b'\0')
data = bytes(range(256)) * 2
overlay = bytes((i * 37) & 0xFF for i in range(100))
open(sys.argv[1], 'wb').write(hdr + text + rdata + data + overlay)
PY

sign() { # sign HASH IN OUT [extra osslsigncode args...]
    local hash=$1 in=$2 out=$3; shift 3
    rm -f "$out"
    osslsigncode sign -certs "$PKI/signer.pem" -key "$PKI/signer.key" -h "$hash" \
        -n "supctl test" -time "$SIGN_TIME" "$@" -in "$in" -out "$out" >/dev/null
}
sign sha384 "$WORK/unsigned.exe" "$WORK/sha384.exe"
sign sha256 "$WORK/sha384.exe" "$OUT/pe64-sha384.exe" -nest
osslsigncode verify -CAfile "$PKI/ca.pem" -in "$OUT/pe64-sha384.exe" >/dev/null
echo "wrote $OUT/pe64-sha384.exe"
