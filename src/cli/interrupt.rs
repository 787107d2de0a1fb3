//! SIGINT/SIGTERM (Ctrl-C) for the commands that change the server (`apply`, `sync`).
//!
//! Without a handler the first Ctrl-C killed the process in the middle of whatever it did:
//! nothing said what was left, and the lock's owner file stayed behind. With it, as in the
//! `watch` daemon, the first signal sets the cancel flag that apply checks before each action
//! (the running one finishes and is journaled, so `apply --resume` continues exactly there),
//! wakes a command waiting while it plans or asks, and lets the command return normally,
//! releasing the lock. A second signal quits at once: the journal is already consistent
//! (every outcome is journaled before the next action starts) and the next writer takes over
//! the abandoned lock.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use super::EXIT_INTERRUPTED;

/// A request to stop, set by the first SIGINT/SIGTERM.
pub(super) struct Interrupt {
    flag: Arc<AtomicBool>,
    rx: tokio::sync::watch::Receiver<bool>,
}

impl Interrupt {
    /// Installs the handlers on `rt` (registered before this returns, so no signal is lost
    /// between installing and waiting). `what` names the command in the messages.
    pub(super) fn install(
        rt: &tokio::runtime::Runtime,
        what: &'static str,
    ) -> std::io::Result<Self> {
        let flag = Arc::new(AtomicBool::new(false));
        let (tx, rx) = tokio::sync::watch::channel(false);
        let _entered = rt.enter();
        let set = flag.clone();
        let on_signal = move |count: u32| {
            if count == 1 {
                set.store(true, Ordering::SeqCst);
                let _ = tx.send(true);
                crate::errln!(
                    "\nStopping {what}: the running action finishes and is journaled (interrupt again to quit at once)."
                );
            } else {
                crate::errln!(
                    "\nQuitting at once; run `supctl apply --resume` to continue what is left."
                );
                std::process::exit(i32::from(EXIT_INTERRUPTED));
            }
        };
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            let mut int = signal(SignalKind::interrupt())?;
            let mut term = signal(SignalKind::terminate())?;
            rt.spawn(async move {
                let mut count = 0;
                loop {
                    tokio::select! {
                        _ = int.recv() => {}
                        _ = term.recv() => {}
                    }
                    count += 1;
                    on_signal(count);
                }
            });
        }
        #[cfg(not(unix))]
        {
            rt.spawn(async move {
                let mut count = 0;
                while tokio::signal::ctrl_c().await.is_ok() {
                    count += 1;
                    on_signal(count);
                }
            });
        }
        Ok(Interrupt { flag, rx })
    }

    /// The flag apply checks before each action (`ApplyOptions::cancel`).
    pub(super) fn flag(&self) -> Arc<AtomicBool> {
        self.flag.clone()
    }

    pub(super) fn requested(&self) -> bool {
        self.flag.load(Ordering::SeqCst)
    }

    /// Resolves once a stop was requested.
    pub(super) async fn wait(&self) {
        let mut rx = self.rx.clone();
        let _ = rx.wait_for(|stop| *stop).await;
    }

    /// Reads one line from standard input unless a stop is requested first (`None`). The
    /// read runs on its own thread, which a stop leaves blocked: it ends with the process.
    pub(super) fn read_line(&self) -> std::io::Result<Option<String>> {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let r = std::io::BufRead::read_line(&mut std::io::stdin().lock(), &mut line);
            let _ = tx.send(r.map(|_| line));
        });
        loop {
            match rx.recv_timeout(Duration::from_millis(50)) {
                Ok(r) => return r.map(Some),
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) if self.requested() => {
                    return Ok(None);
                }
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
                Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => return Ok(None),
            }
        }
    }
}
