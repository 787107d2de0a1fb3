//! The desired state: TOML model, loading a file or a directory of files, and validation with
//! `file:line:col` diagnostics. Nothing here talks to an update server.

mod approve;
mod catalog;
mod hygiene;
mod limits;
mod load;
mod model;
mod notify;
mod paths;
mod reader;
mod schema;
mod sections;
mod source;
mod windows;

pub use crate::schedule::{IntervalUnit, Schedule, ScheduleError};
pub use approve::{ApprovalAction, ApproveRule};
pub use hygiene::{ContentOf, Hygiene};
pub use limits::Limits;
pub use load::{LoadOptions, config_files, default_path, load, load_with};
pub use model::*;
pub use notify::{parse_age, parse_interval};
pub use paths::{normalize, same_path_source, stored_path_source};
pub use schema::schema_json;
pub use source::{Diagnostic, Diagnostics, Loc, Severity, suggest};

/// Whether catalog `key` stages any content: its `stage` selects something, or a
/// `[[publish]]` rule names it. Content certificates matter only to such a catalog.
pub fn stages_content(cfg: &Config, key: &str) -> bool {
    cfg.catalogs
        .get(key)
        .is_some_and(|c| c.stage != Staging::None)
        || cfg.publish.iter().any(|r| r.catalog == key)
}
