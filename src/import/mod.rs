//! `supctl import --out DIR`: the desired state an update server is already in, written as
//! TOML, as Terraform's `plan -generate-config-out` writes the configuration of resources it
//! imports. An admin who has run an update point for years (with SCUP, a vendor tool or an
//! earlier supctl) starts from what is there instead of typing it again.
//!
//! This module is pure: it turns what the server holds ([`ActualState`], read by the caller)
//! into files and the list of objects to adopt; `cli::import_config` reads and writes.
//!
//! Rules, and why:
//! - **Everything the server holds that the config can say is written**: `[sync]`,
//!   `[signing]` (managed mode; a manual certificate is named in a comment, because its key
//!   file is not on the server), every catalog subscription with its settings, every
//!   approved or blocked certificate. A plan of the written config against the same server
//!   is then empty apart from what the comments name.
//! - **What the server cannot tell is said, not guessed**: settings that live only in the
//!   config (`content_source`, `timezone`, `allow_expired_signer`, `expire_deselected`,
//!   windows, notifications) are listed in a comment for the admin to copy.
//! - **A catalog file keeps its identity**: a path recorded relative to the old config's
//!   directory is written relative to the new one, and re-recorded so (the same file, spelled
//!   from there), because a custom catalog whose source changes is replaced.
//! - **Updates no catalog claims become catalog stubs**, one per vendor (a third-party catalog
//!   is one vendor's, and WSUS attributes such updates by vendor), each listing the products
//!   and update counts found, with `suspend = true` and no source: supctl keeps them as
//!   they are until the admin fills in `url` or `path` and removes `suspend`. A catalog
//!   whose updates are all expired is not a stub: nothing of it is left to manage.
//! - **What is written is adopted**: each catalog and certificate not yet in supctl's
//!   inventory enters it as `adopted` (stubs are recorded on the server first), so that
//!   removing it from the config later (with `prune = true`) removes it like one supctl
//!   created. The server's own WSUS signing certificate is written but not adopted: it is
//!   WSUS's, managed through `[signing]`.
//! - **Secrets stay where they are**: `[server]` and `[http]` are copied from the config that
//!   named the server, with `password_env` (a variable's name), never a password.

mod text;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use crate::catalog::model::PublicationState;
use crate::config::{self, Schedule};
use crate::store::{
    ActualState, Address, CatalogKey, CatalogKind, CatalogRecord, CertKind, Selection, SigningMode,
    StoredCertificate, StoredUpdate,
};

pub use text::{TomlText, quote};

/// The schedule written for catalog stubs (they are suspended, so it only takes effect once
/// the admin resumes them).
pub const STUB_SCHEDULE: &str = "every 1 day";

/// What the import reads besides the server: the config that named the server.
pub struct Context<'a> {
    pub server: &'a config::Server,
    pub http: &'a config::Http,
    /// The directory of the config that applied the server's catalogs: relative catalog
    /// paths recorded on the server are relative to it.
    pub root: &'a Path,
    /// The directory the config is written to (absolute): catalog paths are written
    /// relative to it, as the admin would write them there.
    pub out: &'a Path,
}

/// One file of the imported config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportedFile {
    /// A file name inside the output directory.
    pub name: String,
    pub text: String,
}

/// The imported config and what to adopt.
#[derive(Debug, Default)]
pub struct Imported {
    pub files: Vec<ImportedFile>,
    /// Catalog stubs to record on the server before they are adopted.
    pub stubs: Vec<CatalogRecord>,
    /// Catalogs read from a file whose recorded path is spelled relative to the old config's
    /// directory: the same file re-recorded relative to the new one, so that the written
    /// config (which names it from there) does not replace them.
    pub respelled: Vec<CatalogRecord>,
    /// Catalogs and certificates to add to the inventory as `adopted`, in order.
    pub adopt: Vec<Address>,
    pub summary: Summary,
}

/// Counts for the command's closing lines.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Summary {
    pub catalogs: usize,
    pub stubs: usize,
    pub certificates: usize,
    pub updates: usize,
    /// Expired updates of catalogs the server no longer has: left alone.
    pub orphaned_expired: usize,
}

/// The updates of one catalog key, as the stub and comments describe them.
#[derive(Default)]
struct Group<'a> {
    updates: Vec<&'a StoredUpdate>,
}

impl Group<'_> {
    fn live(&self) -> usize {
        self.updates
            .iter()
            .filter(|u| u.publication != PublicationState::Expired)
            .count()
    }
    fn expired(&self) -> usize {
        self.updates.len() - self.live()
    }
    /// The vendor most of its updates name.
    fn vendor(&self) -> String {
        let mut n: BTreeMap<&str, usize> = BTreeMap::new();
        for u in &self.updates {
            *n.entry(&*u.vendor).or_default() += 1;
        }
        n.into_iter()
            .max_by_key(|(v, c)| (*c, std::cmp::Reverse(*v)))
            .map(|(v, _)| v.to_string())
            .unwrap_or_default()
    }
    /// `Vendor/Product: N updates` lines.
    fn products(&self) -> Vec<String> {
        let mut n: BTreeMap<(String, String), usize> = BTreeMap::new();
        for u in &self.updates {
            for p in u.products.iter() {
                *n.entry((u.vendor.to_string(), p.clone())).or_default() += 1;
            }
        }
        n.into_iter()
            .map(|((v, p), c)| format!("{v}/{p}: {c} update{}", if c == 1 { "" } else { "s" }))
            .collect()
    }
    fn counts(&self) -> String {
        let declined = self.updates.iter().filter(|u| u.declined).count();
        format!(
            "{} update(s) on the server: {} published, {} expired, {} declined",
            self.updates.len(),
            self.live(),
            self.expired(),
            declined
        )
    }
}

/// The config that reproduces `actual`.
pub fn import(actual: &ActualState, cx: &Context<'_>) -> Imported {
    let mut out = Imported::default();
    let mut groups: BTreeMap<&CatalogKey, Group<'_>> = BTreeMap::new();
    for u in actual.updates.values() {
        groups.entry(&u.catalog).or_default().updates.push(u);
    }
    out.summary.updates = actual.updates.len();
    out.files.push(ImportedFile {
        name: "00-server.toml".into(),
        text: server_file(actual, cx),
    });

    let mut signers: BTreeSet<String> = BTreeSet::new();
    for (key, stored) in &actual.catalogs {
        let group = groups.remove(key).unwrap_or_default();
        let r = &stored.settings;
        if r.source.is_empty() {
            // A stub an earlier import recorded and nobody has filled in yet.
            out.files.push(stub_file(key, &r.publisher, &group));
            out.summary.stubs += 1;
        } else {
            let (file, respelled) = catalog_file(r, &group, cx);
            out.files.push(file);
            out.respelled.extend(respelled);
            out.summary.catalogs += 1;
        }
        if r.subscribed {
            signers.extend(r.signers.iter().map(|t| t.to_string()));
        }
        adopt(&mut out.adopt, actual, Address::catalog(key));
    }
    for (key, group) in groups {
        if group.live() == 0 {
            out.summary.orphaned_expired += group.updates.len();
            continue;
        }
        let vendor = group.vendor();
        out.stubs.push(stub_record(key, &vendor));
        out.files.push(stub_file(key, &vendor, &group));
        out.summary.stubs += 1;
        adopt(&mut out.adopt, actual, Address::catalog(key));
    }

    let rules: Vec<&StoredCertificate> = actual
        .certificates
        .iter()
        .filter(|c| {
            !(c.kind == CertKind::Catalog
                && c.state == crate::store::CertState::Approved
                && signers.contains(&c.thumbprint.to_string()))
        })
        .collect();
    if !rules.is_empty() {
        out.summary.certificates = rules.len();
        out.files.push(ImportedFile {
            name: "10-certificates.toml".into(),
            text: certificates_file(&rules),
        });
    }
    for c in &actual.certificates {
        if c.kind != CertKind::WsusSigning {
            adopt(&mut out.adopt, actual, Address::certificate(&c.thumbprint));
        }
    }
    out
}

/// Adds `address` unless the inventory already has it (a `created` entry stays `created`)
/// or it is listed already.
fn adopt(list: &mut Vec<Address>, actual: &ActualState, address: Address) {
    if !actual.inventory.contains_key(&address) && !list.contains(&address) {
        list.push(address);
    }
}

/// The record a stub is adopted with: what the stub's TOML says, and no source.
pub fn stub_record(key: &CatalogKey, vendor: &str) -> CatalogRecord {
    CatalogRecord {
        key: key.clone(),
        kind: CatalogKind::Custom,
        name: vendor.to_string(),
        publisher: vendor.to_string(),
        source: String::new(),
        description: None,
        support_url: None,
        support_contact: None,
        subscribed: true,
        schedule: STUB_SCHEDULE
            .parse::<Schedule>()
            .ok()
            .map(|s| s.to_string()),
        categories: Selection::All,
        staging: Selection::None,
        signers: Vec::new(),
        content_certificates: Vec::new(),
        prune: false,
    }
}

#[derive(serde::Serialize)]
struct Connection<'a> {
    server: config::Server,
    http: &'a config::Http,
}

fn absolute(root: &Path, p: &Path) -> PathBuf {
    if p.is_absolute() {
        config::normalize(p)
    } else {
        config::normalize(&root.join(p))
    }
}

fn server_file(actual: &ActualState, cx: &Context<'_>) -> String {
    let mut t = TomlText::default();
    t.comment(
        "Imported by `supctl import` from the update server this config's [server] names.\n\
         Review every file, fill in what the comments ask for, then `supctl plan -c <this directory>`:\n\
         it should show no changes apart from those the comments name.\n\
         \n\
         Not kept on the server, so not imported (copy them from the old config if it had them):\n\
         [defaults], [limits], [web], [archive], [[window]], [[notify]], [[publish]], and per\n\
         catalog `content_source`, `timezone`, `allow_expired_signer`, `expire_deselected`, `suspend`.",
    );
    t.number("version", 1);
    let mut text = t.finish();
    let mut server = cx.server.clone();
    server.path = absolute(cx.root, &server.path);
    let mut http = cx.http.clone();
    http.ca_certificates = http
        .ca_certificates
        .iter()
        .map(|p| absolute(cx.root, p))
        .collect();
    let connection = toml::to_string(&Connection {
        server,
        http: &http,
    })
    .unwrap_or_default();
    text.push('\n');
    text.push_str(&connection);

    let mut t = TomlText::default();
    if let Some(s) = &actual.sync {
        t.table("sync", false);
        t.comment(
            "The update point's own synchronization with Microsoft Update, as the server holds it.",
        );
        if let Some(schedule) = &s.schedule {
            t.string("schedule", schedule);
        }
        t.strings("products", &s.products)
            .strings("classifications", &s.classifications)
            .strings("languages", &s.languages);
    }
    match &actual.signing {
        Some(s) if s.mode == SigningMode::Managed => {
            t.table("signing", false);
            t.comment("supctl creates and renews the WSUS signing certificate.");
            t.string("mode", "managed");
        }
        Some(s) => {
            t.blank();
            t.comment(&format!(
                "The WSUS signing certificate is managed by hand{}. To let supctl check and\n\
                 install it, point [signing] at its files:\n\
                 [signing]\n\
                 mode = \"manual\"\n\
                 certificate = \"wsus-signing.pfx\"\n\
                 password_env = \"SUPCTL_SIGNING_PASSWORD\"",
                s.certificate
                    .as_ref()
                    .map(|c| format!(" (thumbprint {c} in force)"))
                    .unwrap_or_default()
            ));
        }
        None => {}
    }
    text.push_str(&t.finish());
    text
}

fn selection_lines(t: &mut TomlText, key: &str, s: &Selection, default_none: bool) {
    match s {
        Selection::All => {
            t.string(key, "all");
        }
        Selection::None if default_none => {}
        Selection::None => {
            t.strings::<&str>(key, &[]);
        }
        Selection::List(items) => {
            t.strings(key, items);
        }
    }
}

fn catalog_file(
    r: &CatalogRecord,
    group: &Group<'_>,
    cx: &Context<'_>,
) -> (ImportedFile, Option<CatalogRecord>) {
    let mut respelled = None;
    let mut t = TomlText::default();
    t.comment(&format!(
        "Catalog subscription `{}` as the update server holds it.\n{}.",
        r.key,
        group.counts()
    ));
    t.table(&format!("catalog.{}", text::key(r.key.as_str())), false);
    t.string("kind", r.kind.as_str()).string("name", &r.name);
    if !r.publisher.is_empty() {
        t.string("publisher", &r.publisher);
    }
    if r.source.contains("://") {
        t.string("url", &r.source);
    } else {
        let path = Path::new(&r.source);
        if path.is_relative() {
            let here = config::stored_path_source(&absolute(cx.root, path), cx.out);
            if here != r.source {
                t.comment(&format!(
                    "Recorded as `{}`, relative to {}: the same file, named from this directory\n\
                     (`supctl import` records it so, unless --no-adopt; otherwise the first plan\n\
                     replaces the catalog, as ConfigMgr does when a custom catalog's source changes).",
                    r.source,
                    cx.root.display()
                ));
                respelled = Some(CatalogRecord {
                    source: here.clone(),
                    ..r.clone()
                });
            }
            t.string("path", &here);
        } else {
            t.string("path", &r.source);
        }
    }
    for (k, v) in [
        ("description", &r.description),
        ("support_url", &r.support_url),
        ("support_contact", &r.support_contact),
    ] {
        if let Some(v) = v {
            t.string(k, v);
        }
    }
    if !r.subscribed {
        t.boolean("subscribed", false);
    }
    if let Some(s) = &r.schedule {
        t.string("schedule", s);
    }
    selection_lines(&mut t, "categories", &r.categories, false);
    selection_lines(&mut t, "stage", &r.staging, true);
    let signers: Vec<String> = r.signers.iter().map(|s| s.to_string()).collect();
    t.strings("signers", &signers);
    if r.prune {
        t.boolean("prune", true);
    }
    (
        ImportedFile {
            name: format!("catalog-{}.toml", r.key),
            text: t.finish(),
        },
        respelled,
    )
}

fn stub_file(key: &CatalogKey, vendor: &str, group: &Group<'_>) -> ImportedFile {
    let mut t = TomlText::default();
    let products = group.products();
    t.comment(&format!(
        "Inferred: {}, by vendor \"{vendor}\",\n\
         published by a tool other than supctl (or by a supctl whose state was lost), so the\n\
         catalog they came from is not known. Products found:\n  {}\n\
         \n\
         supctl keeps these updates as they are while the catalog is suspended. To manage them,\n\
         fill in the catalog's `url` (or `path`), approve its signer in `signers` after\n\
         `supctl catalog inspect <url>`, and remove `suspend = true`; the first plan then\n\
         replaces the catalog record (its updates stay) and publishes what the catalog adds.",
        group.counts(),
        products.join("\n  ")
    ));
    t.table(&format!("catalog.{}", text::key(key.as_str())), false);
    t.string("kind", "custom")
        .string("name", vendor)
        .string("publisher", vendor)
        .commented_string("url", "https://vendor.example/catalog.cab")
        .string("schedule", STUB_SCHEDULE)
        .boolean("suspend", true);
    ImportedFile {
        name: format!("catalog-{key}.toml"),
        text: t.finish(),
    }
}

fn certificates_file(rules: &[&StoredCertificate]) -> String {
    let mut t = TomlText::default();
    t.comment(
        "Certificates the update server holds, approved or blocked, in each role\n\
         (catalog signers that a catalog's `signers` already approves are not repeated here).",
    );
    for c in rules {
        t.table("certificate", true);
        t.string("thumbprint", &c.thumbprint.to_string())
            .string("kind", c.kind.as_str())
            .string("state", c.state.as_str());
        let comment = match &c.facts {
            Some(f) => format!(
                "imported: {}, valid to {}",
                f.subject,
                f.not_after.format("%Y-%m-%d")
            ),
            None => "imported (approved by thumbprint; the server has not seen the certificate)"
                .to_string(),
        };
        t.string("comment", &comment);
        if c.kind == CertKind::WsusSigning {
            t.comment(
                "The server's own signing certificate: written, not adopted (see [signing]).",
            );
        }
    }
    t.finish()
}

#[cfg(test)]
mod tests;
