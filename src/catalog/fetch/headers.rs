//! Pure header logic: conditional requests, resume validators, `Content-Range`,
//! `Retry-After`. Kept free of I/O so every rule is unit-tested.

use std::time::Duration;

use chrono::{DateTime, Utc};

/// The validators remembered from a previous response, used for conditional GETs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct Validators {
    pub etag: Option<String>,
    pub last_modified: Option<String>,
}

impl Validators {
    /// `If-None-Match` / `If-Modified-Since` for a conditional GET. Both are sent when both
    /// are known: servers that ignore ETags still honour dates, and RFC 9110 makes
    /// `If-None-Match` win where both are understood.
    pub(super) fn conditional_headers(&self) -> Vec<(&'static str, String)> {
        let mut h = Vec::new();
        if let Some(e) = &self.etag {
            h.push(("if-none-match", e.clone()));
        }
        if let Some(d) = &self.last_modified {
            h.push(("if-modified-since", d.clone()));
        }
        h
    }

    /// The `If-Range` value that makes a resume safe: a strong ETag, else Last-Modified.
    /// Weak ETags (`W/"..."`) are not allowed in `If-Range`; without any validator a resume
    /// could splice two versions of a file, so the caller must restart from zero instead.
    pub(super) fn resume_validator(&self) -> Option<String> {
        match &self.etag {
            Some(e) if !e.starts_with("W/") => Some(e.clone()),
            _ => self.last_modified.clone(),
        }
    }

    pub(super) fn is_empty(&self) -> bool {
        self.etag.is_none() && self.last_modified.is_none()
    }
}

/// `Range` header asking for everything from `offset` on.
pub(super) fn range_from(offset: u64) -> String {
    format!("bytes={offset}-")
}

/// A parsed `Content-Range` header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ContentRange {
    /// `bytes first-last/total` (total `*` = unknown).
    Bytes {
        first: u64,
        last: u64,
        total: Option<u64>,
    },
    /// `bytes */total`, sent with 416 Range Not Satisfiable.
    Unsatisfied { total: u64 },
}

pub(super) fn parse_content_range(value: &str) -> Option<ContentRange> {
    let rest = value.trim().strip_prefix("bytes")?.trim_start();
    let (range, total) = rest.split_once('/')?;
    let total = total.trim();
    if range.trim() == "*" {
        return Some(ContentRange::Unsatisfied {
            total: total.parse().ok()?,
        });
    }
    let (first, last) = range.trim().split_once('-')?;
    let first: u64 = first.trim().parse().ok()?;
    let last: u64 = last.trim().parse().ok()?;
    let total = if total == "*" {
        None
    } else {
        Some(total.parse().ok()?)
    };
    if last < first || total.is_some_and(|t| last >= t) {
        return None;
    }
    Some(ContentRange::Bytes { first, last, total })
}

/// `Retry-After`: delta-seconds or an HTTP-date, relative to `now`.
pub(super) fn parse_retry_after(value: &str, now: DateTime<Utc>) -> Option<Duration> {
    let v = value.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let when = DateTime::parse_from_rfc2822(v).ok()?.with_timezone(&Utc);
    Some((when - now).to_std().unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn conditional_headers_carry_both_validators() {
        let v = Validators {
            etag: Some("\"abc\"".into()),
            last_modified: Some("Sun, 06 Nov 1994 08:49:37 GMT".into()),
        };
        assert_eq!(
            v.conditional_headers(),
            vec![
                ("if-none-match", "\"abc\"".to_string()),
                (
                    "if-modified-since",
                    "Sun, 06 Nov 1994 08:49:37 GMT".to_string()
                )
            ]
        );
        assert!(Validators::default().conditional_headers().is_empty());
    }

    #[test]
    fn resume_validator_prefers_strong_etag_and_skips_weak() {
        let strong = Validators {
            etag: Some("\"a\"".into()),
            last_modified: Some("d".into()),
        };
        assert_eq!(strong.resume_validator().as_deref(), Some("\"a\""));
        let weak = Validators {
            etag: Some("W/\"a\"".into()),
            last_modified: Some("d".into()),
        };
        assert_eq!(weak.resume_validator().as_deref(), Some("d"));
        let weak_only = Validators {
            etag: Some("W/\"a\"".into()),
            last_modified: None,
        };
        assert_eq!(weak_only.resume_validator(), None);
    }

    #[test]
    fn content_range_forms() {
        assert_eq!(
            parse_content_range("bytes 100-199/200"),
            Some(ContentRange::Bytes {
                first: 100,
                last: 199,
                total: Some(200)
            })
        );
        assert_eq!(
            parse_content_range("bytes 0-9/*"),
            Some(ContentRange::Bytes {
                first: 0,
                last: 9,
                total: None
            })
        );
        assert_eq!(
            parse_content_range("bytes */300"),
            Some(ContentRange::Unsatisfied { total: 300 })
        );
        assert_eq!(parse_content_range("bytes 10-5/300"), None);
        assert_eq!(parse_content_range("bytes 0-300/300"), None);
        assert_eq!(parse_content_range("items 0-1/2"), None);
        assert_eq!(parse_content_range("bytes x-1/2"), None);
    }

    #[test]
    fn retry_after_seconds_and_dates() {
        let now = Utc.with_ymd_and_hms(2026, 11, 1, 12, 0, 0).unwrap();
        assert_eq!(parse_retry_after("7", now), Some(Duration::from_secs(7)));
        assert_eq!(
            parse_retry_after("Sun, 01 Nov 2026 12:00:30 GMT", now),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            parse_retry_after("Sun, 01 Nov 2026 11:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon", now), None);
    }
}
