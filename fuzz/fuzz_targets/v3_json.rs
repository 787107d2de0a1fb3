//! The V3 category reader: `update_categories.json` and the `<guid>.json` files (UTF-8 or
//! UTF-16, BOMs, PowerShell's quirks), then the tree checks, the outline and path resolution.
//! Input: the list file, then each category file, separated by `#next#` lines (see
//! `supctl_fuzz::files`); the last piece also serves as a category selector.
#![no_main]

use std::collections::HashSet;

use libfuzzer_sys::fuzz_target;
use supctl::catalog::v3::{
    build_tree, members_under, outline, parse_category, parse_category_list, resolve,
};

fuzz_target!(|data: &[u8]| {
    supctl_fuzz::guard();
    let mut pieces = supctl_fuzz::files(data).into_iter();
    let listed = pieces
        .next()
        .and_then(|list| parse_category_list("update_categories.json", list).ok());
    let mut raw = Vec::new();
    let mut last: &[u8] = &[];
    for (i, piece) in pieces.enumerate() {
        last = piece;
        if let Ok(c) = parse_category(&format!("V3/{i}.json"), piece) {
            raw.push(c);
        }
    }
    let updates: HashSet<_> = raw.iter().flat_map(|c| c.members.iter().cloned()).collect();
    if let Ok(tree) = build_tree(raw, listed.as_deref(), &updates) {
        let _ = outline(&tree);
        let selector = String::from_utf8_lossy(last);
        if let Ok(ids) = resolve(&tree, &selector) {
            let _ = members_under(&tree, &ids);
        }
    }
});
