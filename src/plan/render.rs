//! Human-readable plan output: a summary line and per-object detail with field diffs.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use owo_colors::OwoColorize;
use serde_json::Value;
use similar::{ChangeTag, TextDiff};

use super::model::{Action, ActionKind, Plan, Severity, human_bytes};
use super::shown::Shown;

/// Most update lines shown per catalog and kind in text output; `--json` has them all.
const UPDATE_LINES: usize = 25;

/// `Plan: 1 to add, 0 to change, 1 to replace, 0 to destroy; 154 updates to publish, ...`.
///
/// "No changes" is said only when there is nothing left to do: a plan whose errors kept
/// objects out, or whose catalogs wait for an approval, says so instead.
pub fn summary_line(plan: &Plan) -> String {
    let errors = plan.error_count();
    let blocked = plan.summary.blocked;
    let mut tail = String::new();
    if blocked > 0 {
        let _ = write!(
            tail,
            " {blocked} object{} await{} approval (see above).",
            if blocked == 1 { "" } else { "s" },
            if blocked == 1 { "s" } else { "" }
        );
    }
    if errors > 0 {
        let _ = write!(
            tail,
            " {errors} error{} (see above): nothing can be applied until {} fixed.",
            if errors == 1 { "" } else { "s" },
            if errors == 1 { "it is" } else { "they are" }
        );
    }
    if !plan.changes {
        if tail.is_empty() {
            return "No changes. The update server matches the desired state.".to_string();
        }
        return format!("No changes planned.{tail}");
    }
    let s = &plan.summary;
    let u = &s.updates;
    let mut line = format!(
        "Plan: {} to add, {} to change, {} to replace, {} to destroy; {} update{} to publish, {} to revise, {} to expire, {} to stage",
        s.add,
        s.change,
        s.replace,
        s.destroy,
        u.publish,
        if u.publish == 1 { "" } else { "s" },
        u.revise,
        u.expire,
        u.stage
    );
    if u.stage > 0 {
        let _ = write!(line, " ({})", human_bytes(u.stage_bytes));
    }
    // Shown only when there are any, so plans without hygiene rules read as before.
    if u.decline > 0 || u.undecline > 0 {
        let _ = write!(
            line,
            ", {} to decline, {} to undecline",
            u.decline, u.undecline
        );
    }
    if u.unstage > 0 {
        let _ = write!(
            line,
            ", {} to unstage ({})",
            u.unstage,
            human_bytes(u.unstage_bytes)
        );
    }
    line.push('.');
    line.push_str(&tail);
    line
}

fn symbol(kind: ActionKind) -> String {
    match kind {
        ActionKind::Create | ActionKind::Publish | ActionKind::Subscribe | ActionKind::Approve => {
            "+".green().to_string()
        }
        ActionKind::Delete
        | ActionKind::Expire
        | ActionKind::Unsubscribe
        | ActionKind::Block
        | ActionKind::Decline
        | ActionKind::Unstage => "-".red().to_string(),
        ActionKind::Undecline => "+".green().to_string(),
        ActionKind::Replace => "-/+".yellow().to_string(),
        ActionKind::Update | ActionKind::Revise => "~".yellow().to_string(),
        ActionKind::Stage => "↓".cyan().to_string(),
    }
}

fn scalar(v: &Value) -> String {
    match v {
        Value::String(s) => format!("{s:?}"),
        Value::Null => "null".into(),
        other => other.to_string(),
    }
}

/// Field-by-field differences of two JSON objects; long text gets a line diff.
fn field_diff(out: &mut String, before: Option<&Value>, after: Option<&Value>) {
    let empty = serde_json::Map::new();
    let b = before.and_then(Value::as_object).unwrap_or(&empty);
    let a = after.and_then(Value::as_object).unwrap_or(&empty);
    let keys: std::collections::BTreeSet<&String> = b.keys().chain(a.keys()).collect();
    let width = keys.iter().map(|k| k.len()).max().unwrap_or(0);
    for k in keys {
        match (b.get(k), a.get(k)) {
            (Some(x), Some(y)) if x == y => {}
            (None | Some(Value::Null), Some(y)) if before.is_none() => {
                if !y.is_null() {
                    let _ = writeln!(out, "      {k:width$} = {}", scalar(y));
                }
            }
            (Some(Value::String(x)), Some(Value::String(y)))
                if x.len() + y.len() > 120 || x.contains('\n') =>
            {
                let _ = writeln!(out, "    {} {k}:", "~".yellow());
                let diff = TextDiff::from_lines(x.as_str(), y.as_str());
                for change in diff.iter_all_changes() {
                    let (sign, text) = match change.tag() {
                        ChangeTag::Delete => ("-".red().to_string(), change.to_string()),
                        ChangeTag::Insert => ("+".green().to_string(), change.to_string()),
                        ChangeTag::Equal => (" ".to_string(), change.to_string()),
                    };
                    let _ = write!(out, "        {sign} {text}");
                    if !text.ends_with('\n') {
                        out.push('\n');
                    }
                }
            }
            (x, y) => {
                let _ = writeln!(
                    out,
                    "    {} {k:width$} = {} -> {}",
                    "~".yellow(),
                    x.map(scalar).unwrap_or_else(|| "(unset)".into()),
                    y.map(scalar).unwrap_or_else(|| "(unset)".into())
                );
            }
        }
    }
}

fn object_action(out: &mut String, a: &Action) {
    let _ = writeln!(
        out,
        "  # {} will be {}: {}",
        a.address.bold(),
        past(a.kind),
        a.reason
    );
    let _ = writeln!(out, "  {} {}", symbol(a.kind), a.address);
    if let Some(why) = &a.unsupported {
        let _ = writeln!(out, "    ! {}", why.yellow());
    }
    let (before, after) = (
        a.before.as_ref().map(Shown::value),
        a.after.as_ref().map(Shown::value),
    );
    field_diff(out, before.as_ref(), after.as_ref());
    out.push('\n');
}

fn past(kind: ActionKind) -> &'static str {
    match kind {
        ActionKind::Create => "created",
        ActionKind::Update => "updated in place",
        ActionKind::Replace => "replaced",
        ActionKind::Delete => "deleted",
        ActionKind::Subscribe => "subscribed",
        ActionKind::Unsubscribe => "unsubscribed",
        ActionKind::Approve => "approved",
        ActionKind::Block => "blocked",
        ActionKind::Publish => "published",
        ActionKind::Revise => "revised",
        ActionKind::Expire => "expired",
        ActionKind::Stage => "staged",
        ActionKind::Decline => "declined",
        ActionKind::Undecline => "undeclined",
        ActionKind::Unstage => "unstaged (content removed)",
    }
}

/// The catalog an update address belongs to: `catalog.a.update[x]` → `catalog.a`.
fn owner(address: &str) -> &str {
    address.split(".update[").next().unwrap_or(address)
}

fn title_of(a: &Action) -> String {
    a.after
        .as_ref()
        .or(a.before.as_ref())
        .and_then(|v| v.get("title"))
        .and_then(|t| t.as_str().map(str::to_string))
        .unwrap_or_default()
}

/// The whole plan as text: detail first, summary line last (as Terraform prints it).
pub fn text(plan: &Plan) -> String {
    let mut out = String::new();
    if !plan.targets.is_empty() {
        let _ = writeln!(
            out,
            "{} this plan is limited to {} and what it depends on; other changes may be pending.\n",
            "Warning:".yellow().bold(),
            plan.targets
                .iter()
                .map(|t| t.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    let mut per_catalog: BTreeMap<&str, BTreeMap<ActionKind, Vec<&Action>>> = BTreeMap::new();
    let mut any = false;
    for a in &plan.actions {
        if a.kind.is_update_action() {
            per_catalog
                .entry(owner(a.address.as_str()))
                .or_default()
                .entry(a.kind)
                .or_default()
                .push(a);
        } else {
            if !any {
                out.push_str("supctl will perform the following actions:\n\n");
                any = true;
            }
            object_action(&mut out, a);
        }
    }
    for (catalog, kinds) in per_catalog {
        let counts: Vec<String> = kinds
            .iter()
            .map(|(k, v)| format!("{} to {k}", v.len()))
            .collect();
        let _ = writeln!(out, "  # {} updates: {}", catalog.bold(), counts.join(", "));
        for (kind, actions) in kinds {
            for a in actions.iter().take(UPDATE_LINES) {
                let id = a
                    .address
                    .as_str()
                    .rsplit('[')
                    .next()
                    .unwrap_or("")
                    .trim_end_matches(']');
                let mut line = format!("  {} {kind:7} {id}  {}", symbol(kind), title_of(a));
                if kind == ActionKind::Stage {
                    let _ = write!(line, " ({})", human_bytes(a.bytes));
                }
                if let Some(why) = &a.unsupported {
                    let _ = write!(line, "  [{}]", why);
                }
                let _ = writeln!(out, "{line}");
            }
            if actions.len() > UPDATE_LINES {
                let _ = writeln!(
                    out,
                    "    ... and {} more to {kind} (see --json)",
                    actions.len() - UPDATE_LINES
                );
            }
        }
        out.push('\n');
    }
    for d in &plan.diagnostics {
        let level = match d.severity {
            Severity::Error => "Error".red().bold().to_string(),
            Severity::Warning => "Warning".yellow().bold().to_string(),
            Severity::Info => "Note".cyan().to_string(),
        };
        let _ = writeln!(out, "{level} [{}] {}: {}", d.code, d.address, d.message);
        if let Some(h) = &d.hint {
            for line in h.lines() {
                let _ = writeln!(out, "    {line}");
            }
        }
        out.push('\n');
    }
    out.push_str(&summary_line(plan));
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::super::model::*;
    use super::*;
    use serde_json::json;

    #[test]
    fn text_shows_field_diffs_and_summary() {
        let actions = vec![
            Action {
                address: "catalog.a".into(),
                kind: ActionKind::Update,
                before: Some(json!({"schedule": "every 7 days", "name": "A"}).into()),
                after: Some(json!({"schedule": "every 1 day", "name": "A"}).into()),
                reason: "schedule changed".into(),
                before_fingerprint: None,
                bytes: 0,
                unsupported: None,
                payload: None,
            },
            Action {
                address: "catalog.a.update[u1]".into(),
                kind: ActionKind::Publish,
                before: None,
                after: Some(json!({"title": "Tool 1.0"}).into()),
                reason: "new in catalog".into(),
                before_fingerprint: None,
                bytes: 0,
                unsupported: None,
                payload: None,
            },
        ];
        let text = text(&Plan::new("c".into(), actions, vec![]));
        assert!(
            text.contains("\"every 7 days\" -> \"every 1 day\""),
            "{text}"
        );
        assert!(!text.contains("name"), "{text}");
        assert!(text.contains("publish u1  Tool 1.0"), "{text}");
        assert!(text.ends_with("Plan: 0 to add, 1 to change, 0 to replace, 0 to destroy; 1 update to publish, 0 to revise, 0 to expire, 0 to stage.\n"), "{text}");
    }

    #[test]
    fn empty_plan_says_no_changes() {
        let text = text(&Plan::new("c".into(), vec![], vec![]));
        assert!(text.contains("No changes."));
    }
}
