//! `supctl schema`: the JSON Schema of the config, for editors.

pub(super) fn run() -> anyhow::Result<u8> {
    crate::out!("{}", crate::config::schema_json());
    Ok(super::EXIT_OK)
}
