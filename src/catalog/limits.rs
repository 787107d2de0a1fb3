//! The config's `[limits]` as the catalog readers apply them, and the error that names one.
//!
//! The cabinet reader and the XML parser check each bound while they stream, before the
//! offending bytes are copied, so refusing a catalog costs no more memory than reading the
//! part of it that was under the limits.

use std::fmt;

use crate::config;

/// One configured bound, by its key in `[limits]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    Updates,
    PackageBytes,
    TextBytes,
    Languages,
    InflatedBytes,
}

impl Limit {
    /// The TOML key, as an admin writes it.
    pub fn key(self) -> &'static str {
        match self {
            Limit::Updates => "max_updates",
            Limit::PackageBytes => "max_package_kib",
            Limit::TextBytes => "max_text_kib",
            Limit::Languages => "max_languages",
            Limit::InflatedBytes => "max_inflated_mib",
        }
    }

    /// Bytes (or items) per unit of the configured number.
    fn unit(self) -> u64 {
        match self {
            Limit::PackageBytes | Limit::TextBytes => 1 << 10,
            Limit::InflatedBytes => 1 << 20,
            Limit::Updates | Limit::Languages => 1,
        }
    }
}

/// The bounds in the units the readers count (bytes, items).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CatalogLimits {
    pub updates: u64,
    pub package_bytes: u64,
    pub text_bytes: u64,
    pub languages: u64,
    pub inflated_bytes: u64,
}

impl CatalogLimits {
    /// The value in force for `limit`, in counted units.
    pub fn get(&self, limit: Limit) -> u64 {
        match limit {
            Limit::Updates => self.updates,
            Limit::PackageBytes => self.package_bytes,
            Limit::TextBytes => self.text_bytes,
            Limit::Languages => self.languages,
            Limit::InflatedBytes => self.inflated_bytes,
        }
    }

    /// An error for `limit`, which `what` (e.g. "the package's XML is 9000000 bytes")
    /// goes over.
    pub fn exceeded(&self, limit: Limit, what: impl Into<String>) -> LimitExceeded {
        LimitExceeded {
            limit,
            configured: self.get(limit) / limit.unit(),
            what: what.into(),
        }
    }

    /// The cabinet reader's bounds: every byte it decompresses counts once against the
    /// inflated limit, which also bounds any single member.
    pub fn cab(&self) -> super::cab::Limits {
        super::cab::Limits {
            max_total: self.inflated_bytes,
            max_file: self.inflated_bytes,
        }
    }
}

impl From<&config::Limits> for CatalogLimits {
    fn from(l: &config::Limits) -> Self {
        Self {
            updates: l.max_updates,
            package_bytes: l.max_package_kib.saturating_mul(Limit::PackageBytes.unit()),
            text_bytes: l.max_text_kib.saturating_mul(Limit::TextBytes.unit()),
            languages: l.max_languages,
            inflated_bytes: l
                .max_inflated_mib
                .saturating_mul(Limit::InflatedBytes.unit()),
        }
    }
}

impl Default for CatalogLimits {
    /// The documented defaults of `[limits]`.
    fn default() -> Self {
        Self::from(&config::Limits::default())
    }
}

/// A catalog goes over one of the `[limits]`: what, which key, and how to raise it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct LimitExceeded {
    pub limit: Limit,
    /// The configured number, in the key's unit.
    pub configured: u64,
    pub what: String,
}

impl fmt::Display for LimitExceeded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let key = self.limit.key();
        write!(
            f,
            "{}, over the limit `[limits] {key} = {}`",
            self.what, self.configured
        )?;
        let unit = self.limit.unit();
        if unit > 1 {
            write!(f, " ({} bytes)", self.configured.saturating_mul(unit))?;
        }
        write!(
            f,
            "; if the catalog is trusted and this size is expected, raise `{key}` in the config's [limits] table"
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_message_names_the_key_its_value_and_how_to_raise_it() {
        let l = CatalogLimits::default();
        let e = l.exceeded(Limit::PackageBytes, "the package's XML is 9000000 bytes");
        assert_eq!(
            e.to_string(),
            "the package's XML is 9000000 bytes, over the limit `[limits] max_package_kib = 8192` (8388608 bytes); if the catalog is trusted and this size is expected, raise `max_package_kib` in the config's [limits] table"
        );
        let e = l.exceeded(Limit::Updates, "more than 50000 updates");
        assert!(e.to_string().starts_with(
            "more than 50000 updates, over the limit `[limits] max_updates = 50000`; "
        ));
    }

    #[test]
    fn every_key_is_a_key_of_the_config() {
        let schema: serde_json::Value =
            serde_json::from_str(&crate::config::schema_json()).unwrap();
        for l in [
            Limit::Updates,
            Limit::PackageBytes,
            Limit::TextBytes,
            Limit::Languages,
            Limit::InflatedBytes,
        ] {
            assert!(
                schema["$defs"]["Limits"]["properties"][l.key()].is_object(),
                "{}",
                l.key()
            );
        }
    }
}
