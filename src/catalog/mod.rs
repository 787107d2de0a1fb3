//! Acquiring catalogs: fetch, verify, extract, parse.

pub mod fetch;
pub mod model;
