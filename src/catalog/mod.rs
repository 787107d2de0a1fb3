//! Acquiring catalogs: fetch, verify, extract, parse.
//!
//! `fetch` downloads, `cab` reads cabinets, `sdp` parses the catalog XML, `v3` the categories, `certs` the
//! content certificates; `extract` ties them into one pass producing
//! [`model::CatalogContent`]; `tally` counts a catalog as it streams (`catalog inspect`);
//! `partners` knows the public partner catalogs.

pub mod acquire;
/// The cabinet reader, a leaf crate of the workspace (`crates/cab`).
pub use supctl_cab as cab;
pub mod certs;
pub mod extract;
pub mod fetch;
pub mod inspect;
pub mod limits;
pub mod model;
pub mod parsed_cache;
pub mod partners;
pub mod sdp;
pub mod summary;
pub mod tally;
pub mod v3;

pub use extract::{ExtractError, Extracted, extract, extract_cab, extract_with, extract_xml};
