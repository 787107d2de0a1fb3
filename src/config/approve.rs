//! `[[approve]]`: approvals of third-party updates to computer target groups, declared as
//! rings (`after`) with deadlines, for WSUS shops without ConfigMgr. UpdateServicesDsc makes
//! Microsoft updates' approval rules declarative; nothing did it for third-party ones.

use std::time::Duration;

use schemars::JsonSchema;
use serde::Serialize;

use super::reader::{Cx, Table};
use super::source::Loc;
use crate::ids::UpdateId;
use crate::vocab::text_enum;

pub(super) const APPROVE_KEYS: &[&str] = &[
    "groups",
    "create_groups",
    "catalog",
    "title",
    "ids",
    "vendor",
    "product",
    "classification",
    "category",
    "action",
    "deadline",
    "after",
];

text_enum!(
    /// What an approval asks of the computers in its groups.
    ApprovalAction {
        /// Install the update (its content must be staged).
        Install = "install",
        /// Uninstall it, where the update supports uninstalling (`UninstallProperties`).
        Uninstall = "uninstall",
    }
);

/// One `[[approve]]` rule.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ApproveRule {
    /// Computer target group names (`All Computers`, or groups of your own).
    pub groups: Vec<String>,
    /// Create the groups that do not exist (under All Computers). Default false: a missing
    /// group is an error naming it.
    #[serde(default)]
    pub create_groups: bool,
    /// Only this catalog's updates (default: every catalog's).
    pub catalog: Option<String>,
    /// Regular expression matched against the update title.
    pub title: Option<String>,
    /// Update ids (GUIDs).
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub ids: Vec<UpdateId>,
    pub vendor: Option<String>,
    pub product: Option<String>,
    pub classification: Option<String>,
    /// A category path (`Contoso/Utilities`, see `supctl catalog categories`) or GUID;
    /// matches the updates in it and its subcategories.
    pub category: Option<String>,
    /// `install` (default) or `uninstall`.
    #[serde(default = "install")]
    pub action: ApprovalAction,
    /// Installation deadline, this long after the approval (`"7 days"`). Default: none.
    #[serde(
        serialize_with = "super::hygiene::age",
        skip_serializing_if = "Option::is_none"
    )]
    #[schemars(with = "Option<String>")]
    pub deadline: Option<Duration>,
    /// Approve only this long after the vendor published the update (its `CreationDate`):
    /// rings (`"0 days"`, `"3 days"`, `"7 days"`). Default: at once.
    #[serde(
        serialize_with = "super::hygiene::age",
        skip_serializing_if = "Option::is_none"
    )]
    #[schemars(with = "Option<String>")]
    pub after: Option<Duration>,
    #[serde(skip)]
    #[schemars(skip)]
    pub loc: Option<Loc>,
}

fn install() -> ApprovalAction {
    ApprovalAction::Install
}

pub(super) fn approve(cx: &mut Cx, t: &Table) -> Option<ApproveRule> {
    cx.check_keys(t, APPROVE_KEYS);
    let groups: Vec<String> = cx
        .string_array(t, "groups", "group names")
        .unwrap_or_default()
        .into_iter()
        .map(|g| g.into_inner())
        .collect();
    if groups.is_empty() {
        cx.error(
            &t.span,
            "[[approve]] needs `groups`, the computer target groups to approve for",
            Some("groups = [\"Ring 1 - Pilot\"]".into()),
        );
    }
    for g in &groups {
        if g.trim().is_empty() || g.len() > 256 {
            cx.error(
                &t.span,
                format!("[[approve]] group name `{g}` must be 1 to 256 characters"),
                None,
            );
        }
    }
    let title = cx.string(t, "title");
    if let Some(re) = &title
        && let Err(e) = regex::Regex::new(re.get_ref())
    {
        cx.error(
            &re.span(),
            format!(
                "`approve.title` is not a valid regular expression: {}",
                e.to_string().lines().last().unwrap_or_default()
            ),
            Some("escape literal characters such as ( ) [ ] . with a backslash".into()),
        );
    }
    let mut ids = Vec::new();
    for s in cx.strings(t, "ids").unwrap_or_default() {
        match UpdateId::parse(s.get_ref()) {
            Ok(id) => ids.push(id),
            Err(e) => cx.error(&s.span(), format!("`approve.ids`: {e}"), None),
        }
    }
    let action = cx
        .choice(t, "action", &["install", "uninstall"])
        .and_then(|a| ApprovalAction::parse(&a))
        .unwrap_or(ApprovalAction::Install);
    let age = |cx: &mut Cx, key: &str| {
        let v = cx.string(t, key)?;
        match super::notify::parse_age(v.get_ref()) {
            Ok(d) => Some(d),
            Err(e) => {
                cx.error(
                    &v.span(),
                    format!("`approve.{key}`: {e}"),
                    Some(format!("{key} = \"7 days\"")),
                );
                None
            }
        }
    };
    let deadline = age(cx, "deadline");
    let after = age(cx, "after");
    let catalog = cx.string(t, "catalog");
    Some(ApproveRule {
        groups,
        create_groups: cx.boolean(t, "create_groups").unwrap_or(false),
        catalog: catalog.map(|c| c.into_inner()),
        title: title.map(|t| t.into_inner()),
        ids,
        vendor: cx.string(t, "vendor").map(|v| v.into_inner()),
        product: cx.string(t, "product").map(|v| v.into_inner()),
        classification: cx.string(t, "classification").map(|v| v.into_inner()),
        category: cx.string(t, "category").map(|v| v.into_inner()),
        action,
        deadline,
        after,
        loc: Some(cx.loc(&t.span)),
    })
}
