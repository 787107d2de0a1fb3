//! Pure decisions over the lock: what a freshly acquired catalog's entry is, how a plan
//! refreshes the lock, and which catalogs `--locked` refuses.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::Path;

use super::{LockFile, LockedCatalog, VERSION};
use crate::catalog::acquire::{Acquired, Acquisition};
use crate::config;
use crate::ids::{Sha256, Thumbprint};
use crate::plan::{PlanDiagnostic, Severity};
use crate::store::{Address, CatalogKey};

/// The entry of a catalog acquired and trusted now (`None` for one that failed: its old
/// entry, if any, stands). `root` is the config's directory: paths inside it are recorded
/// relative, so a lock reads the same on every machine that checks the repository out.
pub fn entry_of(c: &config::Catalog, a: &Acquired, root: &Path) -> Option<LockedCatalog> {
    let Acquisition::Trusted { content, report } = &a.acquisition else {
        return None;
    };
    let mut signers: Vec<Thumbprint> = report
        .signers
        .iter()
        .map(|s| s.certificate.thumbprint())
        .collect();
    signers.sort();
    signers.dedup();
    let selected = crate::plan::deselected::selected_by(c, &content.categories);
    // By id: the bits' order is the text's.
    let mut picked: Vec<(crate::ids::UpdateId, Sha256)> = content
        .updates
        .iter()
        .filter(|u| selected.as_ref().is_none_or(|s| s.contains(&u.id)))
        .map(|u| (u.id, u.content_hash()))
        .collect();
    picked.sort_unstable();
    // One buffer, not a string per update, and the digest's hex written straight into it:
    // every plan lists every catalog this way.
    let mut listing = Vec::with_capacity(picked.len() * 102);
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for (id, h) in &picked {
        listing.extend_from_slice(id.as_str().as_bytes());
        listing.push(b' ');
        for b in h.0 {
            listing.extend([HEX[usize::from(b >> 4)], HEX[usize::from(b & 15)]]);
        }
        listing.push(b'\n');
    }
    let source = Path::new(&a.source)
        .strip_prefix(root)
        .map(|p| p.to_string_lossy().replace('\\', "/"))
        .unwrap_or_else(|_| a.source.clone());
    Some(LockedCatalog {
        source,
        sha256: a.cab_sha256?,
        bytes: a.cab_bytes?,
        signers,
        updates: content.updates.len(),
        selected: Sha256::of(&listing),
        newest_update: content.updates.iter().map(|u| u.created).max(),
        signed: report.signers.iter().filter_map(|s| s.timestamp).max(),
    })
}

/// One change a refresh makes to the lock, as the plan prints it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LockChange {
    Added {
        key: String,
        to: LockedCatalog,
    },
    Changed {
        key: String,
        from: LockedCatalog,
        to: LockedCatalog,
    },
    Removed {
        key: String,
    },
}

fn short(d: &Sha256) -> String {
    d.to_hex()[..12].to_ascii_lowercase()
}

impl fmt::Display for LockChange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Added { key, to } => write!(
                f,
                "catalog.{key} pinned to {} ({} updates)",
                short(&to.sha256),
                to.updates
            ),
            Self::Changed { key, from, to } => {
                write!(
                    f,
                    "catalog.{key} {} → {} ({} → {} updates",
                    short(&from.sha256),
                    short(&to.sha256),
                    from.updates,
                    to.updates
                )?;
                if from.selected == to.selected {
                    f.write_str(", the selected updates unchanged")?;
                }
                if from.signers != to.signers {
                    f.write_str(", signed by another certificate")?;
                }
                if let Some(newest) = to
                    .newest_update
                    .filter(|_| from.newest_update != to.newest_update)
                {
                    write!(f, ", newest update {}", newest.format("%Y-%m-%d"))?;
                }
                f.write_str(")")
            }
            Self::Removed { key } => write!(f, "catalog.{key} no longer configured: unpinned"),
        }
    }
}

/// The lock after a plan that acquired `found`: entries of catalogs acquired now replace
/// theirs, catalogs no longer `configured` leave, the rest stand (a catalog that failed
/// today keeps its pin). Returns the new lock and what changed (empty: nothing to write).
pub fn refresh(
    lock: Option<&LockFile>,
    found: &BTreeMap<String, LockedCatalog>,
    configured: &BTreeSet<String>,
) -> (LockFile, Vec<LockChange>) {
    let mut next = lock.cloned().unwrap_or(LockFile {
        version: VERSION,
        catalogs: BTreeMap::new(),
    });
    let mut changes = Vec::new();
    for (key, entry) in found {
        match next.catalogs.insert(key.clone(), entry.clone()) {
            None => changes.push(LockChange::Added {
                key: key.clone(),
                to: entry.clone(),
            }),
            Some(old) if old.sha256 != entry.sha256 => changes.push(LockChange::Changed {
                key: key.clone(),
                from: old,
                to: entry.clone(),
            }),
            // Same CAB: keep the entry as it was (a path written differently is no change).
            Some(old) => {
                next.catalogs.insert(key.clone(), old);
            }
        }
    }
    let gone: Vec<String> = next
        .catalogs
        .keys()
        .filter(|k| !configured.contains(*k))
        .cloned()
        .collect();
    for key in gone {
        next.catalogs.remove(&key);
        changes.push(LockChange::Removed { key });
    }
    (next, changes)
}

/// What `--locked` refuses: a catalog the lock does not name, or whose CAB differs from its
/// pin. One error diagnostic each, naming the catalog, the expected and found digests.
pub fn mismatches(
    lock: Option<&LockFile>,
    found: &BTreeMap<String, LockedCatalog>,
) -> Vec<PlanDiagnostic> {
    let mut out = Vec::new();
    for (key, entry) in found {
        let address = CatalogKey::parse(key)
            .map(|k| Address::catalog(&k))
            .unwrap_or_else(|_| Address::config());
        let (message, hint) = match lock.and_then(|l| l.catalogs.get(key)) {
            None => (
                format!(
                    "catalog {key} is not in {} (found CAB sha256 {})",
                    super::FILE_NAME,
                    entry.sha256.to_hex().to_ascii_lowercase()
                ),
                format!(
                    "run `supctl lock update {key}` where the catalog was tested, commit the lock, and plan again"
                ),
            ),
            Some(pinned) if pinned.sha256 != entry.sha256 => (
                format!(
                    "catalog {key} differs from {}: expected CAB sha256 {} ({} updates), found {} ({} updates) at {}",
                    super::FILE_NAME,
                    pinned.sha256.to_hex().to_ascii_lowercase(),
                    pinned.updates,
                    entry.sha256.to_hex().to_ascii_lowercase(),
                    entry.updates,
                    entry.source
                ),
                "the vendor published a new catalog since it was locked: test it and run `supctl lock update` (then commit the lock), or serve the pinned CAB to this update point".to_string(),
            ),
            Some(_) => continue,
        };
        out.push(PlanDiagnostic {
            severity: Severity::Error,
            code: "lock-mismatch".into(),
            address,
            message,
            hint: Some(hint),
            blocked: false,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(cab: &[u8], updates: usize) -> LockedCatalog {
        LockedCatalog {
            source: "c.cab".into(),
            sha256: Sha256::of(cab),
            bytes: cab.len() as u64,
            signers: vec![],
            updates,
            selected: Sha256::of(b"s"),
            newest_update: None,
            signed: None,
        }
    }

    fn found(pairs: &[(&str, LockedCatalog)]) -> BTreeMap<String, LockedCatalog> {
        pairs
            .iter()
            .map(|(k, e)| (k.to_string(), e.clone()))
            .collect()
    }

    fn keys(k: &[&str]) -> BTreeSet<String> {
        k.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn a_first_plan_pins_every_catalog_it_acquired() {
        let (lock, changes) = refresh(None, &found(&[("a", entry(b"1", 2))]), &keys(&["a"]));
        assert_eq!(lock.catalogs.len(), 1);
        assert!(matches!(&changes[..], [LockChange::Added { key, .. }] if key == "a"));
    }

    #[test]
    fn an_unchanged_catalog_changes_nothing_and_a_changed_one_is_named() {
        let (lock, _) = refresh(None, &found(&[("a", entry(b"1", 2))]), &keys(&["a"]));
        let mut moved = entry(b"1", 2);
        moved.source = "elsewhere/c.cab".into();
        let (same, none) = refresh(Some(&lock), &found(&[("a", moved)]), &keys(&["a"]));
        assert!(none.is_empty());
        assert_eq!(same, lock, "the same CAB from another path keeps its entry");
        let mut newer = entry(b"2", 3);
        newer.newest_update = "2026-10-02T08:00:00Z".parse().ok();
        let (_, changed) = refresh(Some(&lock), &found(&[("a", newer)]), &keys(&["a"]));
        let text = changed[0].to_string();
        assert!(
            text.starts_with("catalog.a ")
                && text.contains("(2 → 3 updates")
                && text.contains("newest update 2026-10-02"),
            "{text}"
        );
    }

    #[test]
    fn a_failed_catalog_keeps_its_pin_and_a_removed_one_is_unpinned() {
        let both = found(&[("a", entry(b"1", 2)), ("b", entry(b"2", 2))]);
        let (lock, _) = refresh(None, &both, &keys(&["a", "b"]));
        // Today only `a` was acquired; `b` failed but is still configured.
        let (kept, none) = refresh(
            Some(&lock),
            &found(&[("a", entry(b"1", 2))]),
            &keys(&["a", "b"]),
        );
        assert!(none.is_empty());
        assert!(kept.catalogs.contains_key("b"));
        let (gone, changes) = refresh(Some(&lock), &found(&[("a", entry(b"1", 2))]), &keys(&["a"]));
        assert!(!gone.catalogs.contains_key("b"));
        assert_eq!(changes, vec![LockChange::Removed { key: "b".into() }]);
    }

    #[test]
    fn locked_refuses_a_different_or_unknown_catalog_by_name() {
        let (lock, _) = refresh(None, &found(&[("a", entry(b"1", 2))]), &keys(&["a"]));
        assert!(mismatches(Some(&lock), &found(&[("a", entry(b"1", 2))])).is_empty());
        let d = mismatches(Some(&lock), &found(&[("a", entry(b"2", 3))]));
        assert_eq!(d.len(), 1);
        let expected = Sha256::of(b"1").to_hex().to_ascii_lowercase();
        let found_hex = Sha256::of(b"2").to_hex().to_ascii_lowercase();
        assert!(
            d[0].message
                .contains(&format!("expected CAB sha256 {expected}"))
                && d[0].message.contains(&format!("found {found_hex}")),
            "{}",
            d[0].message
        );
        assert_eq!(d[0].address.as_str(), "catalog.a");
        assert_eq!(d[0].severity, Severity::Error);
        let d = mismatches(None, &found(&[("b", entry(b"1", 2))]));
        assert!(
            d[0].message.contains("is not in supctl.lock"),
            "{}",
            d[0].message
        );
    }
}
