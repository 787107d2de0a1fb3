//! The small members of a catalog cabinet besides its XML (`ContentCertificates/*.cer`,
//! `V3/*.json`): which they are, and how they are collected, from the pass over the folders
//! or from the XML's own stream, each V3 file parsed as it arrives.

use std::collections::HashSet;

use super::super::cab::{CabEntry, MemberData, Visitor};
use super::super::v3::{RawCategory, V3Error, parse_category_list, parse_category_with};
use crate::ids::{CategoryId, UpdateId};

/// The small members a catalog needs besides its XML.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Small {
    V3,
    Certificate,
}

pub(super) fn small_kind(e: &CabEntry) -> Option<Small> {
    let p = &e.path;
    if p.is_in_folder("V3") {
        (p.components().len() == 2 && p.has_extension("json")).then_some(Small::V3)
    } else if p.is_in_folder("ContentCertificates") {
        (p.components().len() == 2 && p.has_extension("cer")).then_some(Small::Certificate)
    } else {
        None
    }
}

/// Identifies a directory entry.
pub(super) type EntryKey = (u16, u32, u32, String);

pub(super) fn key_of(e: &CabEntry) -> EntryKey {
    (e.folder, e.folder_offset, e.size, e.raw_name.clone())
}

/// A small member's bytes: a shared range of the cabinet reader's buffers (the pass over the
/// folders), or its own copy (read from the XML's stream).
pub(super) enum Member {
    Shared(MemberData),
    Owned(Vec<u8>),
}

impl std::ops::Deref for Member {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            Member::Shared(d) => d,
            Member::Owned(v) => v,
        }
    }
}

/// A `V3/` file, parsed as it arrives: a category file of a large catalog lists tens of
/// thousands of ids, and holding every file's text until the end doubled what the
/// categories cost. A parse error waits for its turn, so the error reported is the same.
pub(super) enum V3File {
    List(Result<Vec<CategoryId>, V3Error>),
    Category(Result<RawCategory, V3Error>),
}

/// Collects the small members while the cabinet streams, except those read from the XML's
/// stream (`from_xml_stream`).
#[derive(Default)]
pub(super) struct CatalogFiles {
    pub(super) from_xml_stream: HashSet<EntryKey>,
    pub(super) certificates: Vec<(String, Member)>,
    pub(super) v3: Vec<V3File>,
}

impl CatalogFiles {
    /// Adds a member; a category keeps the members `keep_member` returns true for.
    pub(super) fn add(
        &mut self,
        e: &CabEntry,
        data: Member,
        keep_member: &mut dyn FnMut(&UpdateId) -> bool,
    ) {
        match small_kind(e) {
            Some(Small::V3) => {
                let name = e.path.to_string();
                let listed = name
                    .rsplit('/')
                    .next()
                    .is_some_and(|f| f.eq_ignore_ascii_case("update_categories.json"));
                self.v3.push(if listed {
                    V3File::List(parse_category_list(&name, &data))
                } else {
                    V3File::Category(parse_category_with(&name, &data, keep_member))
                });
            }
            Some(Small::Certificate) => self
                .certificates
                .push((e.path.file_name().to_string(), data)),
            None => {}
        }
    }
}

impl Visitor for CatalogFiles {
    fn wants(&mut self, e: &CabEntry) -> bool {
        small_kind(e).is_some() && !self.from_xml_stream.contains(&key_of(e))
    }

    /// Members read before the catalog XML: every category member is kept, since which
    /// updates exist is not known yet.
    fn file(&mut self, e: &CabEntry, data: MemberData) {
        self.add(e, Member::Shared(data), &mut |_| true);
    }
}
