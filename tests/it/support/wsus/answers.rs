//! In-memory WSUS state and answers in the WSDL's shapes (rows positional, §4 column maps).
//! Reads live here; writes in `writes.rs` (schedule, configuration, certificate, sync),
//! `publishing.rs` (updates), `approvals.rs` (groups, approvals, compliance) and
//! `history.rs` (sync events). Every write
//! validates first and mutates last, so a fault leaves the state unchanged.

use chrono::NaiveDateTime;
use supctl::store::wsus::ntlm::crypto::utf16le;
use supctl::store::wsus::soap::Element;

pub(crate) use super::approvals::{Approval, Compliance, Group};
pub(crate) use super::history::Event;

/// Escapes text for element content.
pub(crate) fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

pub(crate) fn envelope(body: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:xsd="http://www.w3.org/2001/XMLSchema"><soap:Body>{body}</soap:Body></soap:Envelope>"#
    )
}

/// A .NET-style SOAP fault wrapping `inner`.
pub(crate) fn fault(inner: &str) -> String {
    envelope(&format!(
        "<soap:Fault><faultcode>soap:Server</faultcode><faultstring>System.Web.Services.Protocols.SoapException: Server was unable to process request. ---&gt; {}</faultstring><detail /></soap:Fault>",
        esc(inner)
    ))
}

/// NetBIOS domain `CORP`, computer `WSUS01`, then EOL (the timestamp is added by the caller).
pub(crate) fn target_info() -> Vec<u8> {
    let mut t = Vec::new();
    for (id, v) in [(2u16, "CORP"), (1, "WSUS01")] {
        let v = utf16le(v);
        t.extend(id.to_le_bytes());
        t.extend((v.len() as u16).to_le_bytes());
        t.extend(v);
    }
    t.extend([7, 0, 8, 0]);
    t.extend(0x01da_0000_0000_0000u64.to_le_bytes());
    t.extend([0, 0, 0, 0]);
    t
}

/// A cell: `Some((xsd type, value))` or `None` for `xsi:nil`.
pub(crate) type Cell<'a> = Option<(&'a str, String)>;

/// `<Values>…</Values>` of a `GenericReadableRow`.
pub(crate) fn values(cells: &[Cell]) -> String {
    let mut s = String::from("<Values>");
    for c in cells {
        match c {
            Some((ty, v)) => s.push_str(&format!(
                r#"<anyType xsi:type="xsd:{ty}">{}</anyType>"#,
                esc(v)
            )),
            None => s.push_str(r#"<anyType xsi:nil="true" />"#),
        }
    }
    s + "</Values>"
}

pub(crate) fn row(cells: &[Cell]) -> String {
    format!("<GenericReadableRow>{}</GenericReadableRow>", values(cells))
}

/// The access-denied fault WSUS gives a caller without the administrator role.
pub(crate) const ACCESS_DENIED: &str = "System.UnauthorizedAccessException: Access is denied.";
/// The built-in "All Computers" target group.
pub(crate) const ALL_COMPUTERS: &str = "a0a08746-4dbe-4a37-9adf-9e7652c0b421";

/// Operations that change server state (what [`super::WsusServer::writes`] reports).
pub(crate) const WRITES: &[&str] = &[
    "SetSubscription",
    "ExecuteSPSetConfiguration",
    "ExecuteSetSelfSigningCertificate",
    "ExecuteSetSigningCertificate",
    "ImportUpdateForPublishing",
    "ExecuteSPDeployUpdate1",
    "ExecuteSPCreateTargetGroup1",
    "ExecuteSPDeleteDeployment",
    "ExecuteSPDeclineUpdate",
    "ExecuteSPDeleteUpdateByUpdateID",
    "StartSubscriptionManually",
    "CatalogSiteGetMetadataAndImport",
];

pub(crate) fn is_write(op: &str) -> bool {
    WRITES.contains(&op)
}

#[derive(Debug, Clone)]
pub(crate) struct Category {
    pub id: String,
    pub kind: &'static str,
    pub title: String,
    pub subscribed: bool,
}

#[derive(Debug, Clone)]
pub(crate) struct Update {
    pub id: String,
    pub revision: u32,
    pub title: String,
    pub declined: bool,
    pub expired: bool,
    /// Locally published updates have an SDP; synced Microsoft updates do not.
    pub sdp: Option<String>,
}

#[derive(Debug, Clone)]
pub(crate) struct State {
    pub version: String,
    pub role: i32,
    pub change_number: i64,
    pub time_of_day: i64,
    pub per_day: i32,
    pub synchronize_automatically: bool,
    pub last_modified: String,
    pub last_modified_by: String,
    /// `LastSynchronizationTime`, zone-less.
    pub last_synchronization: String,
    /// How many `SetSubscription` writes succeeded (drives `LastModifiedTime`).
    pub subscription_writes: u32,
    pub categories: Vec<Category>,
    pub updates: Vec<Update>,
    pub approvals: Vec<Approval>,
    /// Target groups; All Computers, Unassigned Computers and Downstream Servers built in.
    pub groups: Vec<Group>,
    /// Installation counts per (update id, group id), both lower-case; absent = zeros.
    pub compliance: Compliance,
    /// The last number used in a generated id (deployments, groups), so none repeats.
    pub next_id: u64,
    pub signing_certificate: Option<Vec<u8>>,
    /// `ServerSupportsAllLanguages` of the configuration row.
    pub server_supports_all_languages: bool,
    /// The other `ConfigurationTableRow` fields the server sends, in WSDL order, `None` = nil
    /// (`configurationChangeNumber` comes from `change_number`).
    pub configuration: Vec<(String, Option<String>)>,
    /// (short language name, enabled locally).
    pub languages: Vec<(String, bool)>,
    /// Short names of the languages enabled upstream (`UssEnabled`).
    pub uss_languages: Vec<String>,
    /// `GetSubscriptionState`; non-zero means a sync is running.
    pub subscription_state: i32,
    /// When set, the next manual sync fails with this message (taken by the sync).
    pub next_sync_fails: Option<String>,
    /// Event history, oldest first.
    pub events: Vec<Event>,
    /// When the next manual sync starts (advances an hour per sync).
    pub clock: NaiveDateTime,
    /// Updates the Microsoft Update Catalog offers: (update id, title).
    pub catalog_site: Vec<(String, String)>,
    /// Locally published categories of other publishers: (vendor, its products).
    pub foreign_categories: Vec<(String, Vec<String>)>,
}

/// The `GetSubscription` fields, in WSDL order: what a `SetSubscription` row must carry.
pub(crate) const SUBSCRIPTION_FIELDS: &[&str] = &[
    "synchronizeAutomaticallyTimeOfDay",
    "LastModifiedBy",
    "LastModifiedTime",
    "LastSynchronizationTime",
    "SynchronizeAutomatically",
    "Anchor",
    "DeploymentAnchor",
    "NumberOfSynchronizationsPerDay",
    "IsCategoryOnly",
];

fn default_configuration() -> Vec<(String, Option<String>)> {
    [
        ("maxDeltaSyncPeriod", Some("30")),
        ("ServerId", Some("6bfa4bd4-7c5a-4e0d-9b8f-1f2e3d4c5b6a")),
        ("SyncToMU", Some("true")),
        ("UpstreamServerName", Some("")),
        ("HostOnMu", Some("false")),
        ("LocalContentCacheLocation", Some("D:\\WSUS")),
        ("EncryptionKey", None),
        ("ReplicaMode", Some("false")),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.map(str::to_string)))
    .collect()
}

impl Default for State {
    fn default() -> Self {
        let cat = |id: &str, kind, title: &str, subscribed| Category {
            id: id.into(),
            kind,
            title: title.into(),
            subscribed,
        };
        State {
            version: "10.0.20348.1".into(),
            role: 2,
            change_number: 100,
            time_of_day: 7200,
            per_day: 1,
            synchronize_automatically: true,
            last_modified: "2024-05-01T08:00:00.123".into(),
            last_modified_by: "CORP\\admin".into(),
            last_synchronization: "2024-05-02T02:00:00".into(),
            subscription_writes: 0,
            categories: vec![
                cat("6407468e-edc7-4ecd-8c32-521f64cee65e", "Product", "Windows 11", true),
                cat("e6cf1350-c01b-414d-a61f-263d14d133b4", "UpdateClassification", "Critical Updates", true),
                cat("0fa1201d-4330-4fa8-8ae9-b877473b6441", "UpdateClassification", "Security Updates", false),
            ],
            updates: vec![Update {
                id: "1f2e3d4c-0000-4000-8000-00000000abcd".into(),
                revision: 2,
                title: "Contoso Tool 2.1".into(),
                declined: false,
                expired: false,
                sdp: Some("<SoftwareDistributionPackage PackageID=\"1f2e3d4c-0000-4000-8000-00000000abcd\"/>".into()),
            }],
            approvals: Vec::new(),
            groups: super::approvals::default_groups(),
            compliance: Compliance::new(),
            next_id: 0,
            signing_certificate: None,
            server_supports_all_languages: true,
            configuration: default_configuration(),
            languages: ["en", "de", "fr", "ja", "es", "zh-cn"]
                .iter()
                .map(|l| (l.to_string(), *l == "en"))
                .collect(),
            uss_languages: vec!["en".into()],
            subscription_state: 0,
            next_sync_fails: None,
            events: super::history::default_events(),
            clock: super::history::at("2024-05-03T02:00:00"),
            catalog_site: vec![(
                "5e7c1a2b-3c4d-4e5f-8a9b-0c1d2e3f4a5b".into(),
                "2024-05 Cumulative Update for Windows 11 Version 23H2 for x64-based Systems (KB5037771)".into(),
            )],
            foreign_categories: Vec::new(),
        }
    }
}

pub(crate) fn text<'a>(params: &'a Element, name: &str) -> &'a str {
    params.child(name).map(|c| c.text.as_str()).unwrap_or("")
}

pub(crate) fn parse_bool(v: &str) -> Option<bool> {
    match v.trim() {
        "true" | "1" => Some(true),
        "false" | "0" => Some(false),
        _ => None,
    }
}

/// A required scalar of a request or row, or an ArgumentException naming it.
pub(crate) fn need<T: std::str::FromStr>(el: &Element, name: &str) -> Result<T, String> {
    el.child(name)
        .filter(|c| !c.is_nil())
        .and_then(|c| c.text.trim().parse().ok())
        .ok_or_else(|| format!("System.ArgumentException: {name} is missing or malformed"))
}

/// Names of `fields` the row element lacks (each one a violation of the whole-row write).
pub(crate) fn missing_fields<'a>(
    op: &str,
    row: &Element,
    fields: impl IntoIterator<Item = &'a str>,
) -> Vec<String> {
    fields
        .into_iter()
        .filter(|f| row.child(f).is_none())
        .map(|f| {
            format!(
                "{op}: the row lacks {f}, which the server sent (a partial write would reset it)"
            )
        })
        .collect()
}

impl State {
    /// The inner XML of `<{op}Response>`, or a fault message. Contract violations found
    /// while answering (a whole-row write missing fields) are pushed onto `violations`.
    pub(crate) fn answer(
        &mut self,
        op: &str,
        params: &Element,
        user: Option<&str>,
        violations: &mut Vec<String>,
    ) -> Result<String, String> {
        let res = |v: String| format!("<{op}Result>{v}</{op}Result>");
        Ok(match op {
            "GetServerVersion" => res(esc(&self.version)),
            "GetCurrentUserRole" => res(self.role.to_string()),
            "GetSubscriptionState" => res(self.subscription_state.to_string()),
            "ExecuteSPGetConfiguration" => res(format!(
                "<Configuration>{}</Configuration><GroupAuthorization /><Authorization />",
                self.configuration_fields()
                    .into_iter()
                    .map(|(k, v)| match v {
                        Some(v) if v.is_empty() => format!("<{k} />"),
                        Some(v) => format!("<{k}>{}</{k}>", esc(&v)),
                        None => format!("<{k} xsi:nil=\"true\" />"),
                    })
                    .collect::<String>()
            )),
            "GetSubscription" => res(self.subscription_fields()),
            "GetSubscriptionCategories" | "ExecuteSPGetCategories" => {
                let classifications = text(params, "retrieveUpdateClassifications") == "true";
                let mut rows =
                    self.category_rows(classifications, op == "GetSubscriptionCategories");
                if op == "ExecuteSPGetCategories" && !classifications {
                    rows.push_str(&self.local_category_rows());
                }
                res(rows)
            }
            "ExecuteSPGetSubcategories" => res(self.subcategory_rows(text(params, "categoryId"))),
            "ExecuteSPGetAllLanguagesWithEnabledState" => res(self
                .languages
                .iter()
                .enumerate()
                .map(|(i, (l, on))| {
                    let uss = self.uss_languages.iter().any(|u| u.eq_ignore_ascii_case(l));
                    row(&[
                        Some(("string", l.clone())),
                        Some(("boolean", on.to_string())),
                        Some(("boolean", uss.to_string())),
                        Some(("int", (1000 + i).to_string())),
                    ])
                })
                .collect()),
            "ExecuteSPSearchUpdates" => {
                let rows: String = (0..self.updates.len())
                    .map(|i| self.update_row(i, self.updates[i].revision))
                    .collect();
                res(complete_updates(&rows))
            }
            "ExecuteSPGetUpdateById" => {
                let id = params.child("id").cloned().unwrap_or_default();
                let uid = text(&id, "UpdateId").to_ascii_lowercase();
                let rev: u32 = text(&id, "RevisionNumber").trim().parse().unwrap_or(0);
                let rows = match self.updates.iter().position(|u| u.id == uid) {
                    Some(i) if (1..=self.updates[i].revision).contains(&rev) => {
                        self.update_row(i, rev)
                    }
                    _ => String::new(),
                };
                res(complete_updates(&rows))
            }
            "ExecuteSPGetSdpXmlForUpdate" => {
                let id = text(params, "updateId").to_ascii_lowercase();
                match self
                    .updates
                    .iter()
                    .find(|u| u.id == id)
                    .and_then(|u| u.sdp.clone())
                {
                    Some(sdp) => res(esc(&sdp)),
                    None => String::new(),
                }
            }
            "ExecuteGetSigningCertificate" => match &self.signing_certificate {
                Some(der) => {
                    use base64::Engine as _;
                    res(base64::engine::general_purpose::STANDARD.encode(der))
                }
                None => String::new(),
            },
            "ExecuteSPSearchEventHistory" => res(self.search_events(params)?),
            "SetSubscription" => self.set_subscription(params, violations)?,
            "ExecuteSPSetConfiguration" => self.set_configuration(params, violations)?,
            "ExecuteSetSelfSigningCertificate" => self.self_signing_certificate()?,
            "ExecuteSetSigningCertificate" => self.set_signing_certificate(params)?,
            "StartSubscriptionManually" => self.start_sync()?,
            "ImportUpdateForPublishing" => self.import_update(params)?,
            "CatalogSiteGetMetadataAndImport" => self.catalog_site_import(params)?,
            "ExecuteSPDeployUpdate1" => res(self.deploy(params)?),
            "ExecuteSPGetAllTargetGroups" => res(self.target_group_rows()),
            "ExecuteSPCreateTargetGroup1" => res(self.create_target_group(params)?),
            "ExecuteSPGetDeployments" => res(self.deployment_rows()),
            "ExecuteSPDeleteDeployment" => self.delete_deployment(params)?,
            "ExecuteSPGetSummariesPerUpdate" => res(self.summaries_per_update(params)?),
            "ExecuteSPGetUpdateSummariesForTargetGroup" => res(self.summaries_for_group(params)?),
            "ExecuteSPDeclineUpdate" => self.decline(params, user)?,
            "ExecuteSPDeleteUpdateByUpdateID" => self.delete_update(params)?,
            other => {
                return Err(format!(
                    "System.NotImplementedException: the test double does not implement {other}"
                ));
            }
        })
    }

    /// Every `ConfigurationTableRow` field the server sends, in WSDL order.
    pub(crate) fn configuration_fields(&self) -> Vec<(String, Option<String>)> {
        let mut out = Vec::new();
        for (k, v) in &self.configuration {
            out.push((k.clone(), v.clone()));
            if k == "maxDeltaSyncPeriod" {
                out.push((
                    "configurationChangeNumber".into(),
                    Some(self.change_number.to_string()),
                ));
            }
            if k == "UpstreamServerName" {
                out.push((
                    "ServerSupportsAllLanguages".into(),
                    Some(self.server_supports_all_languages.to_string()),
                ));
            }
        }
        out
    }

    fn subscription_fields(&self) -> String {
        format!(
            "<synchronizeAutomaticallyTimeOfDay>{}</synchronizeAutomaticallyTimeOfDay><LastModifiedBy>{}</LastModifiedBy><LastModifiedTime>{}</LastModifiedTime><LastSynchronizationTime>{}</LastSynchronizationTime><SynchronizeAutomatically>{}</SynchronizeAutomatically><Anchor /><DeploymentAnchor /><NumberOfSynchronizationsPerDay>{}</NumberOfSynchronizationsPerDay><IsCategoryOnly>false</IsCategoryOnly>",
            self.time_of_day,
            esc(&self.last_modified_by),
            self.last_modified,
            self.last_synchronization,
            self.synchronize_automatically,
            self.per_day
        )
    }

    fn category_rows(&self, classifications: bool, only_subscribed: bool) -> String {
        self.categories
            .iter()
            .enumerate()
            .filter(|(_, c)| (c.kind == "UpdateClassification") == classifications)
            .filter(|(_, c)| c.subscribed || !only_subscribed)
            .map(|(i, c)| {
                row(&[
                    Some(("int", (i + 1).to_string())),
                    Some(("string", c.id.to_uppercase())),
                    Some(("string", c.kind.to_string())),
                    Some(("boolean", "false".into())),
                    Some(("boolean", "false".into())),
                    Some(("int", "0".into())),
                    Some(("int", i.to_string())),
                    Some(("string", c.title.clone())),
                    None,
                    None,
                    Some(("dateTime", "2009-01-01T00:00:00".into())),
                    Some(("string", "MicrosoftUpdate".into())),
                    Some(("string", "undocumented trailing column".into())),
                ])
            })
            .collect()
    }

    /// One `minimalProperties` row of update `i` at revision `rev`.
    fn update_row(&self, i: usize, rev: u32) -> String {
        let u = &self.updates[i];
        let mut cells: Vec<Cell> = vec![None; 39];
        cells[0] = Some(("string", u.id.clone()));
        cells[1] = Some(("int", rev.to_string()));
        cells[2] = Some(("int", (20000 + i * 100 + rev as usize).to_string()));
        cells[3] = Some(("int", (900 + i).to_string()));
        cells[16] = Some(("int", if u.expired { "1" } else { "0" }.into()));
        cells[17] = Some(("dateTime", "2023-11-02T10:00:00".into()));
        cells[22] = Some(("boolean", u.declined.to_string()));
        cells[24] = Some(("boolean", (rev == u.revision).to_string()));
        cells[29] = Some(("string", u.title.clone()));
        cells[30] = Some(("string", String::new()));
        row(&cells)
    }
}

fn complete_updates(rows: &str) -> String {
    let min = if rows.is_empty() {
        "<minimalProperties />".to_string()
    } else {
        format!("<minimalProperties>{rows}</minimalProperties>")
    };
    format!("{min}<localizedCategoryTitleRows /><kbArticles /><bulletins /><infoUrls />")
}
