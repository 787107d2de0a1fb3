//! The last snapshot's updates and category trees, kept beside the database for the token
//! they were read at.
//!
//! Reading 100,000 updates with their files and supersedence out of SQLite was half of a
//! no-op plan's wall time: stepping the rows, decoding hexadecimal digests and dates, and
//! inserting into the map in table order. A plan that follows a plan (the daemon's every
//! tick, an admin's second look) reads the same state again. So the snapshot keeps what it
//! read in this file, in postcard (ids as their bits, digests as bytes, each catalog key
//! once), and the next snapshot reads the file instead, as long as the database's
//! `snapshot_token` is the one the file was written for.
//!
//! The rule it keeps: **the file is never the truth**. Every write to a table a snapshot
//! reads sets a new random token (triggers, schema version 13), and the token is read in the
//! snapshot's own transaction; a file made for any other token, of another schema or format
//! version, cut short or damaged, is ignored and replaced. Losing it costs one read of the
//! database.
//!
//! Limits and their reasons:
//! - Updates are written and read in chunks of at most [`CHUNK`], so neither side holds a
//!   second encoded copy of the whole snapshot (tens of megabytes at 100,000 updates).
//! - A chunk's length is checked against [`MAX_CHUNK_BYTES`] before anything is reserved,
//!   and the file holds no count the reader sizes anything by, so a damaged length cannot
//!   make it reserve memory.
//! - The map is filled in id order as the chunks decode, not collected first: a vector of
//!   100,000 updates beside the map was 43 MB at a no-op plan's peak.
//! - The file is replaced whole (temp file, fsync, rename): a reader sees the old file or the
//!   new one, never half of one. Each chunk carries a CRC-32 of its bytes, so a file damaged
//!   after it was written (a bad sector, a stray edit) is read past rather than planned
//!   from: postcard would decode a changed byte inside a title as another title.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::Path;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::catalog::model::{Category, PublicationState};
use crate::ids::{CategoryId, Sha1, Sha256, UpdateId};
use crate::interner::Interner;
use crate::store::{CatalogKey, StoredFile, StoredUpdate, StoredUpdates};

/// Bumped when the stored shape changes; other versions are ignored. 2: no descriptions,
/// the category trees before the updates.
const VERSION: u32 = 2;

/// What the file starts and ends with: another kind of file, or one cut short, never
/// decodes as a snapshot.
const MAGIC: [u8; 8] = *b"supctlC\n";

/// Updates per chunk.
const CHUNK: usize = 1024;

/// No chunk of [`CHUNK`] updates comes near this (a few hundred kilobytes); a length past
/// it is damage.
const MAX_CHUNK_BYTES: usize = 64 << 20;

/// What a snapshot reads that this file can stand in for.
#[derive(Debug, Default, PartialEq)]
pub(super) struct Cached {
    pub updates: StoredUpdates,
    pub categories: BTreeMap<CatalogKey, Vec<Category>>,
}

/// Reads the file at `path` if it was written for `token` under `schema`; `None` for
/// anything else (absent, another token, damaged), which the caller reads from the database.
pub(super) fn load(path: &Path, schema: i64, token: i64) -> Option<Cached> {
    let file = std::fs::File::open(path).ok()?;
    let mut r = std::io::BufReader::with_capacity(1 << 20, file);
    let mut head = [0u8; 28];
    r.read_exact(&mut head).ok()?;
    if head[..8] != MAGIC
        || head[8..12] != VERSION.to_le_bytes()
        || head[12..20] != schema.to_le_bytes()
        || head[20..28] != token.to_le_bytes()
    {
        return None;
    }
    let mut buf = Vec::new();
    let keys: Vec<String> = postcard::from_bytes(chunk(&mut r, &mut buf)?).ok()?;
    let keys: Vec<CatalogKey> = keys
        .iter()
        .map(|k| CatalogKey::parse(k).ok())
        .collect::<Option<_>>()?;
    let trees: Vec<(u32, Vec<CategoryIn>)> = postcard::from_bytes(chunk(&mut r, &mut buf)?).ok()?;
    let mut categories = BTreeMap::new();
    for (k, tree) in trees {
        let key = keys.get(k as usize)?.clone();
        let tree = tree.into_iter().map(CategoryIn::into_category).collect();
        categories.insert(key, tree);
    }
    // The trees' chunk lists every category's members, the largest chunk by far (4.8 MB
    // at 100,000 updates): its buffer goes before the updates are read, so it is not held
    // on top of them at a plan's peak.
    let mut buf = Vec::new();
    let mut updates = BTreeMap::new();
    let mut names = Interner::default();
    loop {
        let part: Vec<UpdateIn> = postcard::from_bytes(chunk(&mut r, &mut buf)?).ok()?;
        if part.is_empty() {
            break;
        }
        for u in part {
            let u = u.into_stored(&keys, &mut names)?;
            // Written in id order; anything else is damage.
            if updates
                .last_key_value()
                .is_some_and(|(last, _): (&UpdateId, _)| *last >= u.id)
            {
                return None;
            }
            updates.insert(u.id, Box::new(u));
        }
    }
    let mut tail = [0u8; 8];
    r.read_exact(&mut tail).ok()?;
    if tail != MAGIC || r.read(&mut [0u8; 1]).ok()? != 0 {
        return None;
    }
    Some(Cached {
        updates,
        categories,
    })
}

/// Replaces the file at `path` with `updates` and `categories` as read at `token`.
pub(super) fn save(
    path: &Path,
    schema: i64,
    token: i64,
    updates: &StoredUpdates,
    categories: &BTreeMap<CatalogKey, Vec<Category>>,
) -> std::io::Result<()> {
    let mut keys: Vec<&CatalogKey> = categories.keys().collect();
    keys.extend(updates.values().map(|u| &u.catalog));
    keys.sort();
    keys.dedup();
    let index = |k: &CatalogKey| keys.binary_search(&k).unwrap_or_default() as u32;
    crate::atomic_file::write_with(path, 0o600, |w| {
        w.write_all(&MAGIC)?;
        w.write_all(&VERSION.to_le_bytes())?;
        w.write_all(&schema.to_le_bytes())?;
        w.write_all(&token.to_le_bytes())?;
        let mut buf = Vec::new();
        let names: Vec<&str> = keys.iter().map(|k| k.as_str()).collect();
        put(w, &mut buf, &names)?;
        let trees: Vec<(u32, Vec<CategoryOut>)> = categories
            .iter()
            .map(|(k, tree)| (index(k), tree.iter().map(CategoryOut::of).collect()))
            .collect();
        put(w, &mut buf, &trees)?;
        let all: Vec<&StoredUpdate> = updates.values().map(|u| &**u).collect();
        for part in all.chunks(CHUNK) {
            let out: Vec<UpdateOut> = part.iter().map(|u| UpdateOut::of(u, index)).collect();
            put(w, &mut buf, &out)?;
        }
        put(w, &mut buf, &Vec::<UpdateOut>::new())?;
        w.write_all(&MAGIC)
    })
}

/// Writes `value` as one chunk (length, CRC-32, bytes), encoded into `buf` (reused).
fn put<T: Serialize>(w: &mut dyn Write, buf: &mut Vec<u8>, value: &T) -> std::io::Result<()> {
    buf.clear();
    let encoded = postcard::to_extend(value, std::mem::take(buf))
        .map_err(|e| std::io::Error::other(format!("encode the snapshot cache: {e}")))?;
    *buf = encoded;
    w.write_all(&(buf.len() as u32).to_le_bytes())?;
    w.write_all(&crc32fast::hash(buf).to_le_bytes())?;
    w.write_all(buf)
}

/// Reads the next chunk into `buf` (reused); `None` when it is cut short or its CRC-32
/// does not match.
fn chunk<'b>(r: &mut impl Read, buf: &'b mut Vec<u8>) -> Option<&'b [u8]> {
    let mut head = [0u8; 8];
    r.read_exact(&mut head).ok()?;
    let [l0, l1, l2, l3, c0, c1, c2, c3] = head;
    let len = u32::from_le_bytes([l0, l1, l2, l3]) as usize;
    if len > MAX_CHUNK_BYTES {
        return None;
    }
    buf.clear();
    buf.resize(len, 0);
    r.read_exact(buf).ok()?;
    (crc32fast::hash(buf) == u32::from_le_bytes([c0, c1, c2, c3])).then_some(buf)
}

/// The ids as their bits (an id's serde form is its text).
struct Bits<'a>(&'a [UpdateId]);

impl Serialize for Bits<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.iter().map(UpdateId::bits))
    }
}

fn ids(bits: Vec<u128>) -> Vec<UpdateId> {
    bits.into_iter().map(UpdateId::from_bits).collect()
}

/// One stored update as written, borrowed ...
#[derive(Serialize)]
struct UpdateOut<'a> {
    id: u128,
    catalog: u32,
    revision: u32,
    content_hash: [u8; 32],
    title: &'a str,
    vendor: &'a str,
    products: &'a [String],
    classification: &'a str,
    severity: Option<&'a str>,
    kb_article: Option<&'a str>,
    update_type: &'a str,
    created: (i64, u32),
    expired: bool,
    declined: bool,
    supersedes: Bits<'a>,
    superseded_by: Bits<'a>,
    files: Vec<FileOut<'a>>,
}

impl<'a> UpdateOut<'a> {
    fn of(u: &'a StoredUpdate, index: impl Fn(&CatalogKey) -> u32) -> Self {
        Self {
            id: u.id.bits(),
            catalog: index(&u.catalog),
            revision: u.revision,
            content_hash: u.content_hash.0,
            title: &u.title,
            vendor: &u.vendor,
            products: &u.products,
            classification: &u.classification,
            severity: u.severity.as_deref(),
            kb_article: u.kb_article.as_deref(),
            update_type: &u.update_type,
            created: (u.created.timestamp(), u.created.timestamp_subsec_nanos()),
            expired: u.publication == PublicationState::Expired,
            declined: u.declined,
            supersedes: Bits(&u.supersedes),
            superseded_by: Bits(&u.superseded_by),
            files: u
                .files
                .iter()
                .map(|f| FileOut {
                    name: &f.name,
                    size: f.size,
                    sha1: f.sha1.0,
                    sha256: f.sha256.map(|d| d.0),
                    uri: f.uri.as_deref(),
                    staged: f.staged,
                })
                .collect(),
        }
    }
}

/// ... and as read back: the names updates share borrowed from the chunk, to be shared
/// through the interner rather than allocated per update.
#[derive(Deserialize)]
struct UpdateIn<'a> {
    id: u128,
    catalog: u32,
    revision: u32,
    content_hash: [u8; 32],
    title: String,
    vendor: &'a str,
    #[serde(borrow)]
    products: Vec<&'a str>,
    classification: &'a str,
    severity: Option<&'a str>,
    kb_article: Option<String>,
    update_type: &'a str,
    created: (i64, u32),
    expired: bool,
    declined: bool,
    supersedes: Vec<u128>,
    superseded_by: Vec<u128>,
    files: Vec<FileIn>,
}

impl UpdateIn<'_> {
    fn into_stored(self, keys: &[CatalogKey], names: &mut Interner) -> Option<StoredUpdate> {
        Some(StoredUpdate {
            id: UpdateId::from_bits(self.id),
            catalog: keys.get(self.catalog as usize)?.clone(),
            revision: self.revision,
            content_hash: Sha256(self.content_hash),
            title: self.title,
            vendor: names.name(self.vendor),
            products: names.list(&self.products),
            classification: names.name(self.classification),
            severity: self.severity.map(|s| names.name(s)),
            kb_article: self.kb_article,
            update_type: names.name(self.update_type),
            created: DateTime::<Utc>::from_timestamp(self.created.0, self.created.1)?,
            publication: if self.expired {
                PublicationState::Expired
            } else {
                PublicationState::Published
            },
            declined: self.declined,
            supersedes: ids(self.supersedes),
            superseded_by: ids(self.superseded_by),
            files: self
                .files
                .into_iter()
                .map(|f| StoredFile {
                    name: f.name,
                    size: f.size,
                    sha1: Sha1(f.sha1),
                    sha256: f.sha256.map(Sha256),
                    uri: f.uri,
                    staged: f.staged,
                })
                .collect(),
        })
    }
}

#[derive(Serialize)]
struct FileOut<'a> {
    name: &'a str,
    size: u64,
    sha1: [u8; 20],
    sha256: Option<[u8; 32]>,
    uri: Option<&'a str>,
    staged: bool,
}

#[derive(Deserialize)]
struct FileIn {
    name: String,
    size: u64,
    sha1: [u8; 20],
    sha256: Option<[u8; 32]>,
    uri: Option<String>,
    staged: bool,
}

#[derive(Serialize)]
struct CategoryOut<'a> {
    id: u128,
    display_name: &'a str,
    parent: Option<u128>,
    members: Bits<'a>,
    path: &'a str,
}

impl<'a> CategoryOut<'a> {
    fn of(c: &'a Category) -> Self {
        Self {
            id: c.id.bits(),
            display_name: &c.display_name,
            parent: c.parent.map(|p| p.bits()),
            members: Bits(&c.members),
            path: &c.path,
        }
    }
}

#[derive(Deserialize)]
struct CategoryIn {
    id: u128,
    display_name: String,
    parent: Option<u128>,
    members: Vec<u128>,
    path: String,
}

impl CategoryIn {
    fn into_category(self) -> Category {
        Category {
            id: CategoryId::from_bits(self.id),
            display_name: self.display_name,
            parent: self.parent.map(CategoryId::from_bits),
            members: ids(self.members),
            path: self.path,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stored(i: u128, catalog: &str) -> StoredUpdate {
        StoredUpdate {
            id: UpdateId::from_bits(i),
            catalog: CatalogKey::parse(catalog).unwrap(),
            revision: 2,
            content_hash: Sha256([i as u8; 32]),
            title: format!("Update {i}"),
            vendor: "Contoso".into(),
            products: vec!["Tools".to_string(), "Drivers".to_string()].into(),
            classification: "Updates".into(),
            severity: i.is_multiple_of(2).then(|| "Critical".into()),
            kb_article: None,
            update_type: "Software".into(),
            created: DateTime::<Utc>::from_timestamp(1_700_000_000, 123_456_789).unwrap(),
            publication: if i == 3 {
                PublicationState::Expired
            } else {
                PublicationState::Published
            },
            declined: i == 2,
            supersedes: (i > 1)
                .then(|| UpdateId::from_bits(i - 1))
                .into_iter()
                .collect(),
            superseded_by: Vec::new(),
            files: vec![StoredFile {
                name: format!("setup-{i}.exe"),
                size: 1000 + i as u64,
                sha1: Sha1([i as u8; 20]),
                sha256: (!i.is_multiple_of(2)).then_some(Sha256([7; 32])),
                uri: Some("http://example.test/setup.exe".into()),
                staged: i == 1,
            }],
        }
    }

    fn state() -> Cached {
        let updates: BTreeMap<_, _> = [(1, "contoso"), (2, "contoso"), (3, "fabrikam")]
            .into_iter()
            .map(|(i, k)| (UpdateId::from_bits(i), Box::new(stored(i, k))))
            .collect();
        let tree = vec![Category {
            id: CategoryId::from_bits(9),
            display_name: "Tools".into(),
            parent: None,
            members: vec![UpdateId::from_bits(1), UpdateId::from_bits(2)],
            path: "Tools".into(),
        }];
        let categories = [(CatalogKey::parse("contoso").unwrap(), tree)].into();
        Cached {
            updates,
            categories,
        }
    }

    #[test]
    fn a_saved_snapshot_reads_back_equal() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store.snapshot");
        let s = state();
        save(&path, 13, 42, &s.updates, &s.categories).unwrap();
        assert_eq!(load(&path, 13, 42), Some(state()));
        let empty = Cached::default();
        save(&path, 13, 42, &empty.updates, &empty.categories).unwrap();
        assert_eq!(load(&path, 13, 42), Some(Cached::default()));
    }

    #[test]
    fn another_token_schema_or_version_is_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store.snapshot");
        let s = state();
        save(&path, 13, 42, &s.updates, &s.categories).unwrap();
        assert_eq!(load(&path, 13, 43), None, "another token");
        assert_eq!(load(&path, 14, 42), None, "another schema");
        let mut bytes = std::fs::read(&path).unwrap();
        bytes[8] ^= 1;
        std::fs::write(&path, &bytes).unwrap();
        assert_eq!(load(&path, 13, 42), None, "another format version");
        assert_eq!(load(&dir.path().join("absent"), 13, 42), None);
    }

    #[test]
    fn updates_out_of_order_are_damage() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store.snapshot");
        let mut s = state();
        // Two entries whose ids disagree with their keys: written in key order, read in
        // id order, they come out of order.
        let a = s.updates.remove(&UpdateId::from_bits(1)).unwrap();
        let b = s.updates.remove(&UpdateId::from_bits(2)).unwrap();
        s.updates.insert(UpdateId::from_bits(1), b);
        s.updates.insert(UpdateId::from_bits(2), a);
        save(&path, 13, 42, &s.updates, &s.categories).unwrap();
        assert_eq!(load(&path, 13, 42), None);
    }
}
