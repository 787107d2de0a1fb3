//! systemd's notify protocol for `watch` (`Type=notify`, `WatchdogSec=`), through the
//! `sd-notify` crate: `READY=1` once the start-up work (resuming an interrupted apply,
//! scheduling) is done, so `systemctl start` returns when the daemon really watches;
//! `STATUS=` lines a `systemctl status` shows; `STOPPING=1` on the way out; and `WATCHDOG=1`
//! at half the interval systemd asks for.
//!
//! The watchdog is kept by a task of its own, not by the reconcile loop: a pass may
//! legitimately run for many minutes (a large apply), and systemd must not kill it then. The
//! task proves what a watchdog can usefully prove here: the process and its runtime are
//! alive. Without `NOTIFY_SOCKET` every call does nothing. A failed send is logged, never
//! fatal: the daemon's work does not depend on the service manager hearing it.

use std::time::Duration;

use sd_notify::NotifyState;

fn send(states: &[NotifyState<'_>]) {
    if let Err(e) = sd_notify::notify(states) {
        tracing::debug!(error = %e, "could not notify the service manager");
    }
}

/// Start-up is done: the service is up.
pub(super) fn ready(status: &str) {
    send(&[NotifyState::Ready, NotifyState::Status(status)]);
}

/// What `systemctl status` shows as the daemon's own status line.
pub(super) fn status(status: &str) {
    send(&[NotifyState::Status(status)]);
}

/// The daemon is stopping.
pub(super) fn stopping() {
    send(&[NotifyState::Stopping]);
}

/// Keeps systemd's watchdog fed at half its interval, when it asks for one
/// (`WATCHDOG_USEC`, for this process when `WATCHDOG_PID` is set).
pub(super) fn spawn_watchdog() {
    let Some(interval) = sd_notify::watchdog_enabled() else {
        return;
    };
    let every = (interval / 2).max(Duration::from_millis(100));
    tracing::debug!(
        every_ms = every.as_millis() as u64,
        "feeding the systemd watchdog"
    );
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        loop {
            tick.tick().await;
            send(&[NotifyState::Watchdog]);
        }
    });
}
