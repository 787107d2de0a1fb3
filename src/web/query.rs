//! The query string of `/api/updates` and the catalog pages: the filters of
//! `supctl updates list`, plus paging.

use regex::RegexBuilder;
use serde::{Deserialize, Serialize};

use crate::store::query::UpdateFilter;
use crate::store::{CatalogKey, UpdateState};

/// Rows per page unless asked otherwise, and the most a request may ask for.
pub const PER_PAGE: usize = 100;
pub const MAX_PER_PAGE: usize = 1000;

/// `?catalog=&state=&classification=&product=&vendor=&title=&superseded=&page=&per_page=`; empty values
/// (what a form sends for an untouched field) mean "any".
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct UpdatesQuery {
    #[serde(default, skip_serializing_if = "is_blank")]
    pub catalog: Option<String>,
    #[serde(default, skip_serializing_if = "is_blank")]
    pub state: Option<String>,
    #[serde(default, skip_serializing_if = "is_blank")]
    pub classification: Option<String>,
    #[serde(default, skip_serializing_if = "is_blank")]
    pub product: Option<String>,
    #[serde(default, skip_serializing_if = "is_blank")]
    pub vendor: Option<String>,
    /// A case-insensitive regular expression, as `updates list --title` takes.
    #[serde(default, skip_serializing_if = "is_blank")]
    pub title: Option<String>,
    /// `true`: only superseded updates; `false`: only the others; blank: any.
    #[serde(
        default,
        deserialize_with = "blank_or_bool",
        skip_serializing_if = "Option::is_none"
    )]
    pub superseded: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_page: Option<usize>,
}

/// A form's select sends `superseded=` for "any".
fn blank_or_bool<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    let s = String::deserialize(d)?;
    match s.trim() {
        "" => Ok(None),
        "true" => Ok(Some(true)),
        "false" => Ok(Some(false)),
        other => Err(serde::de::Error::custom(format!(
            "superseded: `{other}` is not true or false"
        ))),
    }
}

fn is_blank(v: &Option<String>) -> bool {
    v.as_deref().is_none_or(|s| s.trim().is_empty())
}

fn given(v: &Option<String>) -> Option<String> {
    v.as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

impl UpdatesQuery {
    /// The store's filter, or what is wrong with the query (answered with 400).
    pub fn filter(&self) -> Result<UpdateFilter, String> {
        let catalog = given(&self.catalog)
            .map(|k| {
                CatalogKey::parse(&k).map_err(|_| format!("catalog: `{k}` is not a catalog key"))
            })
            .transpose()?;
        let state = given(&self.state)
            .map(|s| {
                UpdateState::parse(&s).ok_or_else(|| {
                    format!(
                        "state: `{s}` is not one of metadata-only, deployable, expired, declined"
                    )
                })
            })
            .transpose()?;
        let title = given(&self.title)
            .map(|t| {
                RegexBuilder::new(&t)
                    .case_insensitive(true)
                    .size_limit(1 << 20)
                    .build()
                    .map_err(|e| format!("title: not a regular expression: {e}"))
            })
            .transpose()?;
        Ok(UpdateFilter {
            catalog,
            vendor: given(&self.vendor),
            product: given(&self.product),
            classification: given(&self.classification),
            category: None,
            state,
            title,
            superseded: self.superseded,
        })
    }

    /// The page asked for (from 1) and its size (bounded).
    pub fn paging(&self) -> (usize, usize) {
        (
            self.page.unwrap_or(1).max(1),
            self.per_page.unwrap_or(PER_PAGE).clamp(1, MAX_PER_PAGE),
        )
    }

    /// The same query on page `n`.
    pub fn with_page(&self, n: usize) -> Self {
        Self {
            page: Some(n),
            ..self.clone()
        }
    }

    /// The query string (without `?`), blank fields left out.
    pub fn to_query(&self) -> String {
        serde_urlencoded::to_string(self).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blank_fields_mean_any_and_bad_ones_are_named() {
        let q: UpdatesQuery =
            serde_urlencoded::from_str("state=&title=&superseded=&page=2").unwrap();
        let f = q.filter().unwrap();
        assert!(f.state.is_none() && f.title.is_none() && f.superseded.is_none());
        let only: UpdatesQuery = serde_urlencoded::from_str("superseded=true").unwrap();
        assert_eq!(only.filter().unwrap().superseded, Some(true));
        assert_eq!(q.paging(), (2, PER_PAGE));
        let bad: UpdatesQuery = serde_urlencoded::from_str("state=installed").unwrap();
        assert!(bad.filter().unwrap_err().starts_with("state: `installed`"));
        let bad: UpdatesQuery = serde_urlencoded::from_str("title=(").unwrap();
        assert!(bad.filter().unwrap_err().starts_with("title:"));
    }

    #[test]
    fn paging_is_bounded_and_links_keep_the_filters() {
        let q: UpdatesQuery =
            serde_urlencoded::from_str("per_page=999999&page=0&product=Acme Tool").unwrap();
        assert_eq!(q.paging(), (1, MAX_PER_PAGE));
        let link = q.with_page(3).to_query();
        assert!(link.contains("product=Acme+Tool"), "{link}");
        assert!(link.contains("page=3"), "{link}");
        assert!(!link.contains("state="), "{link}");
    }
}
