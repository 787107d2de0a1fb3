//! Acquiring catalogs: fetch, verify, extract, parse.

pub mod cab;
pub mod model;
pub mod sdp;
pub mod v3;
