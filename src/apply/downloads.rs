//! Progress of content staging, file by file: one line per finished file and a summary
//! every [`SUMMARY_EVERY`] and at the end.
//!
//! Off a terminal (CI logs, a service's journal) a progress bar shows nothing, and a run
//! whose downloads all stall looked dead for minutes; a line per file plus a periodic
//! summary tells a reader what is happening and how far it got.

use std::time::{Duration, Instant};

use super::Progress;
use crate::plan::human_bytes;

/// How often the summary line is repeated while files are being acquired.
pub(super) const SUMMARY_EVERY: Duration = Duration::from_secs(10);

/// Where a staged file came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Origin {
    Downloaded,
    /// The catalog's `content_source` folder.
    Local,
}

/// Counts of one staging run, and where its lines go.
pub(super) struct Downloads<'a> {
    progress: &'a Progress,
    total: usize,
    downloaded: usize,
    local: usize,
    failed: usize,
    bytes: u64,
    started: Instant,
}

impl<'a> Downloads<'a> {
    pub(super) fn new(progress: &'a Progress, total: usize) -> Self {
        Downloads {
            progress,
            total,
            downloaded: 0,
            local: 0,
            failed: 0,
            bytes: 0,
            started: Instant::now(),
        }
    }

    fn finished(&self) -> usize {
        self.downloaded + self.local + self.failed
    }

    /// One file was acquired and verified.
    pub(super) fn done(&mut self, name: &str, origin: Origin, size: u64, took: Duration) {
        self.bytes += size;
        let what = match origin {
            Origin::Downloaded => {
                self.downloaded += 1;
                format!(
                    "downloaded {name} ({}, {:.1} s)",
                    human_bytes(size),
                    took.as_secs_f64()
                )
            }
            Origin::Local => {
                self.local += 1;
                format!("{name} taken from content_source ({})", human_bytes(size))
            }
        };
        self.line(&format!("[{}/{}] {what}", self.finished(), self.total));
    }

    /// One file could not be acquired or failed its checks.
    pub(super) fn failed(&mut self, name: &str, why: &str) {
        self.failed += 1;
        self.line(&format!(
            "[{}/{}] failed {name}: {why}",
            self.finished(),
            self.total
        ));
    }

    /// The summary so far.
    pub(super) fn summary(&self) -> String {
        let mut parts = vec![format!("{} downloaded", self.downloaded)];
        if self.local > 0 {
            parts.push(format!("{} from content_source", self.local));
        }
        parts.push(format!("{} failed", self.failed));
        format!(
            "content: {} of {} files done ({}), {}, {:.0} s elapsed",
            self.finished(),
            self.total,
            parts.join(", "),
            human_bytes(self.bytes),
            self.started.elapsed().as_secs_f64()
        )
    }

    /// Prints the summary (periodically, and once at the end).
    pub(super) fn report(&self) {
        if self.total > 0 {
            self.line(&self.summary());
        }
    }

    fn line(&self, line: &str) {
        self.progress.note(line);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_counts_every_outcome() {
        let p = Progress::Quiet;
        let mut d = Downloads::new(&p, 3);
        d.done(
            "a.exe",
            Origin::Downloaded,
            2048,
            Duration::from_millis(300),
        );
        d.done("b.exe", Origin::Local, 1024, Duration::ZERO);
        let s = d.summary();
        assert!(
            s.starts_with(
                "content: 2 of 3 files done (1 downloaded, 1 from content_source, 0 failed), 3.0 KiB"
            ),
            "{s}"
        );
        d.failed("c.exe", "refused");
        assert!(d.summary().contains("3 of 3 files done"), "{}", d.summary());
    }
}
