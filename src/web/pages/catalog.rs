//! `/catalogs/{key}`: one catalog's certificates and its updates, filtered by the form at the
//! top (a plain GET form, so a filtered view is a link an admin can share), and
//! `/catalogs/{key}/updates/{id}`: one update's detail.

use chrono::{DateTime, Utc};
use maud::{Markup, html};

use super::{certificate, last_sync, layout, messages, when};
use crate::reconcile::status::{CatalogStatus, MessageStatus};
use crate::store::StoredUpdate;
use crate::web::query::UpdatesQuery;
use crate::web::updates::Page;

/// The catalog page: its facts, the filter form, one page of its updates.
pub fn render(
    c: &CatalogStatus,
    q: &UpdatesQuery,
    page: &Page,
    backend: &str,
    running: bool,
    now: DateTime<Utc>,
) -> Markup {
    let msgs: Vec<&MessageStatus> = c.messages.iter().collect();
    let body = html! {
        nav { a href="/" { "← Status" } }
        h2 #catalog data-catalog=(c.key) { (c.name) " " code.muted { (c.key) } }
        dl.facts {
            dt { "Schedule" } dd { (c.schedule.as_deref().unwrap_or("none")) }
            dt { "Last sync" } dd { (last_sync(c.last_sync.as_ref(), now)) }
            dt { "Last success" } dd { (when(c.last_success, now)) }
            dt { "Next sync" } dd { (when(c.next_sync, now)) }
            dt { "Catalog signers" } dd {
                @for s in &c.signers { (certificate(s, now)) }
                @if c.signers.is_empty() { span.muted { "none approved" } }
            }
            dt { "Content certificates" } dd {
                @for s in &c.content_certificates { (certificate(s, now)) }
                @if c.content_certificates.is_empty() { span.muted { "none" } }
            }
            @if let Some(r) = &c.revision {
                dt { "Catalog in force" } dd { code { (r.cab_sha256) } }
            }
        }
        @if !msgs.is_empty() {
            (messages("Latest status messages of this catalog", &msgs, now))
        }
        h2 #updates { "Updates (" (page.total) ")" }
        (filters(q))
        (updates_table(&c.key, page))
        (pager(&c.key, q, page))
    };
    layout(&c.name, backend, running, body)
}

fn filters(q: &UpdatesQuery) -> Markup {
    let states = ["", "metadata-only", "deployable", "expired", "declined"];
    html! {
        form.filters method="get" role="search" {
            label { "State"
                select name="state" {
                    @for s in states {
                        option value=(s) selected[q.state.as_deref().unwrap_or("") == s] {
                            @if s.is_empty() { "any" } @else { (s) }
                        }
                    }
                }
            }
            label { "Classification" input type="text" name="classification" value=(q.classification.as_deref().unwrap_or("")); }
            label { "Product" input type="text" name="product" value=(q.product.as_deref().unwrap_or("")); }
            label { "Title contains" input type="search" name="title" value=(q.title.as_deref().unwrap_or("")); }
            label { "Supersedence"
                select name="superseded" {
                    option value="" selected[q.superseded.is_none()] { "any" }
                    option value="true" selected[q.superseded == Some(true)] { "superseded" }
                    option value="false" selected[q.superseded == Some(false)] { "not superseded" }
                }
            }
            button type="submit" { "Filter" }
        }
    }
}

fn updates_table(catalog: &str, page: &Page) -> Markup {
    html! {
        div.scroll {
            table #updates-table {
                caption { "Page " (page.page) " of the catalog's updates, by title" }
                thead {
                    tr {
                        th scope="col" { "Title" } th scope="col" { "State" }
                        th scope="col" { "Classification" } th scope="col" { "Product" }
                        th scope="col" { "Superseded by" }
                        th scope="col" class="num" { "Revision" }
                    }
                }
                tbody {
                    @for u in &page.updates {
                        tr data-update=(u.id) {
                            th scope="row" {
                                a href=(format!("/catalogs/{catalog}/updates/{}", u.id)) { (u.title) }
                            }
                            td { (u.state) @if u.deselected { ", deselected" } }
                            td { (u.classification) }
                            td { (u.product) }
                            td {
                                @for id in &u.superseded_by {
                                    a href=(format!("/catalogs/{catalog}/updates/{id}")) { code { (id.to_string().get(..8).unwrap_or_default()) } } " "
                                }
                                @if u.superseded_by.is_empty() { span.muted { "—" } }
                            }
                            td.num { (u.revision) }
                        }
                    }
                    @if page.updates.is_empty() {
                        tr { td colspan="6" { span.muted { "No update matches." } } }
                    }
                }
            }
        }
    }
}

fn pager(catalog: &str, q: &UpdatesQuery, page: &Page) -> Markup {
    let last = page.total.div_ceil(page.per_page.max(1)).max(1);
    let link = |n: usize| format!("/catalogs/{catalog}?{}", q.with_page(n).to_query());
    html! {
        nav aria-label="pages" {
            @if page.page > 1 { a href=(link(page.page - 1)) rel="prev" { "← previous" } }
            span { "page " (page.page) " of " (last) }
            @if page.page < last { " " a href=(link(page.page + 1)) rel="next" { "next →" } }
        }
    }
}

/// One update: what it is, its supersedence, its files and digests.
pub fn update(
    c: &CatalogStatus,
    u: &StoredUpdate,
    description: Option<&str>,
    backend: &str,
    running: bool,
    now: DateTime<Utc>,
) -> Markup {
    let link = |id: &crate::ids::UpdateId| format!("/catalogs/{}/updates/{id}", c.key);
    let body = html! {
        nav { a href="/" { "← Status" } a href=(format!("/catalogs/{}", c.key)) { "← " (c.name) } }
        h2 #update data-update=(u.id) { (u.title) }
        dl.facts {
            dt { "Update ID" } dd { code { (u.id) } }
            dt { "Revision" } dd { (u.revision) }
            dt { "State" } dd { (u.state()) @if u.declined { ", declined" } }
            dt { "Vendor" } dd { (u.vendor) }
            dt { "Products" } dd { (u.products.join(", ")) }
            dt { "Classification" } dd { (u.classification) }
            @if let Some(s) = &u.severity { dt { "Severity" } dd { (s) } }
            @if let Some(kb) = &u.kb_article { dt { "KB article" } dd { (kb) } }
            dt { "Created" } dd { (when(Some(u.created), now)) }
            dt { "Package digest" } dd { code { (u.content_hash) } }
            @if let Some(d) = description { dt { "Description" } dd { (d) } }
            dt { "Supersedes" } dd {
                @for id in &u.supersedes { a href=(link(id)) { code { (id) } } br; }
                @if u.supersedes.is_empty() { span.muted { "nothing" } }
            }
            dt { "Superseded by" } dd {
                @for id in &u.superseded_by { a href=(link(id)) { code { (id) } } br; }
                @if u.superseded_by.is_empty() { span.muted { "nothing (the newest in its chain)" } }
            }
            dt { "Content certificates of the catalog" } dd {
                @for s in &c.content_certificates { (certificate(s, now)) }
                @if c.content_certificates.is_empty() { span.muted { "none" } }
            }
        }
        div.scroll {
            table #files-table {
                caption { "Origin files" }
                thead { tr { th scope="col" { "File" } th scope="col" class="num" { "Bytes" } th scope="col" { "SHA-1" } th scope="col" { "SHA-256" } th scope="col" { "Staged" } } }
                tbody {
                    @for f in &u.files {
                        tr {
                            th scope="row" { (f.name) }
                            td.num { (f.size) }
                            td { code { (f.sha1) } }
                            td { @if let Some(d) = &f.sha256 { code { (d) } } @else { span.muted { "unknown" } } }
                            td { @if f.staged { span.ok { "✓ staged" } } @else { span.muted { "not staged" } } }
                        }
                    }
                    @if u.files.is_empty() { tr { td colspan="5" { span.muted { "No file: metadata only." } } } }
                }
            }
        }
    };
    layout(&u.title, backend, running, body)
}
