//! Per-catalog planning: trust outcome, category selection, publish / revise / expire, staging.

use std::collections::{BTreeSet, HashSet};

type IdSet = BTreeSet<UpdateId>;

use serde_json::{Value, json};

use super::builder::{Builder, Change};
use super::content_certs::content_certificate_diagnostics;
use super::model::*;
use crate::catalog::acquire::{Acquired, Acquisition};
use crate::catalog::model::{CatalogContent, FormatVersion, PublicationState, UpdateRecord};
use crate::catalog::v3;
use crate::config::{self, CategoryRef, CategorySelection, Staging};
use crate::ids::UpdateId;
use crate::store::{Address, CatalogKey, StoredUpdate, UpdateState};
use crate::trust::{approve_line, expired_signer_hint, expired_signer_reason};

fn update_json(r: &UpdateRecord) -> Value {
    json!({
        "id": r.id,
        "title": r.title(),
        "vendor": r.vendor,
        "products": r.products,
        "classification": r.classification,
        "content_hash": r.content_hash(),
        "files": r.files().count(),
    })
}

pub(super) fn stored_json(u: &StoredUpdate) -> Value {
    json!({ "id": u.id, "title": u.title, "revision": u.revision })
}

/// Reports why an untrusted, invalid or unavailable catalog gets no update actions.
/// Returns the content when the catalog is trusted.
fn trusted<'a>(
    b: &mut Builder,
    c: &config::Catalog,
    address: &Address,
    acquired: &'a Acquired,
) -> Option<&'a CatalogContent> {
    use Severity::Error;
    match &acquired.acquisition {
        Acquisition::Trusted { content, .. } => return Some(content),
        Acquisition::Untrusted { report } => {
            // A dual-signed catalog (SHA-1 + nested SHA-256) names one certificate twice.
            let mut seen = HashSet::new();
            for s in report
                .signers
                .iter()
                .filter(|s| seen.insert(s.certificate.sha1))
            {
                let cert = &s.certificate;
                b.awaiting_approval(
                    "11508",
                    address,
                    format!(
                        "catalog {} is signed by {} (issuer {}, valid {} to {}, SHA-1 {}, SHA-256 {}), which is not an approved signer; nothing from this catalog is applied until it is approved",
                        c.key, cert.subject, cert.issuer, cert.not_before.format("%Y-%m-%d"), cert.not_after.format("%Y-%m-%d"), cert.sha1, cert.sha256
                    ),
                    format!("after reviewing the certificate, add to [catalog.{}]:\n{}", c.key, approve_line(s)),
                );
            }
        }
        Acquisition::Unsigned => b.diagnostic(
            Error,
            "11508",
            address,
            format!(
                "catalog {} is not signed; only signed catalogs are published",
                c.key
            ),
            Some("ask the vendor for a signed catalog CAB".into()),
        ),
        Acquisition::Invalid { reason } => b.diagnostic(
            Error,
            "signature-invalid",
            address,
            format!(
                "catalog {}: the CAB signature does not verify: {reason}",
                c.key
            ),
            Some("the file was altered or damaged; download it again or contact the vendor".into()),
        ),
        Acquisition::Expired { signer } => b.diagnostic(
            Error,
            "signer-expired",
            address,
            format!("catalog {}: {}", c.key, expired_signer_reason(signer)),
            Some(expired_signer_hint(Some(&c.key))),
        ),
        Acquisition::Failed { reason } => b.diagnostic(
            Error,
            "acquire-failed",
            address,
            format!("catalog {}: {reason}", c.key),
            None,
        ),
    }
    None
}

/// Update ids under the given category references, or a diagnostic per bad reference.
fn resolve(
    b: &mut Builder,
    key: &str,
    address: &Address,
    content: &CatalogContent,
    refs: &[CategoryRef],
    what: &str,
) -> Option<IdSet> {
    let mut ids = Vec::new();
    let mut ok = true;
    for r in refs {
        match v3::resolve(&content.categories, &r.to_string()) {
            Ok(found) => ids.extend(found),
            Err(e) => {
                ok = false;
                b.diagnostic(Severity::Error, "category-unresolved", address, format!("catalog {key}: {what} entry `{r}`: {e}"), Some(format!("list the catalog's categories with `supctl catalog categories {key}` (and this plan's -c); {what} paths are display-name paths from the root, or GUIDs")));
            }
        }
    }
    ok.then(|| v3::members_under(&content.categories, &ids))
}

/// A `[[publish]]` rule with its title pattern compiled once, not once per update.
struct PublishMatcher<'a> {
    rule: &'a config::PublishRule,
    /// `None` when the rule has no title; config validation guarantees a pattern compiles.
    title: Option<regex::Regex>,
}

impl<'a> PublishMatcher<'a> {
    fn new(rule: &'a config::PublishRule) -> Self {
        let title = rule
            .title
            .as_deref()
            .and_then(|t| regex::Regex::new(t).ok());
        Self { rule, title }
    }

    fn matches(&self, r: &UpdateRecord) -> bool {
        let rule = self.rule;
        let title_ok = match (&rule.title, &self.title) {
            (None, _) => true,
            (Some(_), Some(re)) => re.is_match(r.title()),
            (Some(_), None) => false,
        };
        title_ok && rule_matches(rule, r)
    }
}

/// Every condition of a rule but the title pattern.
fn rule_matches(rule: &config::PublishRule, r: &UpdateRecord) -> bool {
    let eq = |want: &Option<String>, have: &str| {
        want.as_ref().is_none_or(|w| w.eq_ignore_ascii_case(have))
    };
    (rule.ids.is_empty() || rule.ids.contains(&r.id))
        && eq(&rule.vendor, &r.vendor)
        && eq(&rule.classification, &r.classification)
        && rule
            .product
            .as_ref()
            .is_none_or(|p| r.products.iter().any(|x| x.eq_ignore_ascii_case(p)))
}

pub(super) fn plan_updates(b: &mut Builder, c: &config::Catalog, acquired: &Acquired) {
    let Ok(key) = CatalogKey::parse(&c.key) else {
        return;
    };
    let address = Address::catalog(&key);
    let Some(content) = trusted(b, c, &address, acquired) else {
        return;
    };
    let selected = match &c.categories {
        CategorySelection::All => None,
        CategorySelection::Only(_) if content.format != FormatVersion::V3 => {
            b.diagnostic(Severity::Error, "category-selection-unavailable", &address, format!("catalog {} is in {} format; category selection needs a v3 catalog (as in ConfigMgr)", c.key, content.format.as_str()), Some("remove `categories` (publish all) or use the vendor's v3 catalog".into()));
            return;
        }
        CategorySelection::Only(refs) => {
            match resolve(b, &c.key, &address, content, refs, "categories") {
                Some(set) => Some(set),
                None => return,
            }
        }
    };
    let in_selection = |id: &UpdateId| selected.as_ref().is_none_or(|s| s.contains(id));
    content_certificate_diagnostics(b, c, &address, content);
    // The catalog already kept one package per id (catalog::sdp::Unique): say which.
    for d in &content.duplicates {
        b.diagnostic(Severity::Warning, "duplicate-package", &Address::update(&key, &d.id), format!("catalog {}: {d}", c.key), Some("supctl publishes only the kept package, so the update does not change back and forth; ask the vendor to fix the catalog".into()));
    }
    let staged_by_category: IdSet = match &c.stage {
        Staging::None => IdSet::new(),
        Staging::All => content.updates.iter().map(|u| u.id).collect(),
        Staging::Only(refs) => {
            resolve(b, &c.key, &address, content, refs, "stage").unwrap_or_default()
        }
    };
    let rules: Vec<PublishMatcher> = b
        .inputs
        .desired
        .publish
        .iter()
        .filter(|r| r.catalog == c.key)
        .map(PublishMatcher::new)
        .collect();
    let actual = b.inputs.actual;
    let wants_content =
        |r: &UpdateRecord| staged_by_category.contains(&r.id) || rules.iter().any(|m| m.matches(r));
    // 11524 answers an explicit request: `stage = "all"` means every update this catalog
    // publishes, so an update it does not publish (outside `categories`, or expired) is not
    // asked for, and a narrow selection of a large catalog makes no flood of messages.
    let explicitly_wants = |r: &UpdateRecord| {
        (matches!(c.stage, Staging::Only(_)) && staged_by_category.contains(&r.id))
            || rules.iter().any(|m| m.matches(r))
    };
    let mut stage_count = 0usize;
    for r in &content.updates {
        // Made only for an update the plan says something about: formatting 100,000
        // addresses showed in a no-op plan.
        let ua = || Address::update(&key, &r.id);
        let stored = actual.updates.get(&r.id).map(|s| &**s);
        if !in_selection(&r.id) {
            if stored.is_none() && explicitly_wants(r) {
                metadata_missing(b, &ua(), &r.id, "it is outside the catalog's `categories`");
            }
            continue;
        }
        if let Some(s) = stored.filter(|s| s.catalog != key) {
            b.diagnostic(Severity::Warning, "published-by-other-catalog", &ua(), format!("update {} is already on the server from catalog {}; catalog {} does not publish it", r.id, s.catalog, c.key), None);
            continue;
        }
        if r.publication_state == PublicationState::Expired {
            if stored.is_some_and(|s| s.state() != UpdateState::Expired) {
                b.push(
                    &ua(),
                    Change::new(ActionKind::Expire, "the catalog marks it expired"),
                );
            } else if stored.is_none() && explicitly_wants(r) {
                metadata_missing(
                    b,
                    &ua(),
                    &r.id,
                    "the catalog marks it expired, so it is not published",
                );
            }
            continue;
        }
        if stored.is_some_and(|s| s.state() == UpdateState::Expired) {
            continue;
        }
        // Shared with the catalog's record: a plan of 100,000 publishes held a copy of each.
        let payload = || Payload::Update { record: r.clone() };
        match stored {
            None => b.push(
                &ua(),
                Change::new(ActionKind::Publish, "new in the catalog (metadata only)")
                    .after(update_json(r))
                    .payload(payload()),
            ),
            Some(s) if s.content_hash != r.content_hash() => b.push(
                &ua(),
                Change::new(
                    ActionKind::Revise,
                    format!(
                        "the catalog's package changed (revision {} -> {})",
                        s.revision,
                        s.revision + 1
                    ),
                )
                .after(update_json(r))
                .payload(payload()),
            ),
            Some(_) => {}
        }
        // A declined update's content is not staged: clients never install it (and
        // `remove_content_of` would take it away again).
        if wants_content(r) && !stored.is_some_and(|s| s.declined) && stage(b, &ua(), r, stored) {
            stage_count += 1;
        }
    }
    // Any format: a v3 catalog can ship no `ContentCertificates/` as well as a v1 one.
    if stage_count > 0 && content.content_certificates.is_empty() {
        let m = crate::status::content_certificates_missing(c.name.as_deref().unwrap_or(&c.key));
        b.diagnostic(Severity::Warning, "11523", &address, m.text, Some("approve the vendor's content certificates with [[certificate]] entries, or get the catalog in the current format".into()));
    }
    // `[[publish]]` ids the catalog does not hold: content asked for with no metadata.
    let asked: IdSet = rules
        .iter()
        .flat_map(|m| m.rule.ids.iter())
        .filter(|id| !actual.updates.contains_key(*id))
        .cloned()
        .collect();
    let missing: IdSet = if asked.is_empty() {
        asked
    } else {
        let in_catalog: HashSet<&UpdateId> = content.updates.iter().map(|u| &u.id).collect();
        asked
            .into_iter()
            .filter(|id| !in_catalog.contains(id))
            .collect()
    };
    for id in &missing {
        metadata_missing(
            b,
            &Address::update(&key, id),
            id,
            &format!("catalog {} does not list it", c.key),
        );
    }
    super::deselected::plan(b, c, &key, content, selected.as_ref());
}

/// 11524, as ConfigMgr reports it: content is requested (by `stage` or a `[[publish]]` rule)
/// for an update whose metadata is not on the server and that this plan does not publish,
/// so there is nothing to attach the content to. A warning in the plan, so that the rest
/// applies; recorded with ConfigMgr's severity.
fn metadata_missing(b: &mut Builder, address: &Address, id: &UpdateId, why: &str) {
    let m = crate::status::update_metadata_missing(&id.as_str());
    b.diagnostic(
        Severity::Warning,
        "11524",
        address,
        format!("{} Content was requested for it, but its metadata is not on the update server and this plan does not publish it: {why}.", m.text),
        Some("publish the update first (select its category), or remove it from `stage` and `[[publish]]`".into()),
    );
}

/// Plans staging of the files not yet in the store; returns whether anything is staged.
fn stage(
    b: &mut Builder,
    address: &Address,
    r: &UpdateRecord,
    stored: Option<&StoredUpdate>,
) -> bool {
    let staged: HashSet<_> = stored
        .map(|s| {
            s.files
                .iter()
                .filter(|f| f.staged)
                .map(|f| f.sha1)
                .collect()
        })
        .unwrap_or_default();
    let files: Vec<_> = r
        .files()
        .filter(|f| !staged.contains(&f.sha1))
        .cloned()
        .collect();
    if files.is_empty() {
        return false;
    }
    let bytes = files.iter().map(|f| f.size).sum();
    let after = json!({ "id": r.id, "title": r.title(), "files": files.iter().map(|f| json!({"name": f.name, "size": f.size, "sha1": f.sha1})).collect::<Vec<_>>() });
    let unsupported =
        (!b.inputs.capabilities.content_staging).then(|| b.unsupported("content staging"));
    let change = Change::new(ActionKind::Stage, "content selected for staging")
        .after(after)
        .payload(Payload::Content {
            update: r.id,
            files,
        })
        .bytes(bytes)
        .shown_before(stored.map(stored_json))
        .unsupported(unsupported);
    b.push(address, change);
    true
}
