//! `[hygiene]` and `[catalog.<key>.hygiene]`: when superseded and expired updates are
//! declined or expired, and whose staged content is removed. Third-party updates that nobody
//! declines make client scans take hours and their content fills the disk; these rules do
//! what an admin would do by hand, as planned actions with their reasons.
//!
//! A catalog's table overrides the global one key by key, so `[hygiene]` can set a house
//! rule and one vendor can keep its superseded BIOS updates longer.

use std::time::Duration;

use schemars::JsonSchema;
use serde::{Serialize, Serializer};

use super::reader::{Cx, Table};
use crate::vocab::text_enum;

pub(super) const HYGIENE_KEYS: &[&str] = &[
    "decline_superseded",
    "decline_expired",
    "expire_superseded",
    "remove_content_of",
];

text_enum!(
    /// Updates whose staged content `remove_content_of` removes.
    ContentOf {
        /// Declined updates (clients never install them).
        Declined = "declined",
        /// Expired updates (final on WSUS).
        Expired = "expired",
    }
);

/// One set of hygiene rules; `None` leaves a rule to the global table (or off).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Hygiene {
    /// Decline an update this long after a newer update on the server superseded it
    /// (`"30 days"`; `"0 days"`: at once). Never while it is the newest of its chain.
    #[serde(serialize_with = "age", skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<String>")]
    pub decline_superseded: Option<Duration>,
    /// Decline updates that are expired (the catalog expired them, or a rule did).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decline_expired: Option<bool>,
    /// Expire an update this long after a newer one superseded it (expiry is final on WSUS).
    #[serde(serialize_with = "age", skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<String>")]
    pub expire_superseded: Option<Duration>,
    /// Remove the staged content of updates in these states (`"declined"`, `"expired"`)
    /// when no other update uses the same file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remove_content_of: Option<Vec<ContentOf>>,
}

/// An age as the config's JSON shows it (`2592000 seconds`): `[hygiene]` and `[[approve]]`.
pub(super) fn age<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
    match d {
        Some(d) => s.collect_str(&format_args!("{} seconds", d.as_secs())),
        None => s.serialize_none(),
    }
}

impl Hygiene {
    /// These rules with `global`'s for every key this table leaves unset.
    pub fn over(&self, global: &Hygiene) -> Hygiene {
        Hygiene {
            decline_superseded: self.decline_superseded.or(global.decline_superseded),
            decline_expired: self.decline_expired.or(global.decline_expired),
            expire_superseded: self.expire_superseded.or(global.expire_superseded),
            remove_content_of: self
                .remove_content_of
                .clone()
                .or_else(|| global.remove_content_of.clone()),
        }
    }

    /// True when any rule is on.
    pub fn any(&self) -> bool {
        self.decline_superseded.is_some()
            || self.decline_expired == Some(true)
            || self.expire_superseded.is_some()
            || self
                .remove_content_of
                .as_ref()
                .is_some_and(|l| !l.is_empty())
    }

    /// Whether `remove_content_of` names `state`.
    pub fn removes_content_of(&self, state: ContentOf) -> bool {
        self.remove_content_of
            .as_ref()
            .is_some_and(|l| l.contains(&state))
    }
}

pub(super) fn hygiene(cx: &mut Cx, t: &Table) -> Hygiene {
    cx.check_keys(t, HYGIENE_KEYS);
    let age = |cx: &mut Cx, key: &str| {
        let v = cx.string(t, key)?;
        match super::notify::parse_age(v.get_ref()) {
            Ok(d) => Some(d),
            Err(e) => {
                cx.error(
                    &v.span(),
                    format!("`{}`: {e}", super::reader::dotted(&t.name, key)),
                    Some(format!("{key} = \"30 days\"   # \"0 days\": at once")),
                );
                None
            }
        }
    };
    let decline_superseded = age(cx, "decline_superseded");
    let expire_superseded = age(cx, "expire_superseded");
    let remove_content_of = cx.strings(t, "remove_content_of").map(|items| {
        let mut out = Vec::new();
        for item in items {
            match ContentOf::parse(item.get_ref()) {
                Some(s) if !out.contains(&s) => out.push(s),
                Some(_) => {}
                None => cx.error(
                    &item.span(),
                    format!(
                        "`{}` entry `{}` is not an update state whose content can be removed",
                        super::reader::dotted(&t.name, "remove_content_of"),
                        item.get_ref()
                    ),
                    Some("remove_content_of = [\"declined\", \"expired\"]".into()),
                ),
            }
        }
        out
    });
    if let (Some(decline), Some(expire)) = (decline_superseded, expire_superseded)
        && expire < decline
    {
        let span = t
            .get("expire_superseded")
            .map(|v| v.span())
            .unwrap_or(t.span.clone());
        cx.warn(
            &span,
            format!(
                "`{}` is shorter than `decline_superseded`: superseded updates are expired before they would be declined",
                super::reader::dotted(&t.name, "expire_superseded")
            ),
            Some("expire after declining, e.g. decline_superseded = \"30 days\", expire_superseded = \"90 days\"".into()),
        );
    }
    Hygiene {
        decline_superseded,
        decline_expired: cx.boolean(t, "decline_expired"),
        expire_superseded,
        remove_content_of,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_catalogs_rules_override_the_global_ones_key_by_key() {
        let global = Hygiene {
            decline_superseded: Some(Duration::from_secs(30 * 86_400)),
            decline_expired: Some(true),
            expire_superseded: None,
            remove_content_of: Some(vec![ContentOf::Declined]),
        };
        let own = Hygiene {
            decline_superseded: Some(Duration::ZERO),
            remove_content_of: Some(vec![]),
            ..Hygiene::default()
        };
        let e = own.over(&global);
        assert_eq!(e.decline_superseded, Some(Duration::ZERO));
        assert_eq!(e.decline_expired, Some(true));
        assert!(
            !e.removes_content_of(ContentOf::Declined),
            "an empty list turns it off"
        );
        assert!(e.any());
        assert!(!Hygiene::default().any());
    }
}
