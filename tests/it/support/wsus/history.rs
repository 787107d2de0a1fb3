//! Synchronization runs and the event history (`StartSubscriptionManually`,
//! `ExecuteSPSearchEventHistory`), answered as the WSDL's `EventHistoryTableRow`s.

use chrono::{Duration, NaiveDateTime};
use supctl::store::wsus::rows::parse_date;
use supctl::store::wsus::soap::Element;

use super::answers::{ACCESS_DENIED, State, esc, text};

/// One stored event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Event {
    pub instance: String,
    pub namespace: i32,
    pub event_id: i32,
    pub at: NaiveDateTime,
    pub severity: i32,
    pub hresult: i32,
    pub template: String,
    pub replacements: Vec<String>,
}

/// Parses a zone-less date of the double (panics on a typo in the double itself).
pub(crate) fn at(s: &str) -> NaiveDateTime {
    NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f").expect("a zone-less date")
}

/// The HRESULT of a failed sync (`0x80131500`, a .NET exception).
pub(crate) const SYNC_FAILED_HRESULT: i32 = 0x8013_1500_u32 as i32;

fn event(n: usize, event_id: i32, when: NaiveDateTime, failure: Option<&str>) -> Event {
    Event {
        instance: format!("e0000000-0000-4000-8000-{n:012x}"),
        namespace: 2,
        event_id,
        at: when,
        severity: if failure.is_some() { 4 } else { 1 },
        hresult: if failure.is_some() {
            SYNC_FAILED_HRESULT
        } else {
            0
        },
        template: match (event_id, failure) {
            (381, _) => "Synchronization started automatically.".into(),
            (382, _) => "Synchronization started manually.".into(),
            (_, Some(_)) => "Synchronization failed. Reason: %1".into(),
            _ => "Synchronization completed successfully.".into(),
        },
        replacements: failure.map(|m| vec![m.to_string()]).unwrap_or_default(),
    }
}

/// One automatic run that succeeded at the default `LastSynchronizationTime`.
pub(crate) fn default_events() -> Vec<Event> {
    vec![
        event(1, 381, at("2024-05-02T01:58:30"), None),
        event(2, 384, at("2024-05-02T02:00:00"), None),
    ]
}

fn date(d: NaiveDateTime) -> String {
    d.format("%Y-%m-%dT%H:%M:%S%.3f").to_string()
}

/// A bound of the filter: `None` for the sentinels (`0001-01-01…` = no bound).
fn bound(filter: &Element, names: [&str; 2]) -> Result<Option<NaiveDateTime>, String> {
    let Some(v) = names
        .iter()
        .filter_map(|n| filter.child(n))
        .map(|c| c.text.trim())
        .find(|v| !v.is_empty())
    else {
        return Ok(None);
    };
    if v.starts_with("0001-01-01") || v.starts_with("9999-") {
        return Ok(None);
    }
    parse_date(v).map(|d| Some(d.naive_utc())).ok_or_else(|| {
        format!("System.FormatException: The string '{v}' is not a valid AllXsd value.")
    })
}

impl State {
    pub(super) fn start_sync(&mut self) -> Result<String, String> {
        if self.role < 2 {
            return Err(ACCESS_DENIED.into());
        }
        if self.subscription_state != 0 {
            return Err(
                "System.InvalidOperationException: A synchronization is already in progress".into(),
            );
        }
        let start = self.clock;
        let end = start + Duration::seconds(90);
        let failure = self.next_sync_fails.take();
        let n = self.events.len();
        self.events.push(event(n + 1, 382, start, None));
        let end_id = if failure.is_some() { 386 } else { 384 };
        self.events
            .push(event(n + 2, end_id, end, failure.as_deref()));
        self.last_synchronization = end.format("%Y-%m-%dT%H:%M:%S").to_string();
        self.clock = start + Duration::hours(1);
        Ok(String::new())
    }

    /// Events matching the filter (event ids, severities, both time windows), newest first.
    pub(super) fn search_events(&self, params: &Element) -> Result<String, String> {
        let empty = Element::default();
        let filter = params
            .child("eventHistoryFilter")
            .filter(|f| !f.is_nil())
            .unwrap_or(&empty);
        let ids: Vec<(i32, i32)> = filter
            .child("eventIdFilter")
            .map(|f| {
                f.children_named("EventIdFilter")
                    .filter_map(|e| {
                        Some((
                            text(e, "NamespaceId").trim().parse().ok()?,
                            text(e, "EventId").trim().parse().ok()?,
                        ))
                    })
                    .collect()
            })
            .unwrap_or_default();
        let severities: Vec<i32> = filter
            .child("eventSeverityFilter")
            .map(|f| {
                f.children
                    .iter()
                    .filter_map(|c| c.text.trim().parse().ok())
                    .collect()
            })
            .unwrap_or_default();
        let windows = [
            (
                bound(filter, ["fromTimeAtServer", "FromTimeAtServer"])?,
                bound(filter, ["toTimeAtServer", "ToTimeAtServer"])?,
            ),
            (
                bound(filter, ["fromTimeAtTarget", "FromTimeAtTarget"])?,
                bound(filter, ["toTimeAtTarget", "ToTimeAtTarget"])?,
            ),
        ];
        let rows: String = self
            .events
            .iter()
            .rev()
            .filter(|e| ids.is_empty() || ids.contains(&(e.namespace, e.event_id)))
            .filter(|e| severities.is_empty() || severities.contains(&e.severity))
            .filter(|e| {
                windows.iter().all(|(from, to)| {
                    from.is_none_or(|f| e.at >= f) && to.is_none_or(|t| e.at <= t)
                })
            })
            .map(event_row)
            .collect();
        Ok(rows)
    }
}

fn event_row(e: &Event) -> String {
    let strings = |v: &[String]| -> String {
        v.iter()
            .map(|s| format!("<string>{}</string>", esc(s)))
            .collect()
    };
    format!(
        "<EventHistoryTableRow><EventInstanceId>{}</EventInstanceId><EventId>{}</EventId><NamespaceId>{}</NamespaceId><SourceId>0</SourceId><TimeAtTarget>{t}</TimeAtTarget><TimeAtServer>{t}</TimeAtServer><StateId>0</StateId><SeverityId>{}</SeverityId><Win32HResult>{}</Win32HResult><MessageTemplate>{}</MessageTemplate><ComputerId>WSUS01</ComputerId><AppName>WSUS Server Synchronization</AppName><MiscData /><ReplacementStrings>{}</ReplacementStrings><UpdateId>00000000-0000-0000-0000-000000000000</UpdateId><RevisionNumber>0</RevisionNumber><DeviceId xsi:nil=\"true\" /></EventHistoryTableRow>",
        e.instance,
        e.event_id,
        e.namespace,
        e.severity,
        e.hresult,
        esc(&e.template),
        strings(&e.replacements),
        t = date(e.at),
    )
}
