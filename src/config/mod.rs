//! The desired state: TOML model, loading a file or a directory of files, and validation with
//! `file:line:col` diagnostics. Nothing here talks to an update server.

mod catalog;
mod limits;
mod load;
mod model;
mod paths;
mod reader;
mod schedule;
mod schema;
mod sections;
mod source;

pub use limits::Limits;
pub use load::{config_files, default_path, load};
pub use model::*;
pub use paths::{normalize, same_path_source, stored_path_source};
pub use schedule::{IntervalUnit, Schedule, ScheduleError};
pub use schema::schema_json;
pub use source::{Diagnostic, Diagnostics, Loc, Severity, suggest};
