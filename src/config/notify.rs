//! Reading one `[[notify]]` table: a receiver and the events it wants.
//!
//! Only names of environment variables are read here; the secrets themselves are read by
//! `watch` at start-up (`crate::notify`), so `validate` and `plan` never touch them.

use std::time::Duration;

use toml::Spanned;

use super::catalog::valid_key;
use super::model::*;
use super::reader::{Cx, Table};
use super::sections::env_name;
use crate::vocab::Severity;

pub(super) const NOTIFY_KEYS: &[&str] = &[
    "name",
    "provider",
    "url_env",
    "secret_env",
    "password_env",
    "severity",
    "events",
    "catalogs",
    "remind_after",
    "from",
    "to",
];

/// The event kinds a rule may name (`test` is sent by `notify test` whatever the filters).
fn event_words() -> Vec<&'static str> {
    [
        EventKind::SyncFailed,
        EventKind::SyncRecovered,
        EventKind::DriftDetected,
        EventKind::SignerChanged,
        EventKind::ContentRefused,
        EventKind::CertificateExpiring,
        EventKind::ApplyCompleted,
        EventKind::DaemonStarted,
        EventKind::DaemonStopped,
    ]
    .iter()
    .map(|k| k.as_str())
    .collect()
}

/// A duration as admins write it in TOML: `24 hours`, `30 minutes`, `2 days`, `1 week`,
/// or the short `90s`, `30m`, `24h`, `2d`. Whole numbers in checked arithmetic, so a huge
/// value is an error, never an overflow.
pub fn parse_interval(text: &str) -> Result<Duration, String> {
    parse_span(text, false, 366)
}

/// An age as the hygiene rules take it: like [`parse_interval`], but `0 days` (at once) is
/// allowed and the longest is ten years, since an update may be kept for years.
pub fn parse_age(text: &str) -> Result<Duration, String> {
    parse_span(text, true, 3_660)
}

fn parse_span(text: &str, zero: bool, max_days: u64) -> Result<Duration, String> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: u64 = num
        .parse()
        .map_err(|_| format!("`{t}` is not a duration like `24 hours` or `30 minutes`"))?;
    let secs_per = match unit.trim().to_ascii_lowercase().as_str() {
        "s" | "sec" | "secs" | "second" | "seconds" => 1,
        "m" | "min" | "mins" | "minute" | "minutes" => 60,
        "h" | "hour" | "hours" => 3_600,
        "d" | "day" | "days" => 86_400,
        "w" | "week" | "weeks" => 604_800,
        "" => {
            return Err(format!(
                "`{t}` needs a unit: seconds, minutes, hours, days or weeks"
            ));
        }
        other => {
            return Err(format!(
                "`{other}` is not a unit: use seconds, minutes, hours, days or weeks"
            ));
        }
    };
    let secs = n
        .checked_mul(secs_per)
        .filter(|s| *s <= max_days * 86_400)
        .ok_or_else(|| {
            if max_days > 366 {
                format!("`{t}` is longer than ten years")
            } else {
                format!("`{t}` is longer than a year")
            }
        })?;
    if secs == 0 && !zero {
        return Err(format!("`{t}`: a duration must be longer than zero"));
    }
    Ok(Duration::from_secs(secs))
}

pub(super) fn notify(cx: &mut Cx, t: &Table) -> Option<NotifyRule> {
    cx.check_keys(t, NOTIFY_KEYS);
    let name = cx.string(t, "name");
    if let Some(n) = &name
        && !valid_key(n.get_ref())
    {
        cx.error(
            &n.span(),
            format!(
                "notify name `{}` must start with a letter or digit and use only letters, digits, `-` and `_`",
                n.get_ref()
            ),
            Some("the name labels logs and metrics, and `supctl notify test NAME` uses it".into()),
        );
    }
    let provider = cx
        .choice(t, "provider", &["webhook", "teams", "slack", "email"])
        .and_then(|p| NotifyProvider::parse(&p));
    let url_env = env_name(cx, t, "url_env", "SUPCTL_NOTIFY_URL");
    for (key, missing) in [
        ("name", t.get("name").is_none()),
        ("provider", t.get("provider").is_none()),
        ("url_env", t.get("url_env").is_none()),
    ] {
        if missing {
            cx.error(
                &t.span,
                format!("[[notify]] needs `{key}`"),
                Some(
                    "name = \"ops\", provider = \"webhook\", url_env = \"SUPCTL_NOTIFY_URL\""
                        .into(),
                ),
            );
        }
    }
    let secret_env = env_name(cx, t, "secret_env", "SUPCTL_NOTIFY_SECRET");
    let password_env = env_name(cx, t, "password_env", "SUPCTL_SMTP_PASSWORD");
    let severity = cx
        .choice(t, "severity", &["error", "warning", "info"])
        .and_then(|s| Severity::parse(&s))
        .unwrap_or(Severity::Warning);
    let words = event_words();
    let mut events = Vec::new();
    for e in cx
        .string_array(t, "events", "event kinds")
        .unwrap_or_default()
    {
        match EventKind::parse(e.get_ref()) {
            Some(EventKind::Test) => cx.error(
                &e.span(),
                format!("`{}.events`: `test` needs no filter", t.name),
                Some("`supctl notify test` reaches every rule whatever its filters".into()),
            ),
            Some(k) => events.push(k),
            None => {
                let hint = match super::source::suggest(e.get_ref(), &words) {
                    Some(s) => format!("did you mean `{s}`?"),
                    None => format!("use any of: {}", words.join(", ")),
                };
                cx.error(
                    &e.span(),
                    format!("`{}.events`: unknown event kind `{}`", t.name, e.get_ref()),
                    Some(hint),
                );
            }
        }
    }
    let catalogs: Vec<Spanned<String>> = cx
        .string_array(t, "catalogs", "catalog keys")
        .unwrap_or_default();
    let remind_after = match cx.string(t, "remind_after") {
        None => DEFAULT_REMIND_AFTER,
        Some(s) => match parse_interval(s.get_ref()) {
            Ok(d) => d,
            Err(e) => {
                cx.error(
                    &s.span(),
                    format!("`{}.remind_after`: {e}", t.name),
                    Some("remind_after = \"24 hours\"".into()),
                );
                DEFAULT_REMIND_AFTER
            }
        },
    };
    let from = cx.string(t, "from");
    let to = cx.string_array(t, "to", "addresses").unwrap_or_default();
    let email = provider == Some(NotifyProvider::Email);
    for s in from.iter().chain(to.iter()) {
        if s.get_ref().parse::<lettre::message::Mailbox>().is_err() {
            cx.error(
                &s.span(),
                format!("`{}` is not a mail address", s.get_ref()),
                Some("e.g. \"ops@corp.example\" or \"Ops <ops@corp.example>\"".into()),
            );
        }
    }
    if let Some(p) = provider {
        let only = |cx: &mut Cx, key: &str, present: bool, owner: &str| {
            if present {
                let span = t.get(key).map(|v| v.span()).unwrap_or(t.span.clone());
                cx.error(
                    &span,
                    format!("`{}.{key}` only applies to provider = \"{owner}\"", t.name),
                    None,
                );
            }
        };
        if p != NotifyProvider::Webhook {
            only(cx, "secret_env", secret_env.is_some(), "webhook");
        }
        if !email {
            only(cx, "password_env", password_env.is_some(), "email");
            only(cx, "from", from.is_some(), "email");
            only(cx, "to", t.get("to").is_some(), "email");
        } else {
            if from.is_none() && t.get("from").is_none() {
                cx.error(
                    &t.span,
                    "[[notify]] with provider = \"email\" needs `from`",
                    Some("from = \"supctl <supctl@corp.example>\"".into()),
                );
            }
            if to.is_empty() && t.get("to").is_none() {
                cx.error(
                    &t.span,
                    "[[notify]] with provider = \"email\" needs `to`",
                    Some("to = [\"endpoint-team@corp.example\"]".into()),
                );
            }
        }
    }
    let loc = name.as_ref().map(|n| cx.loc(&n.span()));
    Some(NotifyRule {
        name: name?.into_inner(),
        provider: provider?,
        url_env: url_env?,
        secret_env,
        password_env,
        severity,
        events,
        catalogs: catalogs.into_iter().map(Spanned::into_inner).collect(),
        remind_after,
        from: from.map(Spanned::into_inner),
        to: to.into_iter().map(Spanned::into_inner).collect(),
        loc,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals_read_as_admins_write_them() {
        assert_eq!(parse_interval("24 hours"), Ok(Duration::from_secs(86_400)));
        assert_eq!(parse_interval("30 minutes"), Ok(Duration::from_secs(1_800)));
        assert_eq!(parse_interval("1 day"), Ok(Duration::from_secs(86_400)));
        assert_eq!(parse_interval("2w"), Ok(Duration::from_secs(1_209_600)));
        assert_eq!(parse_interval("90s"), Ok(Duration::from_secs(90)));
        for bad in [
            "",
            "hours",
            "24",
            "0 hours",
            "1.5 hours",
            "3 parsecs",
            "99999999999999999999 days",
            "400 days",
        ] {
            assert!(parse_interval(bad).is_err(), "{bad}");
        }
    }
}
