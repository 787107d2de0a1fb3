//! Planning: what must change on the update server, as reviewable typed actions.
//! Nothing here performs side effects.

mod approvals;
pub mod budget;
mod builder;
mod certificates;
mod content_certs;
pub mod deselected;
pub mod diff;
pub mod file;
pub mod hygiene;
pub mod limits;
pub mod model;
mod package_ref;
pub mod render;
pub mod shown;
pub mod signing;
pub mod suspend;
pub mod targets;
mod updates;
pub mod windows;

pub use model::*;
