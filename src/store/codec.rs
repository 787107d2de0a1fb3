//! Column encodings: RFC 3339 times (exact round trip), upper-case hex digests, JSON for
//! lists, and the words of each text enum. Decoding failures become conversion errors that
//! name the column, so a damaged row is reported rather than silently skipped.

use std::str::FromStr;

use chrono::{DateTime, SecondsFormat, Utc};
use rusqlite::Row;
use rusqlite::types::Type;
use serde::Serialize;
use serde::de::DeserializeOwned;

use std::io::Read as _;

use crate::ids::{Sha1, Sha256};

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct Malformed(String);

fn bad(i: usize, msg: impl Into<String>) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(i, Type::Text, Box::new(Malformed(msg.into())))
}

pub(super) fn ts(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Nanos, true)
}

pub(super) fn json<T: Serialize + ?Sized>(v: &T) -> String {
    serde_json::to_string(v).expect("store values serialise")
}

pub(super) fn parsed<T>(r: &Row, i: usize) -> rusqlite::Result<T>
where
    T: FromStr,
    T::Err: std::fmt::Display,
{
    let s = text_ref(r, i)?;
    s.parse().map_err(|e: T::Err| bad(i, format!("`{s}`: {e}")))
}

pub(super) fn opt_parsed<T>(r: &Row, i: usize) -> rusqlite::Result<Option<T>>
where
    T: FromStr,
    T::Err: std::fmt::Display,
{
    match r.get_ref(i)? {
        rusqlite::types::ValueRef::Null => Ok(None),
        _ => parsed(r, i).map(Some),
    }
}

pub(super) fn time(r: &Row, i: usize) -> rusqlite::Result<DateTime<Utc>> {
    let s: String = r.get(i)?;
    DateTime::parse_from_rfc3339(&s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| bad(i, format!("time `{s}`: {e}")))
}

pub(super) fn opt_time(r: &Row, i: usize) -> rusqlite::Result<Option<DateTime<Utc>>> {
    match r.get::<_, Option<String>>(i)? {
        None => Ok(None),
        Some(_) => time(r, i).map(Some),
    }
}

/// Decodes fixed-size hex without allocating: snapshots decode hundreds of thousands.
fn hex_array<const N: usize>(r: &Row, i: usize) -> rusqlite::Result<[u8; N]> {
    let s = text_ref(r, i)?.as_bytes();
    let nibble = |b: u8| match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    };
    let mut out = [0u8; N];
    if s.len() != 2 * N {
        return Err(bad(
            i,
            format!("expected {} hex digits, got {}", 2 * N, s.len()),
        ));
    }
    for (o, pair) in out.iter_mut().zip(s.chunks_exact(2)) {
        match (nibble(pair[0]), nibble(pair[1])) {
            (Some(h), Some(l)) => *o = h << 4 | l,
            _ => return Err(bad(i, "not hexadecimal")),
        }
    }
    Ok(out)
}

pub(super) fn sha1(r: &Row, i: usize) -> rusqlite::Result<Sha1> {
    hex_array(r, i).map(Sha1)
}

pub(super) fn sha256(r: &Row, i: usize) -> rusqlite::Result<Sha256> {
    hex_array(r, i).map(Sha256)
}

pub(super) fn opt_sha256(r: &Row, i: usize) -> rusqlite::Result<Option<Sha256>> {
    match r.get::<_, Option<String>>(i)? {
        None => Ok(None),
        Some(_) => sha256(r, i).map(Some),
    }
}

pub(super) fn from_json<T: DeserializeOwned>(r: &Row, i: usize) -> rusqlite::Result<T> {
    serde_json::from_str(text_ref(r, i)?).map_err(|e| bad(i, format!("JSON: {e}")))
}

pub(super) fn word<T>(r: &Row, i: usize, parse: fn(&str) -> Option<T>) -> rusqlite::Result<T> {
    let s = text_ref(r, i)?;
    parse(s).ok_or_else(|| bad(i, format!("unknown value `{s}`")))
}

/// Borrowed text, for merge keys that need no allocation.
pub(super) fn text_ref<'r>(r: &'r Row, i: usize) -> rusqlite::Result<&'r str> {
    r.get_ref(i)?
        .as_str()
        .map_err(|e| bad(i, format!("not text: {e}")))
}

/// [`text_ref`] of a column that may be NULL.
pub(super) fn opt_text_ref<'r>(r: &'r Row, i: usize) -> rusqlite::Result<Option<&'r str>> {
    r.get_ref(i)?
        .as_str_or_null()
        .map_err(|e| bad(i, format!("not text: {e}")))
}

/// Package XML is stored packed with zstd, level 1, in `revisions.raw_zstd`: SDP packages
/// are repetitive XML and were most of a store (8.9 KB of 11.7 KB per update in the
/// benchmark profile). Measured per package on 5,000 of the benchmark profile's packages:
/// deflate level 6 (what schemas 12 and 13 stored, in `raw_deflate`) 5.47x at 131-164 MB/s,
/// zstd 1 5.11x at 479 MB/s, zstd 3 5.25x at 363 MB/s. A first apply of 10 x 10,000 updates
/// packs 900 MB of XML on a machine whose two cores are both busy (parsing, writing): 5.5 s
/// of CPU with deflate, 1.9 s with zstd 1, for packages 7% larger.
///
/// One compression context per thread, reused: a new one allocates its tables each time.
pub(super) fn pack_xml(xml: &str) -> Vec<u8> {
    thread_local! {
        static ZSTD: std::cell::RefCell<Option<zstd::bulk::Compressor<'static>>> =
            const { std::cell::RefCell::new(None) };
    }
    ZSTD.with_borrow_mut(|slot| {
        let packed = match slot {
            Some(c) => c.compress(xml.as_bytes()),
            None => zstd::bulk::Compressor::new(PACK_LEVEL).and_then(|mut c| {
                let out = c.compress(xml.as_bytes());
                *slot = Some(c);
                out
            }),
        };
        // Compressing into memory fails only when memory does.
        packed.unwrap_or_else(|e| panic!("packing package XML: {e}"))
    })
}

/// zstd's level for [`pack_xml`] (see there).
const PACK_LEVEL: i32 = 1;

/// Inflated package XML is at most this long: a damaged row cannot make a reader allocate
/// without bound (the largest vendor packages are tens of KB).
const MAX_PACKAGE: u64 = 64 << 20;

/// The package XML of a `revisions` row from its packed columns: `raw_zstd` (column
/// `zstd_col`, schema 14 on), else `raw_deflate` (column `deflate_col`, schemas 12 and 13);
/// `None` when neither is set (a revision stored as text, in `raw_xml`, before schema 12).
pub(super) fn unpack_xml(
    r: &Row,
    zstd_col: usize,
    deflate_col: usize,
) -> rusqlite::Result<Option<String>> {
    if let Some(blob) = r.get_ref(zstd_col)?.as_blob_or_null()? {
        return unzstd(blob).map(Some).map_err(|m| bad(zstd_col, m));
    }
    let Some(blob) = r.get_ref(deflate_col)?.as_blob_or_null()? else {
        return Ok(None);
    };
    inflate(blob).map(Some).map_err(|m| bad(deflate_col, m))
}

fn unzstd(blob: &[u8]) -> Result<String, String> {
    let mut out = Vec::with_capacity(blob.len() * 5);
    zstd::stream::read::Decoder::with_buffer(blob)
        .map_err(|e| format!("packed package XML does not unpack: {e}"))?
        .take(MAX_PACKAGE + 1)
        .read_to_end(&mut out)
        .map_err(|e| format!("packed package XML does not unpack: {e}"))?;
    utf8_within_limit(out)
}

fn inflate(blob: &[u8]) -> Result<String, String> {
    let mut out = Vec::with_capacity(blob.len() * 5);
    flate2::read::DeflateDecoder::new(blob)
        .take(MAX_PACKAGE + 1)
        .read_to_end(&mut out)
        .map_err(|e| format!("packed package XML does not inflate: {e}"))?;
    utf8_within_limit(out)
}

fn utf8_within_limit(out: Vec<u8>) -> Result<String, String> {
    if out.len() as u64 > MAX_PACKAGE {
        return Err(format!(
            "packed package XML unpacks past {MAX_PACKAGE} bytes"
        ));
    }
    String::from_utf8(out).map_err(|_| "packed package XML is not UTF-8".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn package_xml_round_trips_and_damage_is_an_error() {
        let xml = "<sdp:SoftwareDistributionPackage>é".repeat(200);
        let packed = pack_xml(&xml);
        assert!(packed.len() * 10 < xml.len(), "{} bytes", packed.len());
        assert_eq!(unzstd(&packed).unwrap(), xml);
        assert!(unzstd(&packed[..packed.len() / 2]).is_err(), "truncated");
        assert!(unzstd(b"\xff\xfe garbage").is_err());
    }

    /// Stores of schemas 12 and 13 hold raw DEFLATE: still read, and damage is an error.
    #[test]
    fn deflated_package_xml_of_older_stores_still_reads() {
        use std::io::Write as _;
        let xml = "<sdp:SoftwareDistributionPackage>é".repeat(200);
        let mut e = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(xml.as_bytes()).unwrap();
        let deflated = e.finish().unwrap();
        assert_eq!(inflate(&deflated).unwrap(), xml);
        assert!(
            inflate(&deflated[..deflated.len() / 2]).is_err(),
            "truncated"
        );
        assert!(inflate(b"\xff\xfe garbage").is_err());
    }

    /// A package that unpacks past the limit is refused, not held: a damaged or hostile
    /// row cannot make a reader allocate without bound.
    #[test]
    fn a_package_unpacking_past_the_limit_is_refused() {
        let huge = vec![b'a'; MAX_PACKAGE as usize + 1];
        let packed = zstd::bulk::compress(&huge, 1).unwrap();
        let err = unzstd(&packed).unwrap_err();
        assert!(err.contains("unpacks past"), "{err}");
    }

    /// The reused context packs each package as a fresh one would, whatever came before:
    /// an empty one, and one that does not compress.
    #[test]
    fn one_context_packs_each_package_as_a_new_one_would() {
        let fresh = |xml: &str| zstd::bulk::compress(xml.as_bytes(), PACK_LEVEL).unwrap();
        let noise: String = (0..200_000u32)
            .map(|i| char::from(b'!' + (i.wrapping_mul(2_654_435_761) >> 25) as u8 % 90))
            .collect();
        let packages = ["<a/>".repeat(500), String::new(), noise, "<b/>".into()];
        for xml in packages.iter().chain(packages.iter()) {
            let packed = pack_xml(xml);
            assert_eq!(packed, fresh(xml));
            assert_eq!(unzstd(&packed).unwrap(), *xml);
        }
    }
}
