//! Typed ApiRemoting30 calls: one method per SOAP operation the backend uses, parameters in
//! WSDL order (`tests/fixtures/wsus/operations.txt`), answers parsed into records.
//!
//! Nothing here decides anything; the backend composes these calls into read-modify-write
//! sequences.

use chrono::{DateTime, Utc};

use crate::deployments;
/// The records these calls answer, here for callers that reach the crate through `client`.
pub use crate::deployments::{DeployAction, Deployment, TargetGroup, UNASSIGNED, UpdateCompliance};
use crate::error::Result;
use crate::history::{self, Event};
use crate::records::{
    self, Configuration, RowElement, Subscription, UpdateSummary, WsusCategory, result_rows,
};
use crate::rows::map_rows;
use crate::soap::{Call, Element, TNS, XSI};
use crate::transport::Transport;
use supctl_ids::{Sha1, UpdateId};

/// The culture for localized titles; WSUS falls back to English for missing languages.
const CULTURE: &str = "en";
/// Every publication state (the .NET `PublicationState.All`), observed in open clients.
const ALL_PUBLICATION_STATES: &str = "2147483647";
/// The "All Computers" target group, which every approval and decline applies to.
pub const ALL_COMPUTERS: &str = "a0a08746-4dbe-4a37-9adf-9e7652c0b421";
/// The console's "no deadline".
const NO_DEADLINE: &str = "9999-12-31T23:59:59.997";
/// Every update, approved or not (`ApprovedStates="-1"`), as an open client scopes its
/// update and deployment reads.
const ALL_UPDATES: &str = r#"<UpdateScope ApprovedStates="-1" />"#;
/// Every computer of this server, not those of downstream servers (observed in the same
/// open client's summaries read).
const ALL_COMPUTER_TARGETS: &str =
    r#"<ComputerTargetScope IncludeDownstreamComputerTargets="false" />"#;

/// One language row of `ExecuteSPGetAllLanguagesWithEnabledState`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Language {
    pub short_name: String,
    pub enabled: bool,
}

/// One file digest → URL mapping of `ImportUpdateForPublishing` (`ServerSyncUrlData`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UrlData {
    pub sha1: Sha1,
    /// Where clients (or WSUS) download the file: the vendor's `OriginUri`.
    pub mu_url: Option<String>,
}

/// The SOAP calls over one authenticated transport.
pub struct Client {
    transport: Transport,
    /// `DOMAIN\user`, written into `adminName`/`userName` parameters for WSUS's audit trail.
    admin: String,
}

impl Client {
    pub fn new(transport: Transport, admin: String) -> Self {
        Client { transport, admin }
    }

    fn call(&self, call: Call) -> Result<Element> {
        self.transport.call(call)
    }

    pub fn server_version(&self) -> Result<Option<String>> {
        Ok(records::server_version(
            &self.call(Call::new("GetServerVersion"))?,
        ))
    }

    pub fn user_role(&self) -> Result<i32> {
        records::user_role(&self.call(Call::new("GetCurrentUserRole"))?)
    }

    pub fn configuration(&self) -> Result<Configuration> {
        Configuration::from_response(&self.call(Call::new("ExecuteSPGetConfiguration"))?)
    }

    pub fn subscription(&self) -> Result<Subscription> {
        Subscription::from_response(&self.call(Call::new("GetSubscription"))?)
    }

    /// The subscribed products (`false`) or classifications (`true`).
    pub fn subscription_categories(&self, classifications: bool) -> Result<Vec<UpdateId>> {
        records::subscription_categories(
            &self.call(
                Call::new("GetSubscriptionCategories")
                    .arg("preferredCulture", CULTURE)
                    .arg("retrieveUpdateClassifications", classifications),
            )?,
        )
    }

    /// Every category the server knows: products and their parents, or classifications.
    pub fn categories(&self, classifications: bool) -> Result<Vec<WsusCategory>> {
        records::categories(
            &self.call(
                Call::new("ExecuteSPGetCategories")
                    .arg("preferredCulture", CULTURE)
                    .arg("retrieveUpdateClassifications", classifications)
                    .arg("fromSyncDate", "1753-01-01T00:00:00")
                    .arg("toSyncDate", "9999-12-31T23:59:59"),
            )?,
        )
    }

    /// The categories under `category` (a company's products and product families).
    pub fn subcategories(&self, category: &UpdateId) -> Result<Vec<WsusCategory>> {
        records::subcategories(
            &self.call(
                Call::new("ExecuteSPGetSubcategories")
                    .arg("preferredCulture", CULTURE)
                    .arg("categoryId", category.as_str()),
            )?,
        )
    }

    pub fn languages(&self) -> Result<Vec<Language>> {
        const OP: &str = "ExecuteSPGetAllLanguagesWithEnabledState";
        let resp = self.call(Call::new(OP))?;
        map_rows(OP, &result_rows(OP, &resp), |c| {
            Ok(Language {
                short_name: c.str(0)?,
                enabled: c.bool(1)?,
            })
        })
    }

    /// Every update revision the server lists (latest revisions, all publication states).
    pub fn updates(&self) -> Result<Vec<UpdateSummary>> {
        const OP: &str = "ExecuteSPSearchUpdates";
        let resp = self.call(
            Call::new(OP)
                .arg("updateScopeXml", ALL_UPDATES)
                .arg("preferredCulture", CULTURE)
                .arg("publicationState", ALL_PUBLICATION_STATES),
        )?;
        records::complete_updates(OP, &resp)
    }

    /// The stored SDP of a locally published update revision; `None` for synced updates.
    pub fn sdp(&self, id: &UpdateId, revision: u32) -> Result<Option<String>> {
        Ok(records::sdp_xml(
            &self.call(
                Call::new("ExecuteSPGetSdpXmlForUpdate")
                    .arg("updateId", id)
                    .arg("revisionNumber", revision),
            )?,
        ))
    }

    pub fn signing_certificate(&self) -> Result<Option<Vec<u8>>> {
        records::signing_certificate(&self.call(Call::new("ExecuteGetSigningCertificate"))?)
    }

    /// Has the server create and register a new self-signed signing certificate (replacing
    /// any existing one; the private key never leaves the server).
    pub fn create_self_signed_certificate(&self) -> Result<()> {
        self.call(Call::new("ExecuteSetSelfSigningCertificate"))
            .map(drop)
    }

    /// Installs the admin's certificate: a PFX with its key, and the PFX's password.
    /// `passwordBytes` carries the password as UTF-16LE, the bytes of the .NET string the
    /// admin API's own `SetSigningCertificate(pfx, SecureString)` sends (inferred: the wire
    /// format is not documented).
    pub fn set_signing_certificate(&self, pfx: &[u8], password: &str) -> Result<()> {
        use base64::Engine as _;
        let b64 = &base64::engine::general_purpose::STANDARD;
        let password: Vec<u8> = password.encode_utf16().flat_map(u16::to_le_bytes).collect();
        self.call(
            Call::new("ExecuteSetSigningCertificate")
                .arg("PFXFileContent", b64.encode(pfx))
                .arg("passwordBytes", b64.encode(password)),
        )
        .map(drop)
    }

    /// Whole-row subscription write: the row as read with the managed fields changed, and
    /// the complete product and classification lists (the call replaces all of them).
    pub fn set_subscription(
        &self,
        row: &RowElement,
        products: &[UpdateId],
        classifications: &[UpdateId],
    ) -> Result<()> {
        self.call(
            Call::new("SetSubscription")
                .arg_element("subscription", row.0.clone())
                .arg_element("categoryIds", guid_array(products))
                .arg_element("updateClassificationIds", guid_array(classifications))
                .arg("userName", &self.admin),
        )
        .map(drop)
    }

    /// Whole-row configuration write, enabling and disabling languages by short name.
    pub fn set_configuration(
        &self,
        row: &RowElement,
        enable: &[String],
        disable: &[String],
    ) -> Result<()> {
        let empty = || Element::new(Some(TNS), "ArrayOfAnyType");
        self.call(
            Call::new("ExecuteSPSetConfiguration")
                .arg_element("row", row.0.clone())
                .arg_element("listTrue", string_array(enable))
                .arg_element("listFalse", string_array(disable))
                .arg_element("ussListTrue", empty())
                .arg_element("ussListFalse", empty())
                .arg_element("programKeys", Element::new(Some(TNS), "ArrayOfProgramKey")),
        )
        .map(drop)
    }

    /// Imports (publishes, revises or expires) one update: `sus_xml` is the update as WSUS
    /// stores it, `usp_xml` the SDP kept for later export and expiry.
    pub fn import_for_publishing(
        &self,
        sus_xml: &str,
        usp_xml: &str,
        files: &[UrlData],
    ) -> Result<()> {
        let mut urls = Element::new(Some(TNS), "ArrayOfServerSyncUrlData");
        for f in files {
            let mut d = Element::new(Some(TNS), "ServerSyncUrlData").with_child(Element::leaf(
                Some(TNS),
                "FileDigest",
                f.sha1.to_base64(),
            ));
            if let Some(u) = &f.mu_url {
                d.children
                    .push(Element::leaf(Some(TNS), "MUUrl", u.as_str()));
            }
            urls.children.push(d);
        }
        self.call(
            Call::new("ImportUpdateForPublishing")
                .arg("susXml", sus_xml)
                .arg("uspXml", usp_xml)
                .arg_element("urlData", urls)
                .arg("sdpOnly", false),
        )
        .map(drop)
    }

    pub fn decline(&self, id: &UpdateId) -> Result<()> {
        self.call(
            Call::new("ExecuteSPDeclineUpdate")
                .arg("updateId", id)
                .arg("adminName", &self.admin)
                .arg("failIfReplica", true),
        )
        .map(drop)
    }

    /// Clears a decline: "not approved" for All Computers, as the console's Approve dialog.
    pub fn undecline(&self, id: &UpdateId, revision: u32) -> Result<()> {
        self.deploy(id, revision, DeployAction::NotApproved, ALL_COMPUTERS, None)
    }

    /// Every computer target group (the Downstream Servers group is left out).
    pub fn target_groups(&self) -> Result<Vec<TargetGroup>> {
        deployments::target_groups(&self.call(Call::new("ExecuteSPGetAllTargetGroups"))?)
    }

    /// Creates a computer group under `parent` (All Computers when `None`) and returns its
    /// id. WSUS refuses a name its parent already has, so callers look before creating.
    pub fn create_target_group(&self, name: &str, parent: Option<&str>) -> Result<String> {
        deployments::created_target_group(
            &self.call(
                Call::new("ExecuteSPCreateTargetGroup1")
                    .arg("name", name)
                    .arg("parentGroupId", parent.unwrap_or(ALL_COMPUTERS)),
            )?,
        )
    }

    /// Every deployment the server holds, of every update and group, whatever its action.
    /// The scope is all updates in all publication states, the scope of [`Client::updates`]:
    /// WSUS has no observed scope attribute for "locally published", so callers keep the
    /// rows of the updates they manage (and see a console's approval of an expired one).
    pub fn deployments(&self) -> Result<Vec<Deployment>> {
        deployments::deployments(
            &self.call(
                Call::new("ExecuteSPGetDeployments")
                    .arg("updateScopeXml", ALL_UPDATES)
                    .arg("preferredCulture", CULTURE)
                    .arg("publicationState", ALL_PUBLICATION_STATES),
            )?,
        )
    }

    /// Approves (install, uninstall), blocks or clears one update revision for one group.
    /// A new action for the same update and group replaces the old one on the server.
    /// `deadline` is sent zone-less in UTC, the form SUSDB stores; `None` sends the
    /// console's "no deadline". `isAssigned` is true for approvals, as an open client's
    /// Approve sends it, and false for clearing and blocking, as `undecline` always sent.
    pub fn deploy(
        &self,
        update: &UpdateId,
        revision: u32,
        action: DeployAction,
        group: &str,
        deadline: Option<DateTime<Utc>>,
    ) -> Result<()> {
        let rev = Element::new(Some(TNS), "UpdateRevisionId")
            .with_child(Element::leaf(Some(TNS), "UpdateId", update.to_string()))
            .with_child(Element::leaf(
                Some(TNS),
                "RevisionNumber",
                revision.to_string(),
            ));
        let deadline = deadline.map_or_else(
            || NO_DEADLINE.to_string(),
            |d| d.format("%Y-%m-%dT%H:%M:%S%.3f").to_string(),
        );
        self.call(
            Call::new("ExecuteSPDeployUpdate1")
                .arg_element("updateId", rev)
                .arg("deploymentAction", action.wire())
                .arg("targetGroupId", group)
                .arg("deadline", deadline)
                .arg("adminName", &self.admin)
                .arg("isAssigned", action.is_approval()),
        )
        .map(drop)
    }

    /// Removes one deployment (an approval, a block) by its id from [`Client::deployments`].
    pub fn delete_deployment(&self, id: &str) -> Result<()> {
        self.call(
            Call::new("ExecuteSPDeleteDeployment")
                .arg("id", id)
                .arg("adminName", &self.admin),
        )
        .map(drop)
    }

    /// Installation counts per update: over every computer of the server (`None`), or over
    /// one group and its subgroups. See [`UpdateCompliance`] for the operations and why.
    pub fn compliance(&self, group: Option<&str>) -> Result<Vec<UpdateCompliance>> {
        let (op, call) = match group {
            None => {
                const OP: &str = "ExecuteSPGetSummariesPerUpdate";
                let call = Call::new(OP)
                    .arg("updateScopeXml", ALL_UPDATES)
                    .arg("computerTargetScopeXml", ALL_COMPUTER_TARGETS)
                    .arg("preferredCulture", CULTURE)
                    .arg("publicationState", ALL_PUBLICATION_STATES);
                (OP, call)
            }
            Some(g) => {
                const OP: &str = "ExecuteSPGetUpdateSummariesForTargetGroup";
                let call = Call::new(OP)
                    .arg("targetGroupId", g)
                    .arg("includeSubgroups", true);
                (OP, call)
            }
        };
        deployments::compliance(op, &self.call(call)?)
    }

    pub fn start_synchronization(&self) -> Result<()> {
        self.call(Call::new("StartSubscriptionManually")).map(drop)
    }

    /// The raw `GetSubscriptionState` number (0 when idle).
    pub fn subscription_state(&self) -> Result<i32> {
        records::subscription_state(&self.call(Call::new("GetSubscriptionState"))?)
    }

    /// Synchronization events between two server times, oldest first.
    pub fn sync_events(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Result<Vec<Event>> {
        history::events(
            &self.call(
                Call::new("ExecuteSPSearchEventHistory")
                    .arg_element("eventHistoryFilter", history::sync_filter(from, to)),
            )?,
        )
    }

    /// Imports one update from the Microsoft Update Catalog; WSUS fetches its metadata.
    pub fn import_from_catalog_site(&self, id: &UpdateId) -> Result<()> {
        self.call(
            Call::new("CatalogSiteGetMetadataAndImport")
                .arg("updateId", id)
                .arg_element(
                    "downloadedFileDigests",
                    Element::new(Some(TNS), "ArrayOfBase64Binary"),
                ),
        )
        .map(drop)
    }
}

fn guid_array(ids: &[UpdateId]) -> Element {
    let mut a = Element::new(Some(TNS), "ArrayOfGuid");
    a.children = ids
        .iter()
        .map(|id| Element::leaf(Some(TNS), "guid", id.to_string()))
        .collect();
    a
}

fn string_array(values: &[String]) -> Element {
    let mut a = Element::new(Some(TNS), "ArrayOfAnyType");
    a.children = values
        .iter()
        .map(|v| {
            Element::leaf(Some(TNS), "anyType", v.as_str()).with_attr(Some(XSI), "type", "string")
        })
        .collect();
    a
}
