//! The locally published categories of the double: a `Company` per vendor and a `Product`
//! per product of a vendor of the updates published to it (read from their SDPs), plus
//! other publishers' (`State::foreign_categories`), as WSUS makes them (KB 945536). Rows
//! in the `ExecuteSPGetCategories` column map (§4) with UpdateSource `Other`; a company's
//! products answer `ExecuteSPGetSubcategories`.

use std::collections::BTreeSet;

use supctl::catalog::sdp::parse_catalog;

use super::answers::{Cell, State, row};

/// A locally published category: (kind, vendor, product or "").
type Local = (&'static str, String, String);

/// A stable GUID for a category title path, as WSUS gives each category its own.
fn guid(kind: &str, vendor: &str, product: &str) -> String {
    let hex = supctl::ids::Sha1::of(format!("{kind}\n{vendor}\n{product}").as_bytes()).to_hex();
    let h = hex.to_ascii_uppercase();
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

impl State {
    /// Every locally published category, sorted.
    fn local_categories(&self) -> BTreeSet<Local> {
        let published = self
            .updates
            .iter()
            .filter_map(|u| u.sdp.as_deref())
            .filter_map(|x| parse_catalog(x).ok())
            .flatten()
            .map(|r| (r.vendor.to_string(), r.products.to_vec()));
        published
            .chain(self.foreign_categories.iter().cloned())
            .flat_map(|(vendor, products)| {
                std::iter::once(("Company", vendor.clone(), String::new())).chain(
                    products
                        .into_iter()
                        .map(move |p| ("Product", vendor.clone(), p)),
                )
            })
            .collect()
    }

    fn local_row(i: usize, (kind, vendor, product): &Local) -> String {
        let title = if *kind == "Company" { vendor } else { product };
        let cells: Vec<Cell> = vec![
            Some(("int", (500 + i).to_string())),
            Some(("string", guid(kind, vendor, product))),
            Some(("string", kind.to_string())),
            Some(("boolean", "false".into())),
            Some(("boolean", "false".into())),
            Some(("int", "0".into())),
            Some(("int", i.to_string())),
            Some(("string", title.clone())),
            None,
            None,
            Some(("dateTime", "2024-05-01T00:00:00".into())),
            Some(("string", "Other".into())),
        ];
        row(&cells)
    }

    /// `ExecuteSPGetCategories` rows of the locally published categories.
    pub(crate) fn local_category_rows(&self) -> String {
        self.local_categories()
            .iter()
            .enumerate()
            .map(|(i, c)| Self::local_row(i, c))
            .collect()
    }

    /// `ExecuteSPGetSubcategories` of `id`: a local company's products (none otherwise).
    pub(crate) fn subcategory_rows(&self, id: &str) -> String {
        let all = self.local_categories();
        let Some((_, company, _)) = all
            .iter()
            .find(|(k, v, p)| *k == "Company" && guid(k, v, p).eq_ignore_ascii_case(id))
        else {
            return String::new();
        };
        all.iter()
            .enumerate()
            .filter(|(_, (k, v, _))| *k == "Product" && v == company)
            .map(|(i, c)| Self::local_row(i, c))
            .collect()
    }
}
