//! Acquiring catalogs: fetch, verify, extract, parse.

pub mod model;
