//! The cabinet reader and the whole catalog extraction behind it: headers, folders, MSZIP and
//! LZX blocks, member paths, then the catalog XML, content certificates and V3 categories.
#![no_main]

use libfuzzer_sys::fuzz_target;
use supctl::catalog::{cab, extract_cab};

fuzz_target!(|data: &[u8]| {
    supctl_fuzz::guard();
    let limits = supctl_fuzz::limits();
    let _ = cab::extract_all(data, &limits.cab());
    let _ = extract_cab(data, &limits, supctl_fuzz::now());
});
