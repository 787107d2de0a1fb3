//! The update point's own synchronization on WSUS: `[sync]` (schedule, products,
//! classifications, languages) translated to the subscription row, its category lists and
//! the enabled languages, and back.
//!
//! WSUS speaks GUIDs and "N times a day from a time of day (UTC)"; the config speaks titles
//! and schedule text. The translation goes one way (config → server) and is checked the
//! other: the recorded `[sync]` is reported as the server's state only while it still
//! describes the server, so a change made in the console shows up as drift.

use std::collections::BTreeSet;
use std::str::FromStr;

use chrono::{NaiveTime, Timelike};

use super::client::{Client, Language};
use super::error::{Result, WsusError};
use super::records::{Configuration, Subscription, WsusCategory};
use crate::ids::UpdateId;
use crate::schedule::{IntervalUnit, Schedule};
use crate::store::SyncSettings;

/// Category kinds a subscription's `categoryIds` may hold (products and their parents).
const PRODUCT_KINDS: [&str; 3] = ["Company", "ProductFamily", "Product"];
const CLASSIFICATION: &str = "UpdateClassification";

/// Everything the synchronization settings are made of, read in one go.
#[derive(Debug, Clone)]
pub struct RemoteSync {
    pub configuration: Configuration,
    pub subscription: Subscription,
    pub products: BTreeSet<UpdateId>,
    pub classifications: BTreeSet<UpdateId>,
    /// Every category the server knows, both kinds, to resolve titles.
    pub categories: Vec<WsusCategory>,
    pub languages: Vec<Language>,
}

/// `[sync]` in the server's terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub automatic: bool,
    /// `None` keeps the server's value (no schedule: automatic sync is only switched off).
    pub per_day: Option<i32>,
    /// Seconds after midnight UTC; `None` keeps the server's value.
    pub time_of_day: Option<i64>,
    pub products: BTreeSet<UpdateId>,
    pub classifications: BTreeSet<UpdateId>,
    /// `None`: languages are left as they are (an empty list cannot be meant literally,
    /// WSUS always synchronizes at least one language).
    pub languages: Option<BTreeSet<String>>,
}

impl RemoteSync {
    pub fn read(c: &Client) -> Result<Self> {
        let mut categories = c.categories(false)?;
        categories.extend(c.categories(true)?);
        Ok(RemoteSync {
            configuration: c.configuration()?,
            subscription: c.subscription()?,
            products: c.subscription_categories(false)?.into_iter().collect(),
            classifications: c.subscription_categories(true)?.into_iter().collect(),
            categories,
            languages: c.languages()?,
        })
    }

    fn enabled_languages(&self) -> BTreeSet<String> {
        self.languages
            .iter()
            .filter(|l| l.enabled)
            .map(|l| l.short_name.to_ascii_lowercase())
            .collect()
    }

    /// `recorded` (the `[sync]` last applied) while it still describes the server, so an
    /// unchanged config plans nothing; otherwise the server's own settings, so drift shows.
    pub fn effective(&self, recorded: Option<&SyncSettings>) -> SyncSettings {
        match recorded {
            Some(r) if self.target(r).is_ok_and(|t| self.satisfies(&t)) => r.clone(),
            _ => self.as_settings(),
        }
    }

    /// The server's settings in the config's words: titles, schedule text, language codes.
    pub fn as_settings(&self) -> SyncSettings {
        let s = &self.subscription;
        let schedule = s.synchronize_automatically.then(|| {
            let at = time_of_day(s.time_of_day);
            let per_day = s.per_day.clamp(1, 24) as u32;
            if 24 % per_day == 0 {
                let (every, unit) = if per_day == 1 {
                    (1, IntervalUnit::Days)
                } else {
                    (24 / per_day, IntervalUnit::Hours)
                };
                Schedule::Interval {
                    every,
                    unit,
                    at: Some(at),
                }
                .to_string()
            } else {
                format!("{per_day} times a day from {} UTC", at.format("%H:%M"))
            }
        });
        let titles = |ids: &BTreeSet<UpdateId>| {
            let mut v: Vec<String> = ids
                .iter()
                .map(|id| {
                    self.categories
                        .iter()
                        .find(|c| &c.id == id)
                        .map_or_else(|| id.to_string(), |c| c.title.clone())
                })
                .collect();
            v.sort_by_key(|t| t.to_lowercase());
            v
        };
        SyncSettings {
            schedule,
            products: titles(&self.products),
            classifications: titles(&self.classifications),
            languages: self.enabled_languages().into_iter().collect(),
        }
    }

    /// Translates `[sync]` to the server's terms; fails (before anything is written) when a
    /// title is unknown or ambiguous, or the schedule cannot be expressed on WSUS.
    pub fn target(&self, desired: &SyncSettings) -> Result<Target> {
        let (automatic, per_day, time_of_day) = match &desired.schedule {
            None => (false, None, None),
            Some(text) => {
                let (per_day, at) = wsus_schedule(text)?;
                (
                    true,
                    Some(per_day),
                    at.map(|t| i64::from(t.num_seconds_from_midnight())),
                )
            }
        };
        let products = desired
            .products
            .iter()
            .map(|p| self.resolve(p, "product", &PRODUCT_KINDS))
            .collect::<Result<_>>()?;
        let classifications = desired
            .classifications
            .iter()
            .map(|p| self.resolve(p, "classification", &[CLASSIFICATION]))
            .collect::<Result<_>>()?;
        let languages = if desired.languages.is_empty() {
            None
        } else {
            let known: BTreeSet<String> = self
                .languages
                .iter()
                .map(|l| l.short_name.to_ascii_lowercase())
                .collect();
            let mut set = BTreeSet::new();
            for l in &desired.languages {
                let l = l.to_ascii_lowercase();
                if !known.contains(&l) {
                    return Err(WsusError::Resolve {
                        kind: "language",
                        name: l,
                        detail: format!(
                            "the server offers {}",
                            known.iter().cloned().collect::<Vec<_>>().join(", ")
                        ),
                    });
                }
                set.insert(l);
            }
            Some(set)
        };
        Ok(Target {
            automatic,
            per_day,
            time_of_day,
            products,
            classifications,
            languages,
        })
    }

    fn resolve(&self, name: &str, kind: &'static str, kinds: &[&str]) -> Result<UpdateId> {
        let of_kind = || {
            self.categories
                .iter()
                .filter(|c| kinds.contains(&c.kind.as_str()))
        };
        if let Ok(id) = UpdateId::parse(name) {
            return of_kind().find(|c| c.id == id).map(|c| c.id).ok_or_else(|| {
                WsusError::Resolve {
                    kind,
                    name: name.to_string(),
                    detail: format!("no {kind} category has this GUID on the server"),
                }
            });
        }
        let hits: Vec<&WsusCategory> = of_kind()
            .filter(|c| c.title.eq_ignore_ascii_case(name))
            .collect();
        match hits.as_slice() {
            [one] => Ok(one.id),
            [] => Err(WsusError::Resolve {
                kind,
                name: name.to_string(),
                detail: "no category has this title; WSUS learns products and classifications from a synchronization with Microsoft Update, so run one first, or write the GUID".into(),
            }),
            many => Err(WsusError::Resolve {
                kind,
                name: name.to_string(),
                detail: format!(
                    "the title is ambiguous; write one of the GUIDs instead: {}",
                    many.iter()
                        .map(|c| format!("{} ({})", c.id, c.kind))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            }),
        }
    }

    fn subscription_satisfies(&self, t: &Target) -> bool {
        let s = &self.subscription;
        s.synchronize_automatically == t.automatic
            && (!t.automatic
                || (t.per_day.is_none_or(|p| p == s.per_day)
                    && t.time_of_day.is_none_or(|x| x == s.time_of_day)))
            && self.products == t.products
            && self.classifications == t.classifications
    }

    fn languages_satisfy(&self, t: &Target) -> bool {
        t.languages
            .as_ref()
            .is_none_or(|l| *l == self.enabled_languages())
    }

    pub fn satisfies(&self, t: &Target) -> bool {
        self.subscription_satisfies(t) && self.languages_satisfy(t)
    }

    /// Writes what differs: the subscription row with its lists (one call replaces schedule,
    /// products and classifications together), then the configuration row for languages.
    /// Each write first re-reads its row's change token and refuses when it moved since
    /// `self` was read. Returns whether anything was written.
    pub fn write(&self, c: &Client, t: &Target) -> Result<bool> {
        let sub = !self.subscription_satisfies(t);
        let langs = !self.languages_satisfy(t);
        if sub {
            let now = c.subscription()?;
            check_token(
                "subscription",
                "LastModifiedTime",
                &self.subscription.last_modified,
                &now.last_modified,
            )?;
            let mut row = now.row.clone();
            const OP: &str = "SetSubscription";
            row.set(
                OP,
                "SynchronizeAutomatically",
                if t.automatic { "true" } else { "false" },
            )?;
            if let Some(p) = t.per_day {
                row.set(OP, "NumberOfSynchronizationsPerDay", &p.to_string())?;
            }
            if let Some(s) = t.time_of_day {
                row.set(OP, "synchronizeAutomaticallyTimeOfDay", &s.to_string())?;
            }
            let products: Vec<UpdateId> = t.products.iter().cloned().collect();
            let classes: Vec<UpdateId> = t.classifications.iter().cloned().collect();
            c.set_subscription(&row, &products, &classes)?;
        }
        if langs && let Some(wanted) = &t.languages {
            let result = (|| {
                let now = c.configuration()?;
                check_token(
                    "configuration",
                    "configurationChangeNumber",
                    &self.configuration.change_number.to_string(),
                    &now.change_number.to_string(),
                )?;
                let mut row = now.row.clone();
                if row.0.child("ServerSupportsAllLanguages").is_some() {
                    row.set(
                        "ExecuteSPSetConfiguration",
                        "ServerSupportsAllLanguages",
                        "false",
                    )?;
                }
                let enabled = self.enabled_languages();
                let enable: Vec<String> = wanted.difference(&enabled).cloned().collect();
                let disable: Vec<String> = enabled.difference(wanted).cloned().collect();
                c.set_configuration(&row, &enable, &disable)
            })();
            if let Err(e) = result {
                return Err(if sub {
                    WsusError::PartlyApplied {
                        written: "the subscription (schedule, products, classifications)".into(),
                        pending: "the languages".into(),
                        source: Box::new(e),
                    }
                } else {
                    e
                });
            }
        }
        Ok(sub || langs)
    }
}

pub(super) fn check_token(
    what: &'static str,
    field: &'static str,
    expected: &str,
    found: &str,
) -> Result<()> {
    if expected == found {
        Ok(())
    } else {
        Err(WsusError::Conflict {
            what,
            field,
            expected: expected.to_string(),
            found: found.to_string(),
        })
    }
}

fn time_of_day(seconds: i64) -> NaiveTime {
    let s = seconds.rem_euclid(86_400) as u32;
    NaiveTime::from_num_seconds_from_midnight_opt(s, 0).unwrap_or_default()
}

/// A schedule text as (synchronizations per day, first time of day UTC).
pub fn wsus_schedule(text: &str) -> Result<(i32, Option<NaiveTime>)> {
    let unsupported = || {
        WsusError::NotSupported {
        what: format!("the synchronization schedule `{text}`"),
        why: "WSUS synchronizes 1 to 24 times a day, evenly spaced from a time of day (UTC); write `every 1 day at HH:MM` or `every N hours` with N dividing 24".into(),
    }
    };
    match Schedule::from_str(text).map_err(|_| unsupported())? {
        Schedule::Interval {
            every: 1,
            unit: IntervalUnit::Days,
            at,
        } => Ok((1, at)),
        Schedule::Interval {
            every,
            unit: IntervalUnit::Hours,
            at,
        } if (1..=24).contains(&every) && 24 % every == 0 => Ok((24 / every as i32, at)),
        _ => Err(unsupported()),
    }
}

#[cfg(test)]
#[path = "sync_settings_tests.rs"]
mod tests;
