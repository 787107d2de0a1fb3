//! supctl: keeps a software update point's third-party update catalogs in the state its
//! admins declare in TOML. See `docs/architecture.md` for the module map.

pub mod apply;
pub mod catalog;
pub mod cli;
pub mod config;
pub mod ids;
pub mod plan;
pub mod reconcile;
pub mod status;
pub mod store;
pub mod trust;
