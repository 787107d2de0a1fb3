//! Typed records built from ApiRemoting30 answers: server facts, the configuration and
//! subscription rows (kept whole for read-modify-write), categories, locally published
//! updates, the signing certificate and synchronization history.
//!
//! Column maps are the ones in the reference (§4–5); each parser names its operation so a
//! server that answers differently fails with a message saying where.

use base64::Engine as _;
use chrono::{DateTime, Utc};

use crate::error::{Result, WsusError};
use crate::rows::{Row, map_rows, parse_bool, parse_date, parse_rows};
use crate::soap::{Element, result};
use supctl_ids::UpdateId;

/// `GetServerVersion` → the version string (`10.0.20348.1`); `None` when the result is null.
pub fn server_version(resp: &Element) -> Option<String> {
    result("GetServerVersion", resp).map(|r| r.text.trim().to_string())
}

/// `GetCurrentUserRole` → the role number; 0 means no WSUS role (§3).
pub fn user_role(resp: &Element) -> Result<i32> {
    scalar("GetCurrentUserRole", resp)
}

/// `GetSubscriptionState` → the raw state number (wire values unconfirmed, §5.3).
pub fn subscription_state(resp: &Element) -> Result<i32> {
    scalar("GetSubscriptionState", resp)
}

fn scalar<T: std::str::FromStr>(op: &str, resp: &Element) -> Result<T> {
    result(op, resp)
        .and_then(|r| r.text.trim().parse().ok())
        .ok_or_else(|| WsusError::malformed(op, format!("{op}Result is missing or not a number")))
}

/// A row element read from the server and kept whole: writes send it back with only the
/// managed fields changed (reference §6), so unknown fields and nil cells survive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowElement(pub Element);

impl RowElement {
    /// A field's text; `None` when absent or nil.
    pub fn field(&self, name: &str) -> Option<&str> {
        self.0
            .child(name)
            .filter(|c| !c.is_nil())
            .map(|c| c.text.as_str())
    }

    pub fn bool_field(&self, name: &str) -> Option<bool> {
        self.field(name).and_then(parse_bool)
    }

    /// Changes one existing field. A field the server did not send is an error, not an
    /// addition: inventing fields is how whole-row writes corrupt rows.
    pub fn set(&mut self, op: &str, name: &str, value: &str) -> Result<()> {
        let c = self.0.child_mut(name).ok_or_else(|| {
            WsusError::malformed(op, format!("the row has no field {name} to change"))
        })?;
        c.attrs
            .retain(|a| !(a.ns.as_deref() == Some(crate::soap::XSI) && a.name == "nil"));
        c.text = value.to_string();
        Ok(())
    }
}

/// `ExecuteSPGetConfiguration` → `ConfigurationTableRow`, with the change number that
/// guards writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Configuration {
    pub row: RowElement,
    pub change_number: i64,
    pub server_id: Option<String>,
    pub sync_to_mu: bool,
    pub upstream_server: Option<String>,
    /// True when clients download from Microsoft Update (no local content).
    pub host_on_mu: bool,
    /// The authoritative content root for publishing (§5.2).
    pub content_location: Option<String>,
    pub replica: bool,
}

impl Configuration {
    pub fn from_response(resp: &Element) -> Result<Self> {
        const OP: &str = "ExecuteSPGetConfiguration";
        let row = result(OP, resp)
            .and_then(|r| r.child("Configuration"))
            .filter(|c| !c.is_nil())
            .ok_or_else(|| WsusError::malformed(OP, "no Configuration row"))?;
        let row = RowElement(row.clone());
        let change_number = row
            .field("configurationChangeNumber")
            .and_then(|v| v.trim().parse().ok())
            .ok_or_else(|| WsusError::malformed(OP, "configurationChangeNumber is missing"))?;
        Ok(Configuration {
            change_number,
            server_id: row.field("ServerId").map(str::to_string),
            sync_to_mu: row.bool_field("SyncToMU").unwrap_or(true),
            upstream_server: row
                .field("UpstreamServerName")
                .filter(|s| !s.is_empty())
                .map(str::to_string),
            host_on_mu: row.bool_field("HostOnMu").unwrap_or(false),
            content_location: row
                .field("LocalContentCacheLocation")
                .filter(|s| !s.is_empty())
                .map(str::to_string),
            replica: row.bool_field("ReplicaMode").unwrap_or(false),
            row,
        })
    }
}

/// `GetSubscription` → `SubscriptionTableRow`. `last_modified` is kept verbatim because it
/// is the compare-and-swap token for `SetSubscription` (§6).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscription {
    pub row: RowElement,
    pub synchronize_automatically: bool,
    /// `synchronizeAutomaticallyTimeOfDay`, UTC (units unconfirmed; open clients write
    /// seconds of the day).
    pub time_of_day: i64,
    pub per_day: i32,
    pub last_modified: String,
    pub last_synchronization: Option<DateTime<Utc>>,
}

impl Subscription {
    pub fn from_response(resp: &Element) -> Result<Self> {
        const OP: &str = "GetSubscription";
        let row =
            result(OP, resp).ok_or_else(|| WsusError::malformed(OP, "no subscription row"))?;
        let row = RowElement(row.clone());
        let need = |name: &str| {
            row.field(name)
                .map(str::to_string)
                .ok_or_else(|| WsusError::malformed(OP, format!("{name} is missing")))
        };
        let num = |name: &str| -> Result<i64> {
            need(name)?
                .trim()
                .parse()
                .map_err(|_| WsusError::malformed(OP, format!("{name} is not a number")))
        };
        Ok(Subscription {
            synchronize_automatically: row.bool_field("SynchronizeAutomatically").unwrap_or(false),
            time_of_day: num("synchronizeAutomaticallyTimeOfDay")?,
            per_day: num("NumberOfSynchronizationsPerDay")? as i32,
            last_modified: need("LastModifiedTime")?,
            last_synchronization: row.field("LastSynchronizationTime").and_then(parse_date),
            row,
        })
    }
}

/// The rows of an operation whose result is an `ArrayOfGenericReadableRow`.
pub fn result_rows(op: &str, resp: &Element) -> Vec<Row> {
    result(op, resp).map(parse_rows).unwrap_or_default()
}

/// `GetSubscriptionCategories` → the selected category GUIDs (column 1).
pub fn subscription_categories(resp: &Element) -> Result<Vec<UpdateId>> {
    const OP: &str = "GetSubscriptionCategories";
    map_rows(OP, &result_rows(OP, resp), |c| c.guid(1))
}

/// One WSUS category (`ExecuteSPGetCategories` column map, §4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WsusCategory {
    pub local_id: i64,
    pub id: UpdateId,
    /// `Company`, `ProductFamily`, `Product` or `UpdateClassification`.
    pub kind: String,
    pub title: String,
    pub description: Option<String>,
    /// Column 11, `UpdateSource`: `MicrosoftUpdate` for categories synchronized from
    /// Microsoft, `Other` for locally published ones (the .NET `UpdateSource` enum, which
    /// may also arrive as its number, 0 or 1); `None` when the row has no such cell.
    pub update_source: Option<String>,
}

impl WsusCategory {
    /// Whether a publisher on this server made the category (a vendor or product of
    /// locally published updates) rather than a synchronization with Microsoft Update. A
    /// row without the cell is taken for Microsoft's: counting every Microsoft product as
    /// local would refuse every plan.
    pub fn is_local(&self) -> bool {
        self.update_source
            .as_deref()
            .is_some_and(|s| !(s.eq_ignore_ascii_case("MicrosoftUpdate") || s == "0"))
    }
}

pub fn categories(resp: &Element) -> Result<Vec<WsusCategory>> {
    category_rows("ExecuteSPGetCategories", resp)
}

/// `ExecuteSPGetSubcategories`: the same columns as `ExecuteSPGetCategories`.
pub fn subcategories(resp: &Element) -> Result<Vec<WsusCategory>> {
    category_rows("ExecuteSPGetSubcategories", resp)
}

fn category_rows(op: &str, resp: &Element) -> Result<Vec<WsusCategory>> {
    map_rows(op, &result_rows(op, resp), |c| {
        Ok(WsusCategory {
            local_id: c.i64(0)?,
            id: c.guid(1)?,
            kind: c.str(2)?,
            title: c.opt_str(7).unwrap_or_default(),
            description: c.opt_str(8).filter(|d| !d.is_empty()),
            update_source: c.opt_str(11).filter(|s| !s.is_empty()),
        })
    })
}

/// One update revision from a `CompleteUpdates.minimalProperties` row (§4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpdateSummary {
    pub id: UpdateId,
    pub revision: u32,
    pub revision_id: i64,
    pub local_id: i64,
    /// Publication state 1 = expired.
    pub expired: bool,
    pub created: Option<DateTime<Utc>>,
    pub declined: bool,
    pub latest: bool,
    pub title: String,
    pub description: String,
}

/// `ExecuteSPSearchUpdates` / `ExecuteSPGetUpdateById` → update revisions.
pub fn complete_updates(op: &str, resp: &Element) -> Result<Vec<UpdateSummary>> {
    let rows = result(op, resp)
        .and_then(|r| r.child("minimalProperties"))
        .map(parse_rows)
        .unwrap_or_default();
    map_rows(op, &rows, |c| {
        let revision = c.i64(1)?;
        Ok(UpdateSummary {
            id: c.guid(0)?,
            revision: u32::try_from(revision)
                .map_err(|_| WsusError::malformed(op, format!("revision {revision}")))?,
            revision_id: c.i64(2)?,
            local_id: c.i64(3)?,
            expired: c.i64(16).is_ok_and(|s| s == 1),
            created: c.opt_date(17),
            declined: c.opt_bool(22).unwrap_or(false),
            latest: c.opt_bool(24).unwrap_or(true),
            title: c.opt_str(29).unwrap_or_default(),
            description: c.opt_str(30).unwrap_or_default(),
        })
    })
}

/// `ExecuteSPGetSdpXmlForUpdate` → the stored SDP of a locally published update; `None`
/// (null result) for updates that did not come from a publisher.
pub fn sdp_xml(resp: &Element) -> Option<String> {
    result("ExecuteSPGetSdpXmlForUpdate", resp)
        .map(|r| r.text.clone())
        .filter(|t| !t.trim().is_empty())
}

/// `ExecuteGetSigningCertificate` → the DER of the signing certificate, `None` when none
/// is registered.
pub fn signing_certificate(resp: &Element) -> Result<Option<Vec<u8>>> {
    const OP: &str = "ExecuteGetSigningCertificate";
    let Some(r) = result(OP, resp).filter(|r| !r.text.trim().is_empty()) else {
        return Ok(None);
    };
    let compact: String = r.text.split_whitespace().collect();
    base64::engine::general_purpose::STANDARD
        .decode(compact)
        .map(Some)
        .map_err(|e| WsusError::malformed(OP, format!("the certificate is not base64: {e}")))
}

#[cfg(test)]
#[path = "records_tests.rs"]
mod tests;
