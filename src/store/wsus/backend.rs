//! [`WsusServer`]: the [`UpdateServer`] trait over a remote WSUS.
//!
//! WSUS holds the truth for what it can hold: the locally published updates (existence,
//! revision, decline, expiry), the synchronization settings and the signing certificate.
//! What WSUS has no place for is kept where ConfigMgr keeps it, in a *site database*: the
//! embedded server's tables in the state directory hold the catalog subscriptions, V3
//! categories, approved and blocked certificates, and a mirror of each published update (its
//! catalog and package), which tells whose update is whose. supctl's own bookkeeping
//! (journal, runs, lock, ...) is not this server's: the [`crate::store::Store`] keeps it.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use super::client::Client;
use super::error::WsusError;
use super::sync_settings::{RemoteSync, check_token};
use super::transport::{Endpoint, Transport};
use super::updates::{self, RemoteUpdates, SyncedIndex};
use super::{history, publish};
use crate::ids::{Sha1, Thumbprint, UpdateId};
use crate::store::actual::{fingerprint_of, object_json};
use crate::store::embedded::EmbeddedServer;
use crate::store::{
    ActualState, Address, Applied, Capabilities, CertKind, CertState, Change, Counts, Fingerprint,
    Result, ServerIdentity, SigningInstallation, SigningMode, SigningSettings, StoreError,
    StoredCertificate, SyncRun, SyncSettings, Target, UpdateServer,
};
use crate::store::{LocalCategories, LocalCategory};
use crate::trust::CertificateInfo;

/// What this backend can do: everything but staging content, which needs the server's file
/// shares (reference §10), not the admin API.
pub const CAPABILITIES: Capabilities = Capabilities {
    content_staging: false,
    upstream_sync: true,
    signing_key_on_server: true,
    ..Capabilities::ALL
};

/// The signing settings in force: the recorded mode with the server's certificate.
fn signing_settings(
    recorded: Option<&SigningSettings>,
    certificate: Option<Thumbprint>,
) -> Option<SigningSettings> {
    match (recorded, certificate) {
        (Some(r), certificate) => Some(SigningSettings {
            mode: r.mode,
            certificate,
        }),
        // A certificate nobody told supctl about is an admin's: manual.
        (None, Some(c)) => Some(SigningSettings {
            mode: SigningMode::Manual,
            certificate: Some(c),
        }),
        (None, None) => None,
    }
}

/// 32 random bytes in hex: the PFX's password exists only for the one call that carries it.
fn one_time_password() -> Result<String> {
    let mut b = [0u8; 32];
    aws_lc_rs::rand::fill(&mut b).map_err(|_| {
        StoreError::from(crate::signing::SigningError::Generate(
            "no randomness".into(),
        ))
    })?;
    Ok(hex::encode(b))
}

/// How far back `status` looks for WSUS synchronization runs.
const HISTORY_DAYS: i64 = 30;

/// A WSUS server plus its site database.
pub struct WsusServer {
    client: Client,
    /// What WSUS has no place for (see the module doc).
    site: EmbeddedServer,
    version: Option<String>,
    url: String,
    /// The latest revisions on the server, cached between writes so apply's per-action
    /// fingerprints do not list every update each time.
    remote: Mutex<Option<Arc<RemoteUpdates>>>,
    synced: Mutex<SyncedIndex>,
    /// The change tokens of the settings the last snapshot saw: a settings write refuses
    /// when the server's rows moved since the plan was made from them.
    tokens: Mutex<Option<(i64, String)>>,
    /// The server's `ServerId`, read once (saved plans record it).
    identity: crate::store::identity::Remembered,
}

impl WsusServer {
    /// Connects, checking the account has a WSUS role; `site` is the site database.
    pub fn connect(endpoint: Endpoint, admin: String, site: EmbeddedServer) -> Result<Self> {
        let url = endpoint.service_url();
        let client = Client::new(Transport::connect(endpoint)?, admin.clone());
        let version = client.server_version()?;
        if client.user_role()? == 0 {
            return Err(WsusError::Config(format!(
                "{admin} has no WSUS role on {url}: add the account to WSUS Reporters (plan, status) or WSUS Administrators (apply, sync)"
            ))
            .into());
        }
        let synced = SyncedIndex::load(site.location().dir());
        Ok(WsusServer {
            client,
            site: site.as_site_database(),
            version,
            url,
            remote: Mutex::new(None),
            synced: Mutex::new(synced),
            tokens: Mutex::new(None),
            identity: Default::default(),
        })
    }

    fn remote_updates(&self, fresh: bool) -> Result<Arc<RemoteUpdates>> {
        let mut cache = self.remote.lock().unwrap_or_else(|e| e.into_inner());
        if fresh || cache.is_none() {
            *cache = Some(Arc::new(updates::latest(self.client.updates()?)));
        }
        Ok(cache.clone().unwrap_or_default())
    }

    fn forget_updates(&self) {
        *self.remote.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }

    /// Every locally published update, mirror and server merged.
    fn merged_updates(
        &self,
        book: &ActualState,
        remote: &RemoteUpdates,
    ) -> Result<crate::store::StoredUpdates> {
        let mut out = BTreeMap::new();
        let mut synced = self.synced.lock().unwrap_or_else(|e| e.into_inner());
        for r in remote.values() {
            let merged = match book.updates.get(&r.id) {
                Some(m) => Some(updates::overlay((**m).clone(), r)),
                None => synced
                    .fetch(&self.client, r)?
                    .map(|rec| updates::adopted(&rec, r, &book.catalogs)),
            };
            if let Some(u) = merged {
                out.insert(u.id, Box::new(u));
            }
        }
        synced.save();
        updates::link_supersedence(&mut out);
        Ok(out)
    }

    /// The thumbprint of the server's signing certificate, `None` when it has none.
    fn signing_thumbprint(&self) -> Result<Option<Thumbprint>> {
        Ok(self
            .client
            .signing_certificate()?
            .map(|der| Thumbprint::from(&Sha1::of(&der))))
    }

    /// The server's signing certificate, parsed; `None` when it has none or it does not parse.
    fn signing_certificate(&self) -> Result<Option<CertificateInfo>> {
        Ok(self
            .client
            .signing_certificate()?
            .and_then(|der| CertificateInfo::from_der(&der).ok()))
    }

    fn signing(&self, recorded: Option<&SigningSettings>) -> Result<Option<SigningSettings>> {
        Ok(signing_settings(recorded, self.signing_thumbprint()?))
    }

    fn sync_settings(&self, recorded: Option<&SyncSettings>) -> Result<(SyncSettings, RemoteSync)> {
        let remote = RemoteSync::read(&self.client)?;
        Ok((remote.effective(recorded), remote))
    }

    fn set_sync(&self, desired: SyncSettings) -> Result<Applied> {
        let remote = RemoteSync::read(&self.client)?;
        let seen = self.tokens.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some((change, modified)) = seen {
            check_token(
                "configuration",
                "configurationChangeNumber",
                &change.to_string(),
                &remote.configuration.change_number.to_string(),
            )?;
            check_token(
                "subscription",
                "LastModifiedTime",
                &modified,
                &remote.subscription.last_modified,
            )?;
        }
        let target = remote.target(&desired)?;
        let wrote = remote.write(&self.client, &target)?;
        let recorded = self.site.apply(Change::SetSyncSettings(desired))?;
        Ok(Applied::updated(wrote || recorded.changed))
    }

    /// WSUS keeps its signing key: a managed certificate (new, or a renewal) is the server's
    /// own `ExecuteSetSelfSigningCertificate`; the admin's certificate goes to the server as a
    /// PFX (`ExecuteSetSigningCertificate`) under a one-time password. The certificate in
    /// force is then recorded in the site database, so `certs list` shows it.
    fn set_signing(
        &self,
        desired: SigningSettings,
        install: Option<SigningInstallation>,
    ) -> Result<Applied> {
        let before = self.signing_thumbprint()?;
        let wrote = match install {
            Some(SigningInstallation::Server) => {
                self.client.create_self_signed_certificate()?;
                true
            }
            Some(SigningInstallation::Material(m)) => {
                let password = one_time_password()?;
                self.client
                    .set_signing_certificate(&m.to_pfx(&password)?, &password)?;
                true
            }
            None if desired.mode == SigningMode::Managed && before.is_none() => {
                self.client.create_self_signed_certificate()?;
                true
            }
            None => false,
        };
        let in_force = self.signing_certificate()?;
        if wrote && let Some(info) = &in_force {
            self.site.apply(Change::UpsertCertificate {
                thumbprint: info.thumbprint(),
                kind: CertKind::WsusSigning,
                state: CertState::Approved,
                info: Some(Box::new(info.clone())),
            })?;
            if let Some(old) = before.clone().filter(|o| *o != info.thumbprint()) {
                self.site.apply(Change::DeleteCertificate {
                    thumbprint: old,
                    kind: CertKind::WsusSigning,
                })?;
            }
        }
        let recorded = self.site.apply(Change::SetSigning {
            settings: SigningSettings {
                mode: desired.mode,
                certificate: in_force.map(|i| i.thumbprint()).or(before),
            },
            install: None,
        })?;
        Ok(Applied::updated(wrote || recorded.changed))
    }

    fn publish(
        &self,
        catalog: crate::store::CatalogKey,
        records: Vec<crate::catalog::model::UpdateRecord>,
        // The site database keeps each package packed, as the embedded server does.
        packed: crate::store::PackedPackages,
    ) -> Result<Applied> {
        let book = self.site.snapshot_settings()?;
        if !book.catalogs.contains_key(&catalog) {
            return Err(StoreError::UnknownCatalog(catalog));
        }
        let remote = self.remote_updates(false)?;
        let mut counts = Counts::default();
        let mut imported = Vec::new();
        let mut failure = None;
        for rec in records {
            let on_server = remote.get(&rec.id);
            let mirrored = self
                .site
                .update(&rec.id)?
                .is_some_and(|m| m.catalog == catalog && m.content_hash == rec.content_hash());
            if on_server.is_some() && mirrored {
                counts.unchanged += 1;
                continue;
            }
            let revision = on_server.map_or(1, |r| r.revision + 1);
            let result = publish::import(&rec, revision).and_then(|i| {
                self.client
                    .import_for_publishing(&i.sus_xml, &i.usp_xml, &i.files)
            });
            match result {
                Ok(()) => {
                    if on_server.is_some() {
                        counts.updated += 1;
                    } else {
                        counts.created += 1;
                    }
                    imported.push(rec);
                }
                Err(e) => {
                    failure = Some(e);
                    break;
                }
            }
        }
        self.forget_updates();
        if !imported.is_empty() {
            self.site.apply(Change::PublishUpdates {
                catalog,
                updates: imported,
                packed,
            })?;
        }
        match failure {
            Some(e) => Err(e.into()),
            None => Ok(Applied::from_counts(counts)),
        }
    }

    /// The locally published vendor and product categories WSUS lists, of every publisher
    /// (the site database knows supctl's only): companies and products whose UpdateSource
    /// is not Microsoft Update. Rows carry no parent, so each company's products are read
    /// with `ExecuteSPGetSubcategories`; a local product found under no company still
    /// counts, with no vendor.
    fn local_categories(&self) -> Result<LocalCategories> {
        let all = self.client.categories(false)?;
        let mut out = LocalCategories::default();
        let mut placed = std::collections::BTreeSet::new();
        for company in all.iter().filter(|c| c.is_local() && c.kind == "Company") {
            out.insert(LocalCategory::Vendor {
                vendor: company.title.clone(),
            });
            for product in self.client.subcategories(&company.id)? {
                if product.kind == "Product" {
                    placed.insert(product.id);
                    out.insert(LocalCategory::Product {
                        vendor: company.title.clone(),
                        product: product.title,
                    });
                }
            }
        }
        for orphan in all
            .iter()
            .filter(|c| c.is_local() && c.kind == "Product" && !placed.contains(&c.id))
        {
            out.insert(LocalCategory::Product {
                vendor: String::new(),
                product: orphan.title.clone(),
            });
        }
        Ok(out)
    }

    fn expire(&self, ids: Vec<UpdateId>) -> Result<Applied> {
        let remote = self.remote_updates(true)?;
        let mut counts = Counts::default();
        let mut done = Vec::new();
        let mut failure = None;
        for id in &ids {
            let Some(r) = remote.get(id) else { continue };
            if r.expired {
                counts.unchanged += 1;
                done.push(*id);
                continue;
            }
            let result = (|| {
                let sdp =
                    self.client
                        .sdp(id, r.revision)?
                        .ok_or_else(|| WsusError::NotSupported {
                            what: format!("expiring update {id}"),
                            why: "WSUS has no SDP for it (it was not published locally)".into(),
                        })?;
                let i = publish::expiry(&sdp, r.revision + 1)?;
                self.client
                    .import_for_publishing(&i.sus_xml, &i.usp_xml, &i.files)
            })();
            match result {
                Ok(()) => {
                    counts.updated += 1;
                    done.push(*id);
                }
                Err(e) => {
                    failure = Some(e);
                    break;
                }
            }
        }
        self.forget_updates();
        if !done.is_empty() {
            self.site.apply(Change::ExpireUpdates { ids: done })?;
        }
        match failure {
            Some(e) => Err(e.into()),
            None => Ok(Applied::from_counts(counts)),
        }
    }

    /// Approves an update for a group as the embedded server would: refused for an update
    /// WSUS has not got, or one that cannot be approved (expired, declined, no content).
    fn approve(
        &self,
        update: UpdateId,
        group: String,
        action: crate::config::ApprovalAction,
        deadline: Option<chrono::DateTime<chrono::Utc>>,
    ) -> Result<Applied> {
        let remote = self.remote_updates(false)?;
        let r = remote
            .get(&update)
            .ok_or_else(|| StoreError::UnknownUpdate(update))?;
        let stored = self.site.update(&update)?.map(|m| updates::overlay(m, r));
        crate::store::shared::check_approvable(stored.as_ref(), &update, action)?;
        let gid = super::approvals::group_id(&self.client, &group)?.ok_or_else(|| {
            StoreError::Invalid {
                what: "computer target group",
                value: group.clone(),
            }
        })?;
        if let Some(d) = super::approvals::deployment_of(&self.client, &update, &gid)?
            && d.action == super::approvals::wire(action)
            && super::approvals::same_deadline(d.deadline, deadline)
        {
            return Ok(Applied::updated(false));
        }
        self.client.deploy(
            &update,
            r.revision,
            super::approvals::wire(action),
            &gid,
            deadline,
        )?;
        Ok(Applied::updated(true))
    }

    fn set_declined(&self, ids: Vec<UpdateId>, declined: bool) -> Result<Applied> {
        let remote = self.remote_updates(true)?;
        let mut counts = Counts::default();
        for id in &ids {
            let Some(r) = remote.get(id) else { continue };
            if r.declined == declined {
                counts.unchanged += 1;
                continue;
            }
            let result = if declined {
                self.client.decline(id)
            } else {
                self.client.undecline(id, r.revision)
            };
            if let Err(e) = result {
                self.forget_updates();
                return Err(e.into());
            }
            counts.updated += 1;
        }
        self.forget_updates();
        self.site.apply(Change::SetDeclined { ids, declined })?;
        Ok(Applied::from_counts(counts))
    }
}

impl UpdateServer for WsusServer {
    fn name(&self) -> &'static str {
        "wsus"
    }

    fn capabilities(&self) -> Capabilities {
        CAPABILITIES
    }

    /// The server's own `ServerId` (its configuration row), which stays with the server
    /// whatever name or URL reaches it; a server that reports none is known by its URL.
    fn identity(&self) -> Result<ServerIdentity> {
        self.identity.get_or_read(|| {
            let id = self.client.configuration()?.server_id;
            Ok(ServerIdentity {
                backend: self.name().to_string(),
                id: id.map_or_else(|| self.url.clone(), |s| s.to_ascii_lowercase()),
                location: self.url.clone(),
            })
        })
    }

    fn describe(&self) -> String {
        format!(
            "WSUS {} at {} (site database in {})",
            self.version.as_deref().unwrap_or("(version not reported)"),
            self.url,
            self.site.location().dir().display()
        )
    }

    fn snapshot(&self) -> Result<ActualState> {
        let mut state = self.site.snapshot()?;
        let remote = self.remote_updates(true)?;
        state.updates = self.merged_updates(&state, &remote)?;
        state.groups = super::approvals::groups(&self.client)?;
        state.approvals =
            super::approvals::approvals(&self.client.deployments()?, &state.groups, |id| {
                state.updates.contains_key(id)
            });
        let (sync, raw) = self.sync_settings(state.sync.as_ref())?;
        *self.tokens.lock().unwrap_or_else(|e| e.into_inner()) = Some((
            raw.configuration.change_number,
            raw.subscription.last_modified.clone(),
        ));
        state.sync = Some(sync);
        state.local_categories = self.local_categories()?;
        // One read of the certificate: its thumbprint for the settings, and the certificate
        // itself, so that `trust export` and the expiry warnings see it as they see the
        // embedded server's.
        let der = self.client.signing_certificate()?;
        let thumbprint = der.as_ref().map(|d| Thumbprint::from(&Sha1::of(d)));
        state.signing = signing_settings(state.signing.as_ref(), thumbprint);
        if let Some(info) = der.and_then(|d| CertificateInfo::from_der(&d).ok()) {
            let t = info.thumbprint();
            state
                .certificates
                .retain(|c| !(c.kind == CertKind::WsusSigning && c.matches(&t)));
            state.certificates.push(StoredCertificate {
                thumbprint: t,
                kind: CertKind::WsusSigning,
                state: CertState::Approved,
                facts: Some(info),
            });
        }
        Ok(state)
    }

    fn apply(&self, change: Change) -> Result<Applied> {
        if matches!(
            change,
            Change::PublishUpdates { .. }
                | Change::ExpireUpdates { .. }
                | Change::SetDeclined { .. }
                | Change::SetSigning { .. }
        ) {
            // Our own writes may move the settings rows' tokens (the signing certificate
            // lives beside the configuration); from here on only the write's own re-read
            // guards a settings change.
            *self.tokens.lock().unwrap_or_else(|e| e.into_inner()) = None;
        }
        match change {
            Change::PublishUpdates {
                catalog,
                updates,
                packed,
            } => self.publish(catalog, updates, packed),
            Change::ExpireUpdates { ids } => self.expire(ids),
            Change::SetDeclined { ids, declined } => self.set_declined(ids, declined),
            Change::SetSyncSettings(s) => self.set_sync(s),
            Change::SetSigning { settings, install } => self.set_signing(settings, install),
            Change::StageContent(req) => {
                let _ = std::fs::remove_file(&req.temp_path);
                Err(StoreError::Unsupported {
                    what: "content staging".into(),
                    backend: "wsus",
                    why: "WSUS takes content through its file shares, which its admin API does not reach; publish metadata-only and let clients download from the vendor".into(),
                })
            }
            Change::CreateGroup { name } => {
                if super::approvals::group_id(&self.client, &name)?.is_some() {
                    return Ok(Applied::created(false));
                }
                self.client.create_target_group(&name, None)?;
                Ok(Applied::created(true))
            }
            Change::Approve {
                update,
                group,
                action,
                deadline,
            } => self.approve(update, group, action, deadline),
            Change::RemoveApproval { update, group } => {
                let Some(gid) = super::approvals::group_id(&self.client, &group)? else {
                    return Ok(Applied::updated(false));
                };
                match super::approvals::deployment_of(&self.client, &update, &gid)? {
                    Some(d) => {
                        self.client.delete_deployment(&d.id)?;
                        Ok(Applied::updated(true))
                    }
                    None => Ok(Applied::updated(false)),
                }
            }
            Change::RemoveContent { .. } => Err(StoreError::Unsupported {
                what: "removing staged content".into(),
                backend: "wsus",
                why: "this backend stages no content (WSUS keeps it on its own file shares)".into(),
            }),
            other => self.site.apply(other),
        }
    }

    fn fingerprint(&self, address: &Address) -> Result<Option<Fingerprint>> {
        let value = match address.target() {
            Some(Target::Update(k, id)) => {
                let remote = self.remote_updates(false)?;
                let Some(r) = remote.get(&id) else {
                    return Ok(None);
                };
                let merged = match self.site.update(&id)? {
                    Some(m) => Some(updates::overlay(m, r)),
                    None => {
                        let mut synced = self.synced.lock().unwrap_or_else(|e| e.into_inner());
                        match synced.fetch(&self.client, r)? {
                            Some(rec) => {
                                let book = self.site.snapshot_settings()?;
                                Some(updates::adopted(&rec, r, &book.catalogs))
                            }
                            None => None,
                        }
                    }
                };
                return Ok(merged.filter(|u| u.catalog == k).map(|u| u.fingerprint()));
            }
            Some(Target::Sync) => {
                let recorded = self.site.snapshot_settings()?.sync;
                Some(object_json(&self.sync_settings(recorded.as_ref())?.0))
            }
            Some(Target::Signing) => {
                let recorded = self.site.snapshot_settings()?.signing;
                self.signing(recorded.as_ref())?.map(|s| object_json(&s))
            }
            Some(Target::Group(name)) => super::approvals::groups(&self.client)?
                .into_iter()
                .find(|g| g.name.eq_ignore_ascii_case(&name))
                .map(|g| object_json(&g)),
            Some(Target::Approval(_, id, group)) => {
                let groups = super::approvals::groups(&self.client)?;
                super::approvals::approvals(&self.client.deployments()?, &groups, |u| *u == id)
                    .iter()
                    .find(|a| a.group.eq_ignore_ascii_case(&group))
                    .map(crate::store::actual::approval_json)
            }
            _ => return self.site.fingerprint(address),
        };
        Ok(value.map(|v| fingerprint_of(&v)))
    }

    fn compliance(&self) -> Result<BTreeMap<UpdateId, crate::store::Compliance>> {
        Ok(self
            .client
            .compliance(None)?
            .into_iter()
            .map(|c| {
                (
                    c.update,
                    crate::store::Compliance {
                        needed: c.needed,
                        installed: c.installed,
                        failed: c.failed,
                        not_applicable: c.not_applicable,
                        unknown: c.unknown,
                    },
                )
            })
            .collect())
    }

    fn raw_xml(&self, id: &UpdateId, revision: Option<u32>) -> Result<Option<String>> {
        if let Some(x) = self.site.raw_xml(id, revision)? {
            return Ok(Some(x));
        }
        let remote = self.remote_updates(false)?;
        match (remote.get(id), revision) {
            (Some(r), rev) => Ok(self.client.sdp(id, rev.unwrap_or(r.revision))?),
            (None, _) => Ok(None),
        }
    }

    /// The server's synchronizations with Microsoft Update (events 381–386).
    fn sync_history(&self, limit: usize) -> Result<Vec<SyncRun>> {
        let mut runs = Vec::new();
        let now = chrono::Utc::now();
        // A day past now as well: the server's clock is not ours.
        let events = self.client.sync_events(
            now - chrono::Duration::days(HISTORY_DAYS),
            now + chrono::Duration::days(1),
        )?;
        for run in history::runs(&events) {
            runs.push(SyncRun {
                scope: crate::store::Address::sync(),
                started: run.started,
                ended: Some(run.ended),
                result: match run.outcome {
                    history::SyncOutcome::Succeeded => crate::store::RunResult::Succeeded,
                    history::SyncOutcome::Cancelled => crate::store::RunResult::Cancelled,
                    history::SyncOutcome::Failed => crate::store::RunResult::Failed,
                },
                counts: crate::store::RunCounts::default(),
                message: Some(match run.message {
                    Some(m) => format!("WSUS synchronization: {m}"),
                    None => "WSUS synchronization".into(),
                }),
            });
        }
        runs.sort_by_key(|r| std::cmp::Reverse(r.started));
        runs.truncate(limit);
        Ok(runs)
    }

    fn staging_dir(&self) -> Result<PathBuf> {
        self.site.staging_dir()
    }

    fn start_synchronization(&self) -> Result<()> {
        if self.client.subscription_state()? != 0 {
            return Err(WsusError::NotSupported {
                what: "starting a synchronization".into(),
                why: "one is already running on the server; wait for it (supctl status shows its result)".into(),
            }
            .into());
        }
        Ok(self.client.start_synchronization()?)
    }

    fn import_catalog_update(&self, id: &UpdateId) -> Result<bool> {
        if self.remote_updates(true)?.contains_key(id) {
            return Ok(false);
        }
        let result = self.client.import_from_catalog_site(id);
        self.forget_updates();
        result?;
        Ok(true)
    }
}
