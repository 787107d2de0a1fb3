//! The status pages: server-rendered HTML (maud, escaped at compile time), no script, no
//! external asset, so they work offline on an update server and under the listener's strict
//! Content-Security-Policy.
//!
//! Rules the markup keeps:
//! - **Colour is never the only signal**: a result or a warning says so in words (and a
//!   symbol); the colour only repeats it.
//! - **Tables have headers** (`<th scope>`) and a caption, so a screen reader can tell what a
//!   cell means; on a phone the catalog table becomes one card per catalog (each value
//!   labelled, the headers kept for screen readers), other wide tables scroll in their box.
//! - **Refreshing while a pass runs** is a `<meta http-equiv="refresh">`, which needs no
//!   script and stops as soon as a page is rendered after the pass.

pub mod catalog;
pub mod overview;

use chrono::{DateTime, Utc};
use maud::{DOCTYPE, Markup, PreEscaped, html};

use crate::reconcile::status::{CertStatus, MessageStatus, RunStatus};
use crate::store::RunResult;

/// Seconds between reloads while a pass is running.
pub const REFRESH_SECONDS: u32 = 5;

const STYLE: &str = r#"
:root { color-scheme: light dark; --ok: #1a7f37; --bad: #cf222e; --warn: #9a6700; --muted: #59636e; }
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0 auto; max-width: 78rem; padding: 0.75rem; }
header { display: flex; flex-wrap: wrap; gap: 0.25rem 1rem; align-items: baseline; border-bottom: 1px solid #8884; }
header h1 { font-size: 1.3rem; margin: 0.25rem 0; }
h2 { font-size: 1.1rem; margin: 1.5rem 0 0.5rem; }
nav a, header a { margin-right: 0.75rem; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; width: 100%; font-size: 0.93rem; }
caption { text-align: left; font-weight: 600; padding: 0.25rem 0; }
th, td { text-align: left; vertical-align: top; padding: 0.3rem 0.5rem; border-bottom: 1px solid #8883; }
th { font-weight: 600; white-space: nowrap; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
code, .mono { font-family: ui-monospace, "Cascadia Mono", Consolas, monospace; font-size: 0.86rem; word-break: break-all; }
.ok { color: var(--ok); } .bad { color: var(--bad); } .warn { color: var(--warn); } .muted { color: var(--muted); }
.banner { padding: 0.5rem 0.75rem; border: 1px solid #8886; border-radius: 6px; margin: 0.75rem 0; }
ul.warnings { padding-left: 1.2rem; }
form.filters { display: flex; flex-wrap: wrap; gap: 0.5rem 1rem; align-items: end; margin: 0.5rem 0; }
form.filters label { display: flex; flex-direction: column; font-size: 0.85rem; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 0.2rem 1rem; }
dl.facts dt { font-weight: 600; } dl.facts dd { margin: 0; }
@media (max-width: 40rem) {
  body { font-size: 14px; } th, td { padding: 0.25rem 0.35rem; }
  table.cards thead { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); }
  table.cards tr { display: block; border-bottom: 1px solid #8886; padding: 0.4rem 0; }
  table.cards th, table.cards td { display: block; border: 0; padding: 0.1rem 0; text-align: left; }
  table.cards td[data-label]::before { content: attr(data-label) ": "; font-weight: 600; }
}
"#;

/// The frame of every page: title, viewport, style, the refresh while a pass runs.
pub fn layout(title: &str, backend: &str, running: bool, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                @if running {
                    meta http-equiv="refresh" content=(REFRESH_SECONDS);
                }
                title { (title) " · supctl" }
                style { (PreEscaped(STYLE)) }
            }
            body {
                header {
                    h1 { a href="/" { "supctl" } }
                    span.muted { "update server: " (backend) " · version " (env!("CARGO_PKG_VERSION")) }
                }
                @if running {
                    p.banner role="status" id="running" {
                        "⟳ A pass is running; this page reloads every "
                        (REFRESH_SECONDS) " seconds until it ends."
                    }
                }
                main { (body) }
            }
        }
    }
}

/// A time as UTC text in a `<time>` element, with how long ago (or how soon) it is.
pub fn when(t: Option<DateTime<Utc>>, now: DateTime<Utc>) -> Markup {
    match t {
        None => html! { span.muted { "never" } },
        Some(t) => html! {
            time datetime=(t.to_rfc3339()) title=(t.to_rfc3339()) {
                (t.format("%Y-%m-%d %H:%M UTC")) " "
                span.muted { "(" (relative(t, now)) ")" }
            }
        },
    }
}

/// `5 min ago`, `in 2 h`, `3 days ago`.
pub fn relative(t: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let d = now - t;
    let (future, secs) = if d.num_seconds() < 0 {
        (true, -d.num_seconds())
    } else {
        (false, d.num_seconds())
    };
    let span = match secs {
        s if s < 60 => format!("{s} s"),
        s if s < 3600 => format!("{} min", s / 60),
        s if s < 172_800 => format!("{} h", s / 3600),
        s => format!("{} days", s / 86_400),
    };
    if future {
        format!("in {span}")
    } else {
        format!("{span} ago")
    }
}

/// A run's result in words, with a symbol and a colour that repeat it.
pub fn result(r: RunResult) -> Markup {
    match r {
        RunResult::Succeeded => html! { span.ok { "✓ succeeded" } },
        RunResult::Failed => html! { span.bad { "✗ failed" } },
        other => html! { span.warn { "△ " (other) } },
    }
}

/// The last sync of a scope: when, its result, and its first error.
pub fn last_sync(run: Option<&RunStatus>, now: DateTime<Utc>) -> Markup {
    match run {
        None => html! { span.muted { "never" } },
        Some(r) => html! {
            (result(r.result)) " " (when(r.ended.or(Some(r.started)), now))
            @if let Some(m) = &r.message {
                br; span.bad.first-error { (m) }
            }
        },
    }
}

/// A certificate: subject, short thumbprint, expiry (flagged when near or past).
pub fn certificate(c: &CertStatus, now: DateTime<Utc>) -> Markup {
    let soon = c.not_after.is_some_and(|t| {
        t - now < chrono::Duration::days(crate::reconcile::status::EXPIRY_WARNING_DAYS)
    });
    let expired = c.not_after.is_some_and(|t| t < now);
    html! {
        div.cert {
            (c.subject.as_deref().unwrap_or("(subject unknown)"))
            " " code title=(c.thumbprint) { (short(&c.thumbprint)) }
            @if let Some(state) = &c.state { " · " (state) }
            br;
            @if expired {
                span.bad { "✗ expired " } (when(c.not_after, now))
            } @else if soon {
                span.warn { "△ expires " } (when(c.not_after, now))
            } @else {
                span.muted { "expires " } (when(c.not_after, now))
            }
        }
    }
}

/// The first 8 characters of a thumbprint or digest (the whole value is in the title).
pub fn short(s: &str) -> &str {
    s.get(..8).unwrap_or(s)
}

/// A table of status messages with their numbers and ConfigMgr's text.
pub fn messages(caption: &str, list: &[&MessageStatus], now: DateTime<Utc>) -> Markup {
    html! {
        div.scroll {
            table.messages {
                caption { (caption) }
                thead { tr { th scope="col" { "When" } th scope="col" { "Message ID" } th scope="col" { "Severity" } th scope="col" { "Text" } } }
                tbody {
                    @for m in list {
                        tr {
                            td { (when(Some(m.at), now)) }
                            td.num { (m.number) }
                            td { (m.severity) }
                            td { (m.text) }
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_times_read_naturally() {
        let now = Utc::now();
        assert_eq!(
            relative(now - chrono::Duration::seconds(30), now),
            "30 s ago"
        );
        assert_eq!(
            relative(now - chrono::Duration::minutes(5), now),
            "5 min ago"
        );
        assert_eq!(relative(now + chrono::Duration::hours(3), now), "in 3 h");
        assert_eq!(relative(now - chrono::Duration::days(9), now), "9 days ago");
    }

    #[test]
    fn the_refresh_is_there_only_while_a_pass_runs() {
        let page = |running| layout("t", "local", running, html! {}).into_string();
        assert!(page(true).contains("http-equiv=\"refresh\""));
        assert!(!page(false).contains("http-equiv"));
    }

    #[test]
    fn text_is_escaped() {
        let m = MessageStatus {
            at: Utc::now(),
            code: 11516,
            number: 11516,
            severity: "error".into(),
            text: "<script>x</script>".into(),
        };
        let html = messages("m", &[&m], Utc::now()).into_string();
        assert!(html.contains("&lt;script&gt;"), "{html}");
        assert!(!html.contains("<script>"));
    }
}
