//! Catalog and update-point schedules: ConfigMgr's simple intervals or a cron line.
//!
//! A domain type of its own (not the config's): the config parses it, the daemon computes
//! the next run from it, and the WSUS backend translates it to the server's subscription
//! schedule, none of them importing another for it.
//!
//! ConfigMgr's default for a catalog is "every 7 days"; its custom schedules map to intervals
//! with a start time. supctl also accepts a 5-field cron line for its own daemon.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Datelike, Duration, NaiveTime, TimeZone, Utc};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IntervalUnit {
    Hours,
    Days,
    Weeks,
    Months,
}

impl IntervalUnit {
    fn name(self) -> &'static str {
        match self {
            IntervalUnit::Hours => "hours",
            IntervalUnit::Days => "days",
            IntervalUnit::Weeks => "weeks",
            IntervalUnit::Months => "months",
        }
    }
}

/// A parsed schedule; `Display` gives back the canonical text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Schedule {
    /// `every N hours|days|weeks|months [at HH:MM]`.
    Interval {
        every: u32,
        unit: IntervalUnit,
        at: Option<NaiveTime>,
    },
    /// A 5-field cron line (minute hour day-of-month month day-of-week).
    Cron(String),
}

impl Default for Schedule {
    /// ConfigMgr synchronizes a subscribed catalog every 7 days unless told otherwise.
    fn default() -> Self {
        Schedule::Interval {
            every: 7,
            unit: IntervalUnit::Days,
            at: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ScheduleError(String);

const HINT: &str = "write `every N hours|days|weeks|months` (optionally `at HH:MM`) or a 5-field cron line such as `0 3 * * MON`";

impl Schedule {
    pub fn hint() -> &'static str {
        HINT
    }

    /// The nominal period, used for jitter and for "has not synced within twice its interval".
    pub fn nominal_period(&self) -> Duration {
        match self {
            Schedule::Interval { every, unit, .. } => {
                let n = i64::from(*every);
                match unit {
                    IntervalUnit::Hours => Duration::hours(n),
                    IntervalUnit::Days => Duration::days(n),
                    IntervalUnit::Weeks => Duration::weeks(n),
                    IntervalUnit::Months => Duration::days(30 * n),
                }
            }
            Schedule::Cron(line) => {
                let now = Utc::now();
                match (self.next_after(now), line.parse::<croner::Cron>().ok()) {
                    (Some(a), Some(c)) => c
                        .find_next_occurrence(&a, false)
                        .map(|b| b - a)
                        .unwrap_or(Duration::days(1)),
                    _ => Duration::days(1),
                }
            }
        }
    }

    /// The first run strictly after `t` (UTC), given the previous run `t` for intervals.
    pub fn next_after(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match self {
            Schedule::Interval { every, unit, at } => {
                let mut next = match unit {
                    IntervalUnit::Months => add_months(t, *every)?,
                    _ => t + self.nominal_period(),
                };
                if let (Some(at), false) = (at, *unit == IntervalUnit::Hours) {
                    next = Utc.from_utc_datetime(&next.date_naive().and_time(*at));
                    if next <= t {
                        next += Duration::days(1);
                    }
                }
                Some(next)
            }
            Schedule::Cron(line) => {
                let cron: croner::Cron = line.parse().ok()?;
                cron.find_next_occurrence(&t, false).ok()
            }
        }
    }
}

fn add_months(t: DateTime<Utc>, months: u32) -> Option<DateTime<Utc>> {
    let total = t.month0() + months;
    let year = t.year() + i32::try_from(total / 12).ok()?;
    let month = total % 12 + 1;
    let mut day = t.day();
    loop {
        if let Some(d) = t
            .with_day(1)
            .and_then(|d| d.with_year(year))
            .and_then(|d| d.with_month(month))
            .and_then(|d| d.with_day(day))
        {
            return Some(d);
        }
        day = day.checked_sub(1).filter(|d| *d > 0)?;
    }
}

impl FromStr for Schedule {
    type Err = ScheduleError;

    fn from_str(s: &str) -> Result<Self, ScheduleError> {
        let words: Vec<&str> = s.split_whitespace().collect();
        if words.first().map(|w| w.eq_ignore_ascii_case("every")) == Some(true) {
            return parse_interval(&words);
        }
        if words.len() != 5 {
            return Err(ScheduleError(format!(
                "`{s}` is neither an interval nor a 5-field cron line ({} fields)",
                words.len()
            )));
        }
        let line = words.join(" ");
        line.parse::<croner::Cron>()
            .map_err(|e| ScheduleError(format!("`{s}` is not a valid cron line: {e}")))?;
        Ok(Schedule::Cron(line))
    }
}

fn parse_interval(words: &[&str]) -> Result<Schedule, ScheduleError> {
    let text = words.join(" ");
    let bad = |why: &str| ScheduleError(format!("`{text}`: {why}"));
    let (every, unit_word, rest) = match words {
        [_, n, unit, rest @ ..] if n.parse::<u32>().is_ok() => {
            (n.parse::<u32>().unwrap_or(0), *unit, rest)
        }
        [_, unit, rest @ ..] => (1, *unit, rest),
        _ => return Err(bad("missing the interval")),
    };
    let unit = match unit_word.to_ascii_lowercase().trim_end_matches('s') {
        "hour" => IntervalUnit::Hours,
        "day" => IntervalUnit::Days,
        "week" => IntervalUnit::Weeks,
        "month" => IntervalUnit::Months,
        _ => return Err(bad("the unit must be hours, days, weeks or months")),
    };
    let max = match unit {
        IntervalUnit::Hours => 23,
        IntervalUnit::Days => 31,
        IntervalUnit::Weeks => 4,
        IntervalUnit::Months => 12,
    };
    if every == 0 || every > max {
        return Err(bad(&format!(
            "every {} must be between 1 and {max} (ConfigMgr's range)",
            unit.name()
        )));
    }
    let at = match rest {
        [] => None,
        [kw, hhmm] if kw.eq_ignore_ascii_case("at") => Some(
            NaiveTime::parse_from_str(hhmm, "%H:%M")
                .map_err(|_| bad("the time after `at` must be HH:MM (24-hour)"))?,
        ),
        _ => return Err(bad("expected `at HH:MM` after the interval")),
    };
    if at.is_some() && unit == IntervalUnit::Hours {
        return Err(bad("`at HH:MM` applies to day, week and month intervals"));
    }
    Ok(Schedule::Interval { every, unit, at })
}

impl fmt::Display for Schedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Schedule::Interval { every, unit, at } => {
                let name = unit.name();
                let name = if *every == 1 {
                    &name[..name.len() - 1]
                } else {
                    name
                };
                write!(f, "every {every} {name}")?;
                if let Some(at) = at {
                    write!(f, " at {}", at.format("%H:%M"))?;
                }
                Ok(())
            }
            Schedule::Cron(line) => f.write_str(line),
        }
    }
}

impl serde::Serialize for Schedule {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn parses_intervals_and_prints_them_canonically() {
        for (text, canon) in [
            ("every 7 days", "every 7 days"),
            ("every 1 day at 02:00", "every 1 day at 02:00"),
            ("Every 6 Hours", "every 6 hours"),
            ("every week", "every 1 week"),
            ("every 2 months at 23:30", "every 2 months at 23:30"),
        ] {
            assert_eq!(text.parse::<Schedule>().unwrap().to_string(), canon);
        }
        assert_eq!(Schedule::default().to_string(), "every 7 days");
    }

    #[test]
    fn rejects_bad_schedules() {
        for bad in [
            "every 0 days",
            "every 40 days",
            "every 3 fortnights",
            "every 1 day at 25:00",
            "every 2 hours at 01:00",
            "sometimes",
            "0 3 * *",
            "61 3 * * *",
        ] {
            assert!(bad.parse::<Schedule>().is_err(), "{bad} should fail");
        }
    }

    #[test]
    fn cron_lines_parse_and_schedule() {
        let s: Schedule = "0 3 * * MON".parse().unwrap();
        let next = s.next_after(t("2026-11-21T10:00:00Z")).unwrap();
        assert_eq!(next, t("2026-11-23T03:00:00Z"));
        assert_eq!(s.nominal_period(), Duration::days(7));
    }

    #[test]
    fn intervals_schedule_from_the_previous_run() {
        let s: Schedule = "every 1 day at 02:00".parse().unwrap();
        assert_eq!(
            s.next_after(t("2026-11-21T10:00:00Z")).unwrap(),
            t("2026-11-22T02:00:00Z")
        );
        let m: Schedule = "every 1 month".parse().unwrap();
        assert_eq!(
            m.next_after(t("2026-01-31T00:00:00Z")).unwrap(),
            t("2026-02-28T00:00:00Z")
        );
        let h: Schedule = "every 6 hours".parse().unwrap();
        assert_eq!(
            h.next_after(t("2026-11-21T10:00:00Z")).unwrap(),
            t("2026-11-21T16:00:00Z")
        );
    }
}
