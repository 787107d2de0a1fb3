//! When the daemon runs each schedule: pure functions of (schedule, time zone, now, a random
//! number), so every rule is unit-tested without sleeping.
//!
//! - Times follow the schedule in its time zone (`UTC` unless a fixed offset is given).
//! - Each run gets ±5 % jitter of its delay, at most ±5 minutes (Flux's default
//!   spread; Patch My PC starts "within plus or minus five minutes").
//! - After a failure the scope is retried with exponential backoff (30 s doubling, ±10 %),
//!   never later than its normal interval; a success resets it.
//! - At start-up a slot missed while the daemon was down runs once (systemd `Persistent=`).
//!
//! `scale` divides every delay. It exists for tests only (`watch --schedule-scale`, hidden),
//! because the config's shortest schedule is an hour and a test must finish in seconds.

use chrono::{DateTime, Duration, FixedOffset, Utc};

use crate::schedule::Schedule;
use crate::store::NextRun;

/// Timing rules shared by every scope.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Timing {
    /// Divides every delay (test-only; 1 in production).
    pub scale: f64,
    /// Fraction of a delay used as jitter either way (0.05).
    pub jitter: f64,
    /// Upper bound of the jitter, before scaling.
    pub max_jitter: Duration,
    /// First retry delay after a failure, before scaling.
    pub backoff_initial: Duration,
}

impl Default for Timing {
    fn default() -> Self {
        Timing {
            scale: 1.0,
            jitter: 0.05,
            max_jitter: Duration::minutes(5),
            backoff_initial: Duration::seconds(30),
        }
    }
}

impl Timing {
    fn scaled(&self, d: Duration) -> Duration {
        if self.scale <= 1.0 {
            return d;
        }
        Duration::milliseconds((d.num_milliseconds() as f64 / self.scale).round() as i64)
    }
}

/// `UTC`/absent or `+HH:MM`/`-HH:MM` (validated when the config was loaded).
pub fn offset(tz: Option<&str>) -> FixedOffset {
    let utc = FixedOffset::east_opt(0).expect("zero offset");
    let Some(tz) = tz.map(str::trim).filter(|t| !t.eq_ignore_ascii_case("utc")) else {
        return utc;
    };
    let sign = if tz.starts_with('-') { -1 } else { 1 };
    let h: i32 = tz.get(1..3).and_then(|h| h.parse().ok()).unwrap_or(0);
    let m: i32 = tz.get(4..6).and_then(|m| m.parse().ok()).unwrap_or(0);
    FixedOffset::east_opt(sign * (h * 3600 + m * 60)).unwrap_or(utc)
}

/// The schedule's next slot strictly after `t`, reading `at HH:MM` and cron fields in the
/// zone `tz` (the schedule's own arithmetic is UTC, so shift in and out).
pub fn nominal_next(s: &Schedule, tz: FixedOffset, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let shift = Duration::seconds(i64::from(tz.local_minus_utc()));
    s.next_after(t + shift).map(|n| n - shift)
}

/// The next run after one that just happened at `now`: the next slot, its delay scaled,
/// plus jitter. `u` is uniform in [0, 1). Returns the time and the jitter applied.
pub fn next_due(
    s: &Schedule,
    tz: FixedOffset,
    now: DateTime<Utc>,
    timing: &Timing,
    u: f64,
) -> (DateTime<Utc>, Duration) {
    let slot = nominal_next(s, tz, now).unwrap_or(now + s.nominal_period());
    let delay = timing.scaled(slot - now);
    let bound = timing.scaled(timing.max_jitter);
    let spread =
        Duration::milliseconds((delay.num_milliseconds() as f64 * timing.jitter) as i64).min(bound);
    let jitter =
        Duration::milliseconds((spread.num_milliseconds() as f64 * (2.0 * u - 1.0)) as i64);
    (now + delay + jitter, jitter)
}

/// Delay before retrying after `failures` consecutive failures (1 = the first): 30 s
/// doubling, capped at the normal period, ±10 % jitter, all scaled.
pub fn backoff(failures: u32, period: Duration, timing: &Timing, u: f64) -> Duration {
    let exp = failures.saturating_sub(1).min(30);
    let base = timing
        .backoff_initial
        .checked_mul(1i32 << exp.min(30))
        .unwrap_or(period)
        .min(period);
    let base = timing.scaled(base);
    let jitter = base.num_milliseconds() as f64 * 0.1 * (2.0 * u - 1.0);
    base + Duration::milliseconds(jitter as i64)
}

/// What to do with a scope when the daemon starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Startup {
    /// Never scheduled before, or its slot passed while the daemon was down: run now
    /// (once, however many slots were missed).
    RunNow { missed: Option<DateTime<Utc>> },
    /// Keep the persisted time.
    At(DateTime<Utc>),
    /// The schedule changed since the time was persisted: compute a fresh one.
    Reschedule,
}

pub fn on_startup(persisted: Option<&NextRun>, schedule: &str, now: DateTime<Utc>) -> Startup {
    match persisted {
        None => Startup::RunNow { missed: None },
        Some(p) if p.schedule != schedule => Startup::Reschedule,
        Some(p) if p.due <= now => Startup::RunNow {
            missed: Some(p.due),
        },
        Some(p) => Startup::At(p.due),
    }
}

/// A uniform number in [0, 1) without a random-number crate: the standard library's
/// per-process random hasher keys, mixed with a counter.
pub fn uniform() -> f64 {
    use std::hash::{BuildHasher, Hasher};
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    (h.finish() >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Address;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }
    fn sched(s: &str) -> Schedule {
        s.parse().unwrap()
    }

    #[test]
    fn offsets_shift_at_times_and_cron_fields() {
        let s = sched("every 1 day at 02:00");
        let now = t("2026-03-10T12:00:00Z");
        assert_eq!(
            nominal_next(&s, offset(None), now),
            Some(t("2026-03-11T02:00:00Z"))
        );
        // 02:00 at +01:00 is 01:00 UTC.
        assert_eq!(
            nominal_next(&s, offset(Some("+01:00")), now),
            Some(t("2026-03-11T01:00:00Z"))
        );
        let c = sched("30 3 * * *");
        assert_eq!(
            nominal_next(&c, offset(Some("-05:30")), now),
            Some(t("2026-03-11T09:00:00Z"))
        );
        assert_eq!(offset(Some("UTC")), offset(None));
    }

    #[test]
    fn jitter_is_bounded_and_follows_u() {
        let s = sched("every 6 hours");
        let now = t("2026-03-10T12:00:00Z");
        let timing = Timing::default();
        let (lo, jl) = next_due(&s, offset(None), now, &timing, 0.0);
        let (mid, jm) = next_due(&s, offset(None), now, &timing, 0.5);
        let (hi, jh) = next_due(&s, offset(None), now, &timing, 0.999_999);
        assert_eq!(mid, t("2026-03-10T18:00:00Z"));
        assert_eq!(jm, Duration::zero());
        // 5 % of 6 h is 18 min, bounded to 5 min.
        assert_eq!(jl, -Duration::minutes(5));
        assert!(jh > Duration::minutes(4) && jh <= Duration::minutes(5));
        assert!(lo < mid && mid < hi);
        // A short delay gets 5 % of itself.
        let fast = Timing {
            scale: 1800.0,
            ..timing
        };
        let (due, j) = next_due(&sched("every 1 hour"), offset(None), now, &fast, 1.0);
        assert_eq!(j, Duration::milliseconds(100));
        assert_eq!(due, now + Duration::milliseconds(2100));
    }

    #[test]
    fn backoff_doubles_up_to_the_period() {
        let timing = Timing::default();
        let day = Duration::days(1);
        let b: Vec<i64> = (1..=14)
            .map(|n| backoff(n, day, &timing, 0.5).num_seconds())
            .collect();
        assert_eq!(&b[..5], &[30, 60, 120, 240, 480]);
        assert_eq!(*b.last().unwrap(), 86_400);
        assert!(b.windows(2).all(|w| w[0] <= w[1]));
        let lo = backoff(1, day, &timing, 0.0);
        let hi = backoff(1, day, &timing, 0.999);
        assert_eq!(lo, Duration::seconds(27));
        assert!(hi > Duration::milliseconds(32_900) && hi < Duration::seconds(33));
        // Scaled for tests.
        let fast = Timing {
            scale: 1000.0,
            ..timing
        };
        assert_eq!(backoff(2, day, &fast, 0.5), Duration::milliseconds(60));
    }

    #[test]
    fn startup_catches_up_once_and_recomputes_changed_schedules() {
        let now = t("2026-03-10T12:00:00Z");
        let p = |due: &str, s: &str| NextRun {
            scope: Address::parse("catalog.a").unwrap(),
            due: t(due),
            schedule: s.into(),
        };
        assert_eq!(
            on_startup(None, "every 7 days", now),
            Startup::RunNow { missed: None }
        );
        assert_eq!(
            on_startup(
                Some(&p("2026-03-01T00:00:00Z", "every 7 days")),
                "every 7 days",
                now
            ),
            Startup::RunNow {
                missed: Some(t("2026-03-01T00:00:00Z"))
            }
        );
        assert_eq!(
            on_startup(
                Some(&p("2026-03-12T00:00:00Z", "every 7 days")),
                "every 7 days",
                now
            ),
            Startup::At(t("2026-03-12T00:00:00Z"))
        );
        assert_eq!(
            on_startup(
                Some(&p("2026-03-01T00:00:00Z", "every 1 day")),
                "every 7 days",
                now
            ),
            Startup::Reschedule
        );
    }

    #[test]
    fn uniform_is_in_range_and_varies() {
        let v: Vec<f64> = (0..50).map(|_| uniform()).collect();
        assert!(v.iter().all(|x| (0.0..1.0).contains(x)));
        assert!(v.windows(2).any(|w| w[0] != w[1]));
    }
}
