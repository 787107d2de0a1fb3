//! The JSON Schema of the desired state, for editors (taplo, Even Better TOML) and reviewers.

use super::model::Config;

/// The schema as printed by `supctl schema` and checked in as `schema/supctl.schema.json`.
pub fn schema_json() -> String {
    let schema = schemars::schema_for!(Config);
    let mut text = serde_json::to_string_pretty(&schema).unwrap_or_default();
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::super::{approve, catalog, hygiene, limits, load, notify, sections, windows};
    use super::*;

    fn properties(schema: &serde_json::Value, def: Option<&str>) -> Vec<String> {
        let node = match def {
            Some(d) => &schema["$defs"][d],
            None => schema,
        };
        let mut keys: Vec<String> = node["properties"]
            .as_object()
            .unwrap_or_else(|| panic!("no properties for {def:?}"))
            .keys()
            .cloned()
            .collect();
        keys.sort();
        keys
    }

    fn sorted(keys: &[&str]) -> Vec<String> {
        let mut v: Vec<String> = keys.iter().map(|s| s.to_string()).collect();
        v.sort();
        v
    }

    /// The reader's key lists and the schema come from separate code; they must agree.
    #[test]
    fn schema_properties_match_the_keys_the_reader_accepts() {
        let schema: serde_json::Value = serde_json::from_str(&schema_json()).unwrap();
        assert_eq!(properties(&schema, None), sorted(load::TOP_KEYS));
        for (def, keys) in [
            ("Server", sections::SERVER_KEYS),
            ("Http", sections::HTTP_KEYS),
            ("SyncSettings", sections::SYNC_KEYS),
            ("Signing", sections::SIGNING_KEYS),
            ("Web", sections::WEB_KEYS),
            ("Defaults", sections::DEFAULTS_KEYS),
            ("Limits", limits::LIMITS_KEYS),
            ("Catalog", catalog::CATALOG_KEYS),
            ("CertificateRule", sections::CERTIFICATE_KEYS),
            ("PublishRule", sections::PUBLISH_KEYS),
            ("WindowRule", windows::WINDOW_KEYS),
            ("Archive", windows::ARCHIVE_KEYS),
            ("NotifyRule", notify::NOTIFY_KEYS),
            ("Hygiene", hygiene::HYGIENE_KEYS),
            ("ApproveRule", approve::APPROVE_KEYS),
        ] {
            assert_eq!(properties(&schema, Some(def)), sorted(keys), "{def}");
        }
    }
}
