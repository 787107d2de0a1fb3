#!/usr/bin/env python3
"""Peer for `scripts/bench.sh`: the obvious way to ingest a catalog CAB without supctl.

Extracts the CAB with `cabextract` into a temporary directory, then streams the top-level
catalog XML with ElementTree `iterparse` and counts `SoftwareDistributionPackage` elements
by namespace URI (never by prefix, catalog-format.md section 1). Memory stays flat: each
package is cleared once counted. Prints the count; exits 1 on any error.

    python3 scripts/peer_ingest.py CATALOG.cab
"""

import os
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET

SMC = "http://schemas.microsoft.com/sms/2005/04/CorporatePublishing/SystemsManagementCatalog.xsd"
SDP = "http://schemas.microsoft.com/wsus/2005/04/CorporatePublishing/SoftwareDistributionPackage.xsd"
PACKAGE_TAGS = {f"{{{SMC}}}SoftwareDistributionPackage", f"{{{SDP}}}SoftwareDistributionPackage"}


def count_packages(xml_path):
    count = 0
    root = None
    depth = 0
    for event, elem in ET.iterparse(xml_path, events=("start", "end")):
        if event == "start":
            if root is None:
                root = elem
            depth += 1
            continue
        depth -= 1
        # Packages are children of the catalog root (depth 1 once their end is seen).
        if depth == 1 and elem.tag in PACKAGE_TAGS:
            count += 1
            root.clear()
    return count


def main(argv):
    if len(argv) != 2:
        print(__doc__.strip().splitlines()[-1].strip(), file=sys.stderr)
        return 2
    cab = argv[1]
    with tempfile.TemporaryDirectory(prefix="peer-ingest-") as tmp:
        # cabextract warns about the Authenticode signature after the last folder
        # ("possible N extra bytes at end of file"); show its stderr only on failure.
        r = subprocess.run(["cabextract", "-q", "-d", tmp, cab], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        if r.returncode != 0:
            sys.stderr.write(r.stderr.decode(errors="replace"))
            return 1
        xmls = [n for n in os.listdir(tmp) if n.lower().endswith(".xml") and os.path.isfile(os.path.join(tmp, n))]
        if len(xmls) != 1:
            print(f"peer_ingest: expected one top-level .xml in {cab}, found {xmls}", file=sys.stderr)
            return 1
        print(count_packages(os.path.join(tmp, xmls[0])))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
