//! supctl: keeps a software update point's third-party update catalogs in the state its
//! admins declare in TOML. See `ARCHITECTURE.md` for the code map, invariants and boundaries.

pub mod allocator;
pub mod apply;
pub mod atomic_file;
pub mod bundle;
pub mod catalog;
pub mod cli;
pub mod config;
pub mod doctor;
pub mod import;
pub(crate) mod interner;
pub mod lockfile;
pub mod notify;
/// Identities and digests, a leaf crate of the workspace (`crates/ids`).
pub use supctl_ids as ids;
pub mod partners;
pub mod plan;
pub mod reconcile;
pub mod schedule;
pub mod signing;
pub mod status;
pub mod store;
pub mod trust;
pub mod vocab;
pub mod web;
