//! The desired state: TOML model, loading a file or a directory of files, and validation with
//! `file:line:col` diagnostics. Nothing here talks to an update server.

mod catalog;
mod load;
mod model;
mod reader;
mod schedule;
mod schema;
mod sections;
mod source;

pub use load::{LoadOptions, config_files, default_path, load, load_with};
pub use model::*;
pub use schedule::{IntervalUnit, Schedule, ScheduleError};
pub use schema::schema_json;
pub use source::{Diagnostic, Diagnostics, Loc, Severity};
