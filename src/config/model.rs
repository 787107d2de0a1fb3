//! The version-1 desired-state model.
//!
//! These types are what the rest of supctl consumes once loading and validation succeeded:
//! paths are absolute, thumbprints normalised, schedules parsed and defaults applied. They
//! also generate the JSON Schema editors use (`supctl schema`), so their doc comments are
//! what an admin sees on hover.

use std::collections::BTreeMap;
use std::path::PathBuf;

use schemars::JsonSchema;
use serde::Serialize;

use super::source::Loc;
use crate::ids::{CategoryId, Thumbprint, UpdateId};
use crate::schedule::Schedule;
use crate::vocab::Severity;
pub use crate::vocab::{
    CatalogKind, CertKind, CertState, EventKind, NotifyProvider, SigningMode, WindowKind,
};

/// The whole desired state, merged from one file or a directory of files.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "supctl desired state (version 1)")]
pub struct Config {
    /// Format version of this file; only 1 exists.
    #[serde(default = "one")]
    pub version: u32,
    /// Declares on purpose a config with no `[server]` and no catalog. Without it such a
    /// config is refused: applying it would unsubscribe every catalog supctl manages and
    /// remove its certificate approvals (a 0-byte file, a merge gone wrong).
    #[serde(default)]
    pub empty: bool,
    /// The update server whose state supctl reconciles.
    #[serde(default)]
    pub server: Server,
    /// How catalogs and content are downloaded.
    #[serde(default)]
    pub http: Http,
    /// The update point's own synchronization. Absent: supctl leaves it alone.
    pub sync: Option<SyncSettings>,
    /// The WSUS signing certificate for published content. Absent: left alone.
    pub signing: Option<Signing>,
    /// The daemon's HTTP listener (`watch`). Default: off.
    #[serde(default)]
    pub web: Web,
    /// Values every catalog inherits unless it sets its own.
    #[serde(default)]
    pub defaults: Defaults,
    /// How large a catalog supctl agrees to read; a catalog over a limit is refused by name.
    #[serde(default)]
    pub limits: super::limits::Limits,
    /// When superseded and expired updates are declined or expired and their content
    /// removed, for every catalog (each may override keys in `[catalog.<key>.hygiene]`).
    #[serde(default)]
    pub hygiene: super::Hygiene,
    /// Subscribed catalogs, keyed by a stable name that is also the plan address `catalog.<key>`.
    #[serde(default, rename = "catalog")]
    pub catalogs: BTreeMap<String, Catalog>,
    /// Approved and blocked certificates (catalog signers, content signers, WSUS signing).
    #[serde(default, rename = "certificate")]
    pub certificates: Vec<CertificateRule>,
    /// Approvals of updates to computer target groups (rings, deadlines).
    #[serde(default, rename = "approve")]
    pub approve: Vec<super::ApproveRule>,
    /// Updates whose content is published (staged), as "Publish Third-Party Software Update Content" does.
    #[serde(default)]
    pub publish: Vec<PublishRule>,
    /// Where the CABs pinned in `supctl.lock` are kept (`supctl catalog archive`), so a
    /// `--locked` plan finds the tested catalog after the vendor has moved on.
    pub archive: Option<Archive>,
    /// When the `watch` daemon may apply catalogs' changes (Argo CD's sync windows).
    #[serde(default, rename = "window")]
    pub windows: Vec<WindowRule>,
    /// Where `watch` sends notifications (failed syncs, drift, status messages, expiring
    /// certificates), any number of rules.
    #[serde(default)]
    pub notify: Vec<NotifyRule>,
    /// The files the state was read from, in load order.
    #[serde(skip)]
    #[schemars(skip)]
    pub files: Vec<PathBuf>,
    /// The path the config was loaded from (a file or a directory), absolute: what a saved
    /// plan records so that `apply PLANFILE` loads the same config without `-c`.
    #[serde(skip)]
    #[schemars(skip)]
    pub root: PathBuf,
}

fn one() -> u32 {
    1
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema, Default)]
#[serde(rename_all = "lowercase")]
pub enum BackendKind {
    /// Embedded store (SQLite + `WsusContent/`), needs nothing installed.
    #[default]
    Local,
    /// A WSUS server over its ApiRemoting30 SOAP API.
    Wsus,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Server {
    /// `local` (default) or `wsus`.
    #[serde(default)]
    pub backend: BackendKind,
    /// State directory (store, `WsusContent/`, download cache). Default `.supctl` beside the config.
    #[schemars(with = "Option<String>")]
    pub path: PathBuf,
    /// WSUS URL, e.g. `https://wsus01.corp.example:8531` (backend `wsus`).
    pub url: Option<String>,
    /// WSUS account (backend `wsus`).
    pub username: Option<String>,
    /// Name of the environment variable holding the WSUS password; never the password itself.
    pub password_env: Option<String>,
    /// Windows domain of the WSUS account.
    pub domain: Option<String>,
    /// Most destructive actions (expire, delete, unsubscribe) one apply may perform. Default 50.
    #[serde(default = "default_max_deletions")]
    pub max_deletions: u32,
    /// Saved plans kept in `<state>/plans/` after an apply (the newest; the plan an
    /// interrupted apply needs is always kept). Default 20, at least 1.
    #[serde(default = "default_keep_plans")]
    pub keep_plans: u32,
}

fn default_max_deletions() -> u32 {
    50
}

pub fn default_keep_plans() -> u32 {
    20
}

impl Default for Server {
    fn default() -> Self {
        Self {
            backend: BackendKind::Local,
            path: PathBuf::from(".supctl"),
            url: None,
            username: None,
            password_env: None,
            domain: None,
            max_deletions: default_max_deletions(),
            keep_plans: default_keep_plans(),
        }
    }
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Http {
    /// Proxy URL, e.g. `http://proxy.corp.example:8080`. Default: `HTTPS_PROXY` / `NO_PROXY`.
    pub proxy: Option<String>,
    /// Comma-separated hosts that bypass the proxy.
    pub no_proxy: Option<String>,
    /// Extra trust roots (PEM or DER files), e.g. a TLS-inspecting corporate root.
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub ca_certificates: Vec<PathBuf>,
    /// Content files downloaded at once, across updates and catalogs. Default 4.
    #[serde(default = "default_concurrency")]
    pub concurrency: u32,
    /// Seconds before a stalled request is retried. Default 60.
    #[serde(default = "default_timeout")]
    pub timeout_seconds: u64,
    /// Attempts after the first failure (with exponential backoff and resume). Default 5.
    #[serde(default = "default_retries")]
    pub retries: u32,
    /// Largest catalog or content file accepted, in MiB. Default 4096.
    #[serde(default = "default_max_mib")]
    pub max_download_mib: u64,
}

fn default_concurrency() -> u32 {
    4
}
fn default_timeout() -> u64 {
    60
}
fn default_retries() -> u32 {
    5
}
fn default_max_mib() -> u64 {
    4096
}

impl Default for Http {
    fn default() -> Self {
        Self {
            proxy: None,
            no_proxy: None,
            ca_certificates: Vec::new(),
            concurrency: default_concurrency(),
            timeout_seconds: default_timeout(),
            retries: default_retries(),
            max_download_mib: default_max_mib(),
        }
    }
}

/// The software update point's synchronization (products, classifications, languages, schedule).
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SyncSettings {
    /// `every 1 day at 02:00` or a cron line. Absent: synchronize only when asked (`supctl sync`).
    #[schemars(with = "Option<String>")]
    pub schedule: Option<Schedule>,
    /// `UTC` (default) or a fixed offset such as `+01:00`.
    pub timezone: Option<String>,
    /// Product titles or GUIDs to synchronize.
    #[serde(default)]
    pub products: Vec<String>,
    /// Classification titles or GUIDs, e.g. `Security Updates`.
    #[serde(default)]
    pub classifications: Vec<String>,
    /// Language codes, e.g. `en`.
    #[serde(default)]
    pub languages: Vec<String>,
    /// Freeze the update point's own sync: not scheduled, not started by a pass (settings
    /// still planned); `supctl sync` naming no catalog still starts it. Default false.
    #[serde(default)]
    pub suspend: bool,
}

/// `[web]`: the `watch` daemon's HTTP listener (status API, metrics, health).
#[derive(Debug, Clone, Default, PartialEq, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Web {
    /// Address to listen on, e.g. `127.0.0.1:8467` (port 0: any free port). Off unless set
    /// here or with `watch --listen`.
    #[schemars(with = "Option<String>")]
    pub listen: Option<std::net::SocketAddr>,
    /// The environment variable holding the bearer token every route but `/healthz` then
    /// requires; needed to listen on anything but loopback.
    pub token_env: Option<String>,
    /// PEM certificate chain to serve HTTPS with (with `tls_key`); plain HTTP without.
    pub tls_certificate: Option<std::path::PathBuf>,
    /// PEM private key of `tls_certificate` (PKCS#8, PKCS#1 or SEC1).
    pub tls_key: Option<std::path::PathBuf>,
}

#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Signing {
    /// `managed` or `manual`.
    pub mode: SigningMode,
    /// Manual mode: the certificate WSUS signs content with: a PFX (`.pfx`/`.p12`, with its
    /// key, password from `password_env`) or a PEM/DER certificate with `key`.
    #[schemars(with = "Option<String>")]
    pub certificate: Option<PathBuf>,
    /// Manual mode with a PEM/DER certificate: its PKCS#8 private key (PEM or DER).
    #[schemars(with = "Option<String>")]
    pub key: Option<PathBuf>,
    /// Manual mode with a PFX: the environment variable that holds its password.
    pub password_env: Option<String>,
    /// Renew a managed certificate this many days before it expires. Default 30.
    #[serde(default = "default_renew")]
    pub renew_before_days: u32,
    /// How long a managed certificate is valid. Default 1095 (three years).
    #[serde(default = "default_validity")]
    pub validity_days: u32,
}

fn default_renew() -> u32 {
    30
}

fn default_validity() -> u32 {
    DEFAULT_VALIDITY_DAYS
}

/// Three years: long enough that renewal is rare, short enough that a key is not kept for
/// a decade.
pub const DEFAULT_VALIDITY_DAYS: u32 = 1095;

#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Defaults {
    /// Catalog schedule unless a catalog sets one. Default `every 7 days` (ConfigMgr's).
    #[schemars(with = "Option<String>")]
    pub schedule: Schedule,
    /// `UTC` (default) or a fixed offset such as `+01:00`.
    pub timezone: Option<String>,
    /// Staging unless a catalog sets it: `none` (default) or `all`.
    #[schemars(with = "Option<String>")]
    pub stage: Staging,
    /// Accept a catalog signer that expired without a timestamp. Default false.
    #[serde(default)]
    pub allow_expired_signer: bool,
}

impl Default for Defaults {
    fn default() -> Self {
        Self {
            schedule: Schedule::default(),
            timezone: None,
            stage: Staging::None,
            allow_expired_signer: false,
        }
    }
}

/// A category as written: a display-name path `Root/Child/...` or a category GUID.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum CategoryRef {
    Id(CategoryId),
    Path(String),
}

impl CategoryRef {
    pub fn parse(s: &str) -> Self {
        match CategoryId::parse(s) {
            Ok(id) => CategoryRef::Id(id),
            Err(_) => CategoryRef::Path(s.trim().trim_matches('/').to_string()),
        }
    }
    /// True when `self` is `other` or lies below it (path prefix); GUIDs only match themselves
    /// until the catalog's tree resolves them.
    pub fn is_within(&self, other: &CategoryRef) -> bool {
        match (self, other) {
            (CategoryRef::Path(a), CategoryRef::Path(b)) => {
                a.eq_ignore_ascii_case(b)
                    || (a.len() > b.len()
                        && a[..b.len()].eq_ignore_ascii_case(b)
                        && a.as_bytes()[b.len()] == b'/')
            }
            (CategoryRef::Id(a), CategoryRef::Id(b)) => a == b,
            _ => false,
        }
    }
}

impl std::fmt::Display for CategoryRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CategoryRef::Id(id) => write!(f, "{id}"),
            CategoryRef::Path(p) => f.write_str(p),
        }
    }
}

/// Which categories a catalog publishes (ConfigMgr: "Select categories for synchronization").
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum CategorySelection {
    #[default]
    All,
    Only(Vec<CategoryRef>),
}

/// Which updates get their content staged (ConfigMgr: "Stage update content").
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Staging {
    #[default]
    None,
    All,
    Only(Vec<CategoryRef>),
}

/// Both serialize as written in TOML: a keyword or the list of categories.
fn serialize_keyword_or_list<S: serde::Serializer>(
    word: Option<&str>,
    list: &[CategoryRef],
    s: S,
) -> Result<S::Ok, S::Error> {
    match word {
        Some(w) => s.serialize_str(w),
        None => s.collect_seq(list.iter().map(|c| c.to_string())),
    }
}

impl Serialize for CategorySelection {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            CategorySelection::All => serialize_keyword_or_list(Some("all"), &[], s),
            CategorySelection::Only(l) => serialize_keyword_or_list(None, l, s),
        }
    }
}

impl Serialize for Staging {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Staging::None => serialize_keyword_or_list(Some("none"), &[], s),
            Staging::All => serialize_keyword_or_list(Some("all"), &[], s),
            Staging::Only(l) => serialize_keyword_or_list(None, l, s),
        }
    }
}

/// A subscribed third-party update catalog.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Catalog {
    /// The TOML key (`[catalog.<key>]`).
    #[serde(skip)]
    #[schemars(skip)]
    pub key: String,
    /// `partner` or `custom` (default).
    #[serde(default = "custom")]
    pub kind: CatalogKind,
    /// Catalog name as shown in the console; for partner catalogs, the name in the partner list.
    pub name: Option<String>,
    /// Publisher. Changing it replaces a custom catalog, as in ConfigMgr.
    pub publisher: Option<String>,
    /// HTTPS download URL. Changing it replaces a custom catalog.
    pub url: Option<String>,
    /// Local CAB file instead of a URL (disconnected sites).
    #[schemars(with = "Option<String>")]
    pub path: Option<PathBuf>,
    /// `path` was written relative (part of the checkout): the state records it relative to
    /// the config root. Written absolute (a share), it is recorded absolute.
    #[serde(skip)]
    #[schemars(skip)]
    pub path_written_relative: bool,
    /// Up to 200 characters.
    pub description: Option<String>,
    pub support_url: Option<String>,
    pub support_contact: Option<String>,
    /// Subscribed catalogs synchronize; unsubscribing keeps their updates. Default true.
    #[serde(default = "yes")]
    pub subscribed: bool,
    /// Freeze the catalog: no scheduled or config-triggered sync, no plan of its own, its
    /// state kept as it is; `supctl sync KEY` (naming it) still works. Default false.
    #[serde(default)]
    pub suspend: bool,
    /// `every N hours|days|weeks|months [at HH:MM]` or a cron line. Default from `[defaults]`.
    #[schemars(with = "Option<String>")]
    pub schedule: Schedule,
    /// `UTC` (default) or a fixed offset such as `+01:00`.
    pub timezone: Option<String>,
    /// Approved catalog signing certificates (SHA-1 or SHA-256 thumbprints).
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub signers: Vec<Thumbprint>,
    /// Accept a signer that expired without a timestamp.
    #[serde(default)]
    pub allow_expired_signer: bool,
    /// `"all"` (default) or a list of category paths (`Root/Child`) or GUIDs.
    #[serde(default)]
    #[schemars(with = "CategoryListSchema")]
    pub categories: CategorySelection,
    /// `"none"` (default), `"all"`, or a list of categories whose content is staged.
    #[serde(default)]
    #[schemars(with = "CategoryListSchema")]
    pub stage: Staging,
    /// Expire this catalog's updates when it is removed from the config, and those that
    /// leave the selected `categories`. Default false: they stay, marked deselected.
    #[serde(default)]
    pub prune: bool,
    /// Expire updates that leave the selected `categories` (expiry is permanent on WSUS)
    /// even with `prune = false`. Default false: they stay, marked deselected.
    #[serde(default)]
    pub expire_deselected: bool,
    /// Directory searched by file name and digest before the network (disconnected sites).
    #[schemars(with = "Option<String>")]
    pub content_source: Option<PathBuf>,
    /// This catalog's hygiene rules (`[catalog.<key>.hygiene]`), over the global `[hygiene]`.
    #[serde(default)]
    pub hygiene: super::Hygiene,
    /// Where the catalog was declared.
    #[serde(skip)]
    #[schemars(skip)]
    pub loc: Option<Loc>,
}

fn custom() -> CatalogKind {
    CatalogKind::Custom
}
fn yes() -> bool {
    true
}

/// JSON Schema shape of `categories` and `stage`: a keyword or a list of categories.
#[derive(JsonSchema)]
#[serde(untagged)]
#[allow(dead_code)]
enum CategoryListSchema {
    Keyword(CategoryKeyword),
    List(Vec<String>),
}

#[derive(JsonSchema)]
#[serde(rename_all = "lowercase")]
#[allow(dead_code)]
enum CategoryKeyword {
    All,
    None,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CertificateRule {
    /// SHA-1 (40 hex) or SHA-256 (64 hex) thumbprint; spaces and colons are ignored.
    #[schemars(with = "String")]
    pub thumbprint: Thumbprint,
    /// `catalog`, `content` or `wsus-signing`.
    pub kind: CertKind,
    /// `approved` or `blocked`.
    pub state: CertState,
    /// Free text for reviewers (who approved it and why).
    pub comment: Option<String>,
    #[serde(skip)]
    #[schemars(skip)]
    pub loc: Option<Loc>,
}

/// `[archive]`: a directory (`path`, written by `supctl catalog archive`) or a read-only
/// HTTPS or file location (`url`) holding pinned CABs as `<sha256>.cab`.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Archive {
    /// A directory, relative to the config's; shared storage for promotion.
    pub path: Option<PathBuf>,
    /// The base URL of the same layout served over HTTPS (read-only).
    pub url: Option<String>,
}

/// `[[window]]`: a recurring time when catalogs may (`allow`) or may not (`deny`) be applied
/// by the daemon; see `reconcile::windows` for the rules.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WindowRule {
    /// A name for messages; default `window N` (its position).
    pub name: Option<String>,
    pub kind: WindowKind,
    /// When it starts: a 5-field cron line, e.g. `0 8 * * MON-FRI`.
    pub schedule: String,
    /// How long it lasts: `N minutes|hours|days|weeks`, e.g. `10 hours`.
    pub duration: String,
    /// Catalog keys it applies to; empty or absent: every catalog.
    #[serde(default)]
    pub catalogs: Vec<String>,
    /// `supctl sync` may apply while this window keeps the catalog closed. Default false.
    #[serde(default)]
    pub manual_sync: bool,
    /// `UTC` (default) or a fixed offset such as `+01:00`.
    pub timezone: Option<String>,
    /// `duration`, parsed.
    #[serde(skip)]
    #[schemars(skip)]
    pub length: chrono::Duration,
    #[serde(skip)]
    #[schemars(skip)]
    pub loc: Option<Loc>,
}

/// Selects updates of one catalog whose content is published (staged).
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PublishRule {
    /// Key of a catalog defined in `[catalog.<key>]`.
    pub catalog: String,
    /// Regular expression matched against the update title.
    pub title: Option<String>,
    /// Update ids (GUIDs).
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub ids: Vec<UpdateId>,
    pub vendor: Option<String>,
    pub product: Option<String>,
    pub classification: Option<String>,
    #[serde(skip)]
    #[schemars(skip)]
    pub loc: Option<Loc>,
}

/// A `[[notify]]` rule: which events go to one receiver. Secrets (the URL, the HMAC key, the
/// SMTP password) stay in environment variables named here, read when `watch` starts.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NotifyRule {
    /// Unique name of the rule, shown in logs, metrics and `supctl notify test NAME`.
    pub name: String,
    /// `webhook`, `teams`, `slack` or `email`.
    pub provider: NotifyProvider,
    /// The environment variable holding the receiver's URL (for `email`, an SMTP URL such
    /// as `smtp://user@mail.corp.example:587` or `smtps://...`). The URL is a secret: a
    /// webhook's path carries its token.
    pub url_env: String,
    /// `webhook` only: the environment variable holding the HMAC-SHA256 key; each body is
    /// then signed in `X-Supctl-Signature: sha256=<hex>`.
    pub secret_env: Option<String>,
    /// `email` only: the environment variable holding the SMTP password.
    pub password_env: Option<String>,
    /// Least severe event sent: `error`, `warning` (default) or `info`.
    #[serde(default = "default_notify_severity")]
    pub severity: Severity,
    /// Event kinds sent (e.g. `sync-failed`, `signer-changed`). Default: all.
    #[serde(default)]
    pub events: Vec<EventKind>,
    /// Catalog keys whose events are sent. Default: all (and events about no catalog).
    #[serde(default)]
    pub catalogs: Vec<String>,
    /// How long a problem that stays open waits before it is sent again as a reminder,
    /// e.g. `24 hours` (the default), `30 minutes`, `2 days`.
    #[serde(serialize_with = "serialize_duration")]
    #[schemars(with = "Option<String>")]
    pub remind_after: std::time::Duration,
    /// `email` only: the sender, e.g. `supctl <supctl@corp.example>`.
    pub from: Option<String>,
    /// `email` only: the recipients.
    #[serde(default)]
    pub to: Vec<String>,
    /// Where the rule was declared.
    #[serde(skip)]
    #[schemars(skip)]
    pub loc: Option<Loc>,
}

fn default_notify_severity() -> Severity {
    Severity::Warning
}

/// One day: an open problem is repeated daily, as an on-call reminder would be.
pub const DEFAULT_REMIND_AFTER: std::time::Duration = std::time::Duration::from_secs(24 * 3600);

fn serialize_duration<S: serde::Serializer>(
    d: &std::time::Duration,
    s: S,
) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format!("{} seconds", d.as_secs()))
}
