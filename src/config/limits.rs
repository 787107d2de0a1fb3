//! `[limits]`: how large a catalog supctl agrees to read.
//!
//! A catalog is signed by its vendor, not written by supctl's admins, and a signed file can
//! still be hostile or broken: a few megabytes of cabinet can claim gigabytes of XML, one
//! package can hold 200,000 languages. Every catalog is checked against these bounds while it
//! is read, so a catalog under them plans in memory proportional to its size and one over
//! them is refused with the limit's key, the offending object and how to raise it. The
//! defaults sit far above the largest real catalogs (Lenovo: 3,063 updates in 51 MB of XML;
//! Dell: 180 KB for its largest package; a few languages per package).

use schemars::JsonSchema;
use serde::Serialize;

use super::reader::{Cx, Table};

pub(super) const LIMITS_KEYS: &[&str] = &[
    "max_updates",
    "max_package_kib",
    "max_text_kib",
    "max_languages",
    "max_inflated_mib",
];

/// Bounds on one catalog; each is a whole number, at least 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    /// Updates (`SoftwareDistributionPackage` elements) in one catalog. Default 50000.
    #[serde(default = "default_updates")]
    pub max_updates: u64,
    /// Size of one package's XML, KiB. Default 8192 (8 MiB).
    #[serde(default = "default_package_kib")]
    pub max_package_kib: u64,
    /// Longest element text or attribute value in a package, KiB. Default 1024 (1 MiB).
    #[serde(default = "default_text_kib")]
    pub max_text_kib: u64,
    /// Languages (`LocalizedProperties`) in one package. Default 256.
    #[serde(default = "default_languages")]
    pub max_languages: u64,
    /// Bytes decompressed from a catalog cabinet, MiB, each byte counted once even when
    /// members overlap (for a bare catalog XML: its size). Default 1024 (1 GiB).
    #[serde(default = "default_inflated_mib")]
    pub max_inflated_mib: u64,
}

fn default_updates() -> u64 {
    50_000
}
fn default_package_kib() -> u64 {
    8 * 1024
}
fn default_text_kib() -> u64 {
    1024
}
fn default_languages() -> u64 {
    256
}
fn default_inflated_mib() -> u64 {
    1024
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_updates: default_updates(),
            max_package_kib: default_package_kib(),
            max_text_kib: default_text_kib(),
            max_languages: default_languages(),
            max_inflated_mib: default_inflated_mib(),
        }
    }
}

/// Reads `[limits]`: each key a whole number from 1 up to a bound that keeps byte counts
/// far from overflow (1 TiB for sizes).
pub(super) fn limits(cx: &mut Cx, t: &Table) -> Limits {
    cx.check_keys(t, LIMITS_KEYS);
    let mut l = Limits::default();
    let read = |cx: &mut Cx, key: &str, max: u64, slot: &mut u64| {
        if let Some(n) = cx.uint(t, key, max) {
            if n == 0 {
                let span = t.get(key).map(|v| v.span()).unwrap_or(t.span.clone());
                cx.error(
                    &span,
                    format!("`limits.{key}` must be at least 1"),
                    Some("remove the key to use the default".into()),
                );
            } else {
                *slot = n;
            }
        }
    };
    read(cx, "max_updates", 1 << 32, &mut l.max_updates);
    read(cx, "max_package_kib", 1 << 30, &mut l.max_package_kib);
    read(cx, "max_text_kib", 1 << 30, &mut l.max_text_kib);
    read(cx, "max_languages", 1 << 32, &mut l.max_languages);
    read(cx, "max_inflated_mib", 1 << 20, &mut l.max_inflated_mib);
    l
}
