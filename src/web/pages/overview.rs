//! `/`: everything `supctl status` says, at a glance: warnings first (what needs a person),
//! then one row per catalog, drift, status messages, the update point's own sync and the
//! recent runs.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use maud::{Markup, html};

use super::{certificate, last_sync, layout, messages, result, when};
use crate::reconcile::status::{ApprovedUpdate, CatalogStatus, MessageStatus, Report};
use crate::store::{FindingKind, SyncRun};

/// Runs listed on the overview (the API has more).
const RUNS_SHOWN: usize = 20;

/// Renders the overview; `report` is `None` until the first pass has published one.
pub fn render(
    report: Option<&Report>,
    runs: &[SyncRun],
    drift: &BTreeMap<String, u64>,
    backend: &str,
    running: bool,
    now: DateTime<Utc>,
) -> Markup {
    let Some(report) = report else {
        return layout(
            "Status",
            backend,
            true,
            html! { p.banner role="status" { "Starting: no pass has finished yet." } },
        );
    };
    let body = html! {
        p {
            @if report.healthy {
                span.ok #health { "✓ Healthy" }
            } @else {
                span.bad #health { "✗ Needs attention" }
            }
            " · report made " (when(Some(report.generated), now))
        }
        (warnings(report))
        h2 #catalogs { "Catalogs" }
        (catalogs(&report.catalogs, drift, now))
        (approvals(&report.approvals))
        (findings(report, now))
        (latest_messages(report, now))
        h2 #update-point { "Update point synchronization" }
        (update_point(report, now))
        h2 #runs { "Recent runs" }
        (recent_runs(runs, now))
    };
    layout("Status", backend, running, body)
}

fn warnings(report: &Report) -> Markup {
    html! {
        h2 #warnings { "Warnings (" (report.warnings.len()) ")" }
        @if report.warnings.is_empty() {
            p.muted { "None." }
        } @else {
            ul.warnings {
                @for w in &report.warnings {
                    li.warning data-code=(w.code) {
                        span.warn { "△ " strong { (w.code) } } " "
                        code { (w.scope) } ": " (w.message)
                    }
                }
            }
        }
    }
}

fn catalogs(list: &[CatalogStatus], drift: &BTreeMap<String, u64>, now: DateTime<Utc>) -> Markup {
    html! {
        div.scroll {
            table #catalog-table.cards {
                caption { "Subscribed catalogs, their signers, syncs and updates" }
                thead {
                    tr {
                        th scope="col" { "Catalog" }
                        th scope="col" { "Signer" }
                        th scope="col" { "Last sync" }
                        th scope="col" { "Next sync" }
                        th scope="col" class="num" { "Metadata-only" }
                        th scope="col" class="num" { "Deployable" }
                        th scope="col" class="num" { "Expired" }
                        th scope="col" class="num" { "Declined" }
                        th scope="col" class="num" { "Deselected" }
                        th scope="col" class="num" { "Superseded" }
                        th scope="col" class="num" { "Drift" }
                    }
                }
                tbody {
                    @for c in list {
                        tr data-catalog=(c.key) {
                            th scope="row" {
                                a href=(format!("/catalogs/{}", c.key)) { (c.name) }
                                br; code.muted { (c.key) }
                                @if !c.subscribed { br; span.muted { "not subscribed" } }
                                @if c.suspended { br; span.warn { "⏸ suspended" } }
                            }
                            td data-label="Signer" {
                                @for s in &c.signers { (certificate(s, now)) }
                                @if c.signers.is_empty() { span.muted { "none approved" } }
                            }
                            td data-label="Last sync" { (last_sync(c.last_sync.as_ref(), now)) }
                            td data-label="Next sync" {
                                (when(c.next_sync, now))
                                @if let Some(w) = &c.window {
                                    br;
                                    @if w.open { span.ok { "▶ window open" } }
                                    @else { span.warn { "⏸ window closed" } " " span.muted { (w.reason.as_deref().unwrap_or("")) } }
                                    @if let Some(t) = w.next_change { br; span.muted { @if w.open { "closes " } @else { "opens " } } (when(Some(t), now)) }
                                }
                            }
                            td.num data-label="Metadata-only" data-state="metadata-only" { (c.updates.metadata_only) }
                            td.num data-label="Deployable" data-state="deployable" { (c.updates.deployable) }
                            td.num data-label="Expired" data-state="expired" { (c.updates.expired) }
                            td.num data-label="Declined" data-state="declined" { (c.updates.declined) }
                            td.num data-label="Deselected" data-state="deselected" { (c.updates.deselected) }
                            td.num data-label="Superseded" data-state="superseded" { (c.updates.superseded) }
                            td.num data-label="Drift" data-drift { (drift.get(&c.key).copied().unwrap_or(0)) }
                        }
                    }
                }
            }
        }
    }
}

/// The approved updates with their groups and, on WSUS, their computers' counts: whether
/// a ring is landing, without opening the console's reports. Shown only when the server
/// holds approvals.
fn approvals(list: &[ApprovedUpdate]) -> Markup {
    let counted = list.iter().any(|a| a.compliance.is_some());
    html! {
        @if !list.is_empty() {
            h2 #approvals { "Approvals (" (list.len()) ")" }
            div.scroll {
                table #approvals-table {
                    caption {
                        "Updates approved for computer groups"
                        @if counted { ", with how many computers need them, installed them and failed" }
                    }
                    thead {
                        tr {
                            th scope="col" { "Update" } th scope="col" { "Approved for" }
                            @if counted {
                                th scope="col" class="num" { "Needed" }
                                th scope="col" class="num" { "Installed" }
                                th scope="col" class="num" { "Failed" }
                            }
                        }
                    }
                    tbody {
                        @for a in list {
                            tr data-update=(a.id) {
                                th scope="row" {
                                    @if let Some(k) = &a.catalog {
                                        a href=(format!("/catalogs/{k}/updates/{}", a.id)) { (a.title) }
                                    } @else { (a.title) }
                                }
                                td { (a.approved_for.join(", ")) }
                                @if let Some(c) = a.compliance {
                                    td.num data-count="needed" { (c.needed) }
                                    td.num data-count="installed" { (c.installed) }
                                    td.num data-count="failed" {
                                        @if c.failed > 0 { span.bad { (c.failed) } } @else { (c.failed) }
                                    }
                                } @else if counted {
                                    td.num { "—" } td.num { "—" } td.num { "—" }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn findings(report: &Report, now: DateTime<Utc>) -> Markup {
    html! {
        h2 #drift { "Drift and held-back plans" }
        @if report.findings.is_empty() {
            p.muted { "None: the last passes found the server as the config says." }
        } @else {
            div.scroll {
                table {
                    caption { "What passes found and left alone" }
                    thead { tr { th scope="col" { "Scope" } th scope="col" { "Kind" } th scope="col" { "Since" } th scope="col" { "What" } } }
                    tbody {
                        @for f in &report.findings {
                            tr {
                                td { code { (f.scope) } }
                                td { @if f.kind == FindingKind::Drift { span.warn { "△ drift" } } @else { span.warn { "△ held back" } } }
                                td { (when(Some(f.since), now)) }
                                td { (f.summary) }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn latest_messages(report: &Report, now: DateTime<Utc>) -> Markup {
    let mut all: Vec<&MessageStatus> = report
        .catalogs
        .iter()
        .flat_map(|c| c.messages.iter())
        .chain(report.update_point.messages.iter())
        .collect();
    all.sort_by_key(|m| std::cmp::Reverse(m.at));
    all.truncate(10);
    html! {
        h2 #messages { "Latest status messages" }
        @if all.is_empty() {
            p.muted { "None recorded." }
        } @else {
            (messages("The most recent status messages (ConfigMgr's IDs and texts)", &all, now))
        }
    }
}

fn update_point(report: &Report, now: DateTime<Utc>) -> Markup {
    let up = &report.update_point;
    html! {
        dl.facts {
            dt { "Schedule" } dd {
                (up.schedule.as_deref().unwrap_or("not managed by supctl"))
                @if up.suspended { " " span.warn { "⏸ suspended" } }
            }
            dt { "Last sync" } dd { (last_sync(up.last_sync.as_ref(), now)) }
            dt { "Last success" } dd { (when(up.last_success, now)) }
            dt { "Next sync" } dd { (when(up.next_sync, now)) }
            dt { "WSUS signing certificate" } dd {
                @if let Some(c) = &report.signing { (certificate(c, now)) }
                @else { span.muted { "none on the server" } }
            }
        }
    }
}

fn recent_runs(runs: &[SyncRun], now: DateTime<Utc>) -> Markup {
    html! {
        @if runs.is_empty() {
            p.muted { "No run recorded yet." }
        } @else {
            div.scroll {
                table #runs-table {
                    caption { "The latest runs, newest first (more at " a href="/api/runs" { "/api/runs" } ")" }
                    thead {
                        tr {
                            th scope="col" { "Scope" } th scope="col" { "Started" } th scope="col" { "Result" }
                            th scope="col" class="num" { "Published" } th scope="col" class="num" { "Revised" }
                            th scope="col" class="num" { "Expired" } th scope="col" class="num" { "Staged" }
                            th scope="col" class="num" { "Failed" } th scope="col" { "First error" }
                        }
                    }
                    tbody {
                        @for r in runs.iter().take(RUNS_SHOWN) {
                            tr {
                                td { code { (r.scope) } }
                                td { (when(Some(r.started), now)) }
                                td { (result(r.result)) }
                                td.num { (r.counts.published) } td.num { (r.counts.revised) }
                                td.num { (r.counts.expired) } td.num { (r.counts.staged) }
                                td.num { (r.counts.failed) }
                                td { (r.message.as_deref().unwrap_or("")) }
                            }
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
    use crate::store::Compliance;

    fn approved(compliance: Option<Compliance>) -> ApprovedUpdate {
        ApprovedUpdate {
            id: "75703a22-ed04-4fc2-b715-75e42bc587c0".parse().unwrap(),
            catalog: Some("contoso".parse().unwrap()),
            title: "Contoso <Tool> 1.1".into(),
            approved_for: vec!["Ring 1 - Pilot (install)".into()],
            compliance,
        }
    }

    #[test]
    fn approvals_show_their_groups_and_counts_only_where_the_server_gives_them() {
        assert_eq!(approvals(&[]).into_string(), "", "no approvals: no section");
        let html = approvals(&[approved(None)]).into_string();
        assert!(html.contains("Approvals (1)") && html.contains("Ring 1 - Pilot (install)"));
        assert!(html.contains("Contoso &lt;Tool&gt; 1.1"), "{html}");
        assert!(
            html.contains(
                "href=\"/catalogs/contoso/updates/75703a22-ed04-4fc2-b715-75e42bc587c0\""
            ),
            "{html}"
        );
        assert!(
            !html.contains("Needed"),
            "the embedded server has no computers: {html}"
        );

        let counts = Compliance {
            needed: 3,
            installed: 5,
            failed: 1,
            ..Compliance::default()
        };
        let html = approvals(&[approved(Some(counts))]).into_string();
        for (what, n) in [("needed", 3), ("installed", 5)] {
            assert!(
                html.contains(&format!("data-count=\"{what}\">{n}<")),
                "{what}: {html}"
            );
        }
        assert!(html.contains("<span class=\"bad\">1</span>"), "{html}");
    }
}
