//! Reading `[[window]]` tables and `[archive]` (issue 17's GitOps settings).

use toml::Spanned;

use super::model::{WindowKind, WindowRule};
use super::reader::{Cx, Table};
use super::sections::timezone;

pub(super) const ARCHIVE_KEYS: &[&str] = &["path", "url"];

/// `[archive]`: exactly one of `path` and `url`.
pub(super) fn archive(cx: &mut Cx, t: &Table) -> Option<super::model::Archive> {
    cx.check_keys(t, ARCHIVE_KEYS);
    let path = cx.path(t, "path");
    let url = cx.string(t, "url");
    if let Some(u) = &url {
        super::sections::check_url(cx, t, "url", u, true);
    }
    match (&path, &url) {
        (None, None) => {
            cx.error(
                &t.span,
                "[archive] needs `path` (a directory) or `url` (where the same files are served)",
                Some("path = \"/srv/supctl-archive\"".into()),
            );
            None
        }
        (Some(_), Some(u)) => {
            cx.error(&u.span(), "[archive] takes `path` or `url`, not both", None);
            None
        }
        _ => Some(super::model::Archive {
            path: path.map(Spanned::into_inner),
            url: url.map(Spanned::into_inner),
        }),
    }
}

pub(super) const WINDOW_KEYS: &[&str] = &[
    "name",
    "kind",
    "schedule",
    "duration",
    "catalogs",
    "manual_sync",
    "timezone",
];

/// One `[[window]]`; `index` (from 1) names it when it has no `name`.
pub(super) fn window(cx: &mut Cx, t: &Table, index: usize) -> Option<WindowRule> {
    cx.check_keys(t, WINDOW_KEYS);
    let name = cx.string(t, "name").map(Spanned::into_inner);
    let kind = match cx.choice(t, "kind", &["allow", "deny"]) {
        Some(k) => WindowKind::parse(&k),
        None => {
            if t.get("kind").is_none() {
                cx.error(
                    &t.span,
                    "[[window]] needs `kind`",
                    Some("kind = \"deny\"   # or \"allow\"".into()),
                );
            }
            None
        }
    };
    let schedule = cx.string(t, "schedule");
    let schedule = match &schedule {
        Some(s)
            if s.get_ref().split_whitespace().count() == 5
                && s.get_ref().parse::<croner::Cron>().is_ok() =>
        {
            Some(s.get_ref().split_whitespace().collect::<Vec<_>>().join(" "))
        }
        Some(s) => {
            cx.error(
                &s.span(),
                format!(
                    "`window.schedule` must be a 5-field cron line (when the window starts), got `{}`",
                    s.get_ref()
                ),
                Some("schedule = \"0 8 * * MON-FRI\"   # 08:00 on weekdays".into()),
            );
            None
        }
        None => {
            cx.error(
                &t.span,
                "[[window]] needs `schedule`, a cron line saying when it starts",
                Some("schedule = \"0 8 * * MON-FRI\"".into()),
            );
            None
        }
    };
    let duration = cx.string(t, "duration");
    let length = match &duration {
        Some(d) => match super::notify::parse_interval(d.get_ref()) {
            Ok(l) => chrono::Duration::from_std(l).ok(),
            Err(e) => {
                cx.error(
                    &d.span(),
                    format!("`window.duration`: {e}"),
                    Some("duration = \"10 hours\"".into()),
                );
                None
            }
        },
        None => {
            cx.error(
                &t.span,
                "[[window]] needs `duration`",
                Some("duration = \"10 hours\"".into()),
            );
            None
        }
    };
    let catalogs = cx
        .strings(t, "catalogs")
        .unwrap_or_default()
        .into_iter()
        .map(Spanned::into_inner)
        .collect();
    Some(WindowRule {
        name: Some(name.unwrap_or_else(|| format!("window {index}"))),
        kind: kind?,
        schedule: schedule?,
        duration: duration?.into_inner(),
        catalogs,
        manual_sync: cx.boolean(t, "manual_sync").unwrap_or(false),
        timezone: timezone(cx, t, "timezone"),
        length: length?,
        loc: Some(cx.loc(&t.span)),
    })
}
