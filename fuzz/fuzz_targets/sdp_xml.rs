//! The catalog XML reader: encodings, entities, namespaces, every SDP element, the limits, and
//! the duplicate-PackageID rule.
#![no_main]

use libfuzzer_sys::fuzz_target;
use supctl::catalog::extract_xml;

fuzz_target!(|data: &[u8]| {
    supctl_fuzz::guard();
    let _ = extract_xml(data, &supctl_fuzz::limits());
});
