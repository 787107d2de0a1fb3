//! Synchronization history from `ExecuteSPSearchEventHistory` (reference §5.3): WSUS logs
//! sync runs as events in namespace 2 with ids 381–386; a run is a start event followed by
//! the next success, cancel or failure event.

use chrono::{DateTime, Utc};

use crate::error::{Result, WsusError};
use crate::rows::parse_date;
use crate::soap::{Element, TNS, result};

/// The event namespace of synchronization events.
pub const SYNC_NAMESPACE: i32 = 2;
pub const SYNC_STARTED_AUTO: i32 = 381;
pub const SYNC_STARTED_MANUAL: i32 = 382;
pub const SYNC_SUCCEEDED: i32 = 384;
pub const SYNC_CANCELLED: i32 = 385;
pub const SYNC_FAILED: i32 = 386;

/// One `EventHistoryTableRow`, the parts supctl uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub event_id: i32,
    pub namespace: i32,
    pub at: DateTime<Utc>,
    pub hresult: i32,
    /// `MessageTemplate` with `%1…%n` replaced from `ReplacementStrings`.
    pub message: String,
}

/// The filter element for sync events between `from` and `to` (server time). Every field
/// of `EventHistoryFilter` is sent because the WSDL marks them all required.
pub fn sync_filter(from: DateTime<Utc>, to: DateTime<Utc>) -> Element {
    let el = |n: &str| Element::new(Some(TNS), n);
    let leaf = |n: &str, v: &str| Element::leaf(Some(TNS), n, v);
    let date = |d: DateTime<Utc>| d.format("%Y-%m-%dT%H:%M:%S%.3f").to_string();
    let mut ids = el("eventIdFilter");
    for id in SYNC_STARTED_AUTO..=SYNC_FAILED {
        ids.children.push(
            el("EventIdFilter")
                .with_child(leaf("NamespaceId", &SYNC_NAMESPACE.to_string()))
                .with_child(leaf("EventId", &id.to_string())),
        );
    }
    let none = "0001-01-01T00:00:00";
    el("eventHistoryFilter")
        .with_child(el("eventInstanceIdFilter"))
        .with_child(ids)
        .with_child(el("eventSourceFilter"))
        .with_child(el("eventSeverityFilter"))
        .with_child(
            el("updateFilter")
                .with_child(leaf("UpdateID", "00000000-0000-0000-0000-000000000000"))
                .with_child(leaf("RevisionNumber", "0")),
        )
        .with_child(leaf("fromTimeAtTarget", none))
        .with_child(leaf("toTimeAtTarget", none))
        .with_child(leaf("fromTimeAtServer", &date(from)))
        .with_child(leaf("toTimeAtServer", &date(to)))
        .with_child(leaf("targetId", ""))
        .with_child(leaf("FromTimeAtTarget", none))
        .with_child(leaf("ToTimeAtTarget", none))
        .with_child(leaf("FromTimeAtServer", &date(from)))
        .with_child(leaf("ToTimeAtServer", &date(to)))
}

/// `ExecuteSPSearchEventHistory` → events, oldest first.
pub fn events(resp: &Element) -> Result<Vec<Event>> {
    const OP: &str = "ExecuteSPSearchEventHistory";
    let Some(list) = result(OP, resp) else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for (i, row) in list.children_named("EventHistoryTableRow").enumerate() {
        let num = |n: &str| -> Result<i32> {
            row.child(n)
                .and_then(|c| c.text.trim().parse().ok())
                .ok_or_else(|| WsusError::malformed(OP, format!("event {i}: {n} is missing")))
        };
        let at = row
            .child("TimeAtServer")
            .and_then(|c| parse_date(&c.text))
            .ok_or_else(|| WsusError::malformed(OP, format!("event {i}: no TimeAtServer")))?;
        let replacements: Vec<String> = row
            .child("ReplacementStrings")
            .map(|r| r.children.iter().map(|s| s.text.clone()).collect())
            .unwrap_or_default();
        let template = row
            .child("MessageTemplate")
            .map(|c| c.text.clone())
            .unwrap_or_default();
        out.push(Event {
            event_id: num("EventId")?,
            namespace: num("NamespaceId")?,
            at,
            hresult: num("Win32HResult").unwrap_or(0),
            message: fill_template(&template, &replacements),
        });
    }
    out.sort_by_key(|e| e.at);
    Ok(out)
}

/// Replaces `%1`…`%n` in one pass over the template: a placeholder is the longest run of
/// digits after `%`, so `%1` never eats `%10`, and the values are never rescanned, so a value
/// holding `%2` stays as it is (rescanning would let a hostile server grow the message
/// exponentially). A `%` with no value behind it is kept.
fn fill_template(template: &str, values: &[String]) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(at) = rest.find('%') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        let digits = after.bytes().take_while(u8::is_ascii_digit).count();
        let value = after[..digits]
            .parse::<usize>()
            .ok()
            .and_then(|n| n.checked_sub(1))
            .and_then(|i| values.get(i));
        match value {
            Some(v) => {
                out.push_str(v);
                rest = &after[digits..];
            }
            None => {
                out.push('%');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// How a synchronization run ended, by its end event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncOutcome {
    Succeeded,
    Cancelled,
    Failed,
}

/// One finished synchronization run of the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncRunRecord {
    pub started: DateTime<Utc>,
    pub ended: DateTime<Utc>,
    pub outcome: SyncOutcome,
    /// The end event's message and its HRESULT, when either says something.
    pub message: Option<String>,
}

/// Pairs start events with the next end event into runs, newest first. A start without an
/// end yet is a running sync and is not reported (a run record has a final outcome).
pub fn runs(events: &[Event]) -> Vec<SyncRunRecord> {
    let mut out = Vec::new();
    let mut started: Option<&Event> = None;
    for e in events.iter().filter(|e| e.namespace == SYNC_NAMESPACE) {
        match e.event_id {
            SYNC_STARTED_AUTO | SYNC_STARTED_MANUAL => started = Some(e),
            SYNC_SUCCEEDED | SYNC_CANCELLED | SYNC_FAILED => {
                let outcome = match e.event_id {
                    SYNC_SUCCEEDED => SyncOutcome::Succeeded,
                    SYNC_CANCELLED => SyncOutcome::Cancelled,
                    _ => SyncOutcome::Failed,
                };
                let message = match (e.message.is_empty(), e.hresult) {
                    (true, 0) => None,
                    (true, h) => Some(format!("HRESULT 0x{h:08X}")),
                    (false, 0) => Some(e.message.clone()),
                    (false, h) => Some(format!("{} (HRESULT 0x{h:08X})", e.message)),
                };
                out.push(SyncRunRecord {
                    started: started.take().map_or(e.at, |s| s.at),
                    ended: e.at,
                    outcome,
                    message,
                });
            }
            _ => {}
        }
    }
    out.reverse();
    out
}

#[cfg(test)]
mod tests {
    use super::fill_template;

    fn values(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn placeholders_take_every_digit_and_missing_ones_stay() {
        let v = values(&["one", "two", "three", "4", "5", "6", "7", "8", "9", "ten"]);
        assert_eq!(fill_template("%1/%10/%2%", &v), "one/ten/two%");
        assert_eq!(
            fill_template("%11 and %0 and 100%", &v),
            "%11 and %0 and 100%"
        );
    }

    /// A hostile server's values that name other placeholders must not be expanded again:
    /// rescanning them doubled the message per value (2^39 copies for 40 values).
    #[test]
    fn values_are_never_rescanned() {
        // Value k names placeholder k-1 twice: rescanning would give 2^39 copies of "x".
        let v: Vec<String> = (1..=40)
            .map(|k| {
                if k == 1 {
                    "x".into()
                } else {
                    format!("%{0}%{0}", k - 1)
                }
            })
            .collect();
        assert_eq!(fill_template("%40", &v), "%39%39");
        assert_eq!(fill_template("%1", &values(&["%2", "x"])), "%2");
    }
}
