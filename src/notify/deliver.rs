//! Delivery off the reconcile path: each rule has a bounded queue and a task that sends
//! what it holds, one event at a time, with a timeout per attempt and retries with
//! exponential backoff. The daemon only derives events and enqueues them (never waits), so
//! a receiver that hangs or fails slows nothing but its own queue; when a queue is full the
//! new event is dropped and counted. Each outcome is logged (rule, provider, event kind,
//! attempt; never the URL) and counted in [`DeliveryStats`].

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::events::{PassFacts, Problems, derive};
use super::receiver::{Receiver, resolve};
use super::stats::{DeliveryStats, Outcome};
use super::{Event, NotifyError, host_name, wants};
use crate::config::{Config, NotifyRule};
use crate::reconcile::status::Report;

/// Longest wait for one attempt (connect, send, answer).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// Events waiting per rule; beyond this a receiver is so far behind that new events are
/// dropped (and counted) rather than held in memory without bound.
pub const QUEUE_CAPACITY: usize = 256;
/// Waits before the 2nd, 3rd and 4th attempt.
const BACKOFF: [Duration; 3] = [
    Duration::from_secs(1),
    Duration::from_secs(2),
    Duration::from_secs(4),
];
/// Where the open problems are kept between daemon runs, in the state directory.
const STATE_FILE: &str = "notify-state.json";

/// How delivery waits; tests shrink the backoff with `watch --schedule-scale`.
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    /// Divides every backoff delay (at least 1).
    pub scale: f64,
}

impl Default for Timing {
    fn default() -> Self {
        Timing { scale: 1.0 }
    }
}

impl Timing {
    fn backoff(self, attempt: usize) -> Duration {
        BACKOFF
            .get(attempt.saturating_sub(1))
            .copied()
            .unwrap_or(BACKOFF[BACKOFF.len() - 1])
            .div_f64(self.scale.max(1.0))
    }
}

/// One rule's queue and dedup state.
struct Slot {
    receiver: Arc<Receiver>,
    tx: mpsc::Sender<Event>,
    problems: Problems,
}

/// The daemon's notifications: derives events after each pass and queues them per rule.
pub struct Notifier {
    slots: Vec<Slot>,
    stats: DeliveryStats,
    client: Option<reqwest::Client>,
    host: Arc<str>,
    timing: Timing,
    state_path: Option<PathBuf>,
    tasks: Vec<JoinHandle<()>>,
}

#[derive(Default, Serialize, Deserialize)]
struct Saved {
    rules: BTreeMap<String, Problems>,
}

/// The HTTP client of every HTTP receiver: `[http]`'s proxy and extra roots, this
/// module's timeout.
fn client(cfg: &Config, rule: &str) -> Result<reqwest::Client, NotifyError> {
    let settings = crate::catalog::fetch::HttpSettings {
        timeout: REQUEST_TIMEOUT,
        connect_timeout: REQUEST_TIMEOUT,
        ..crate::reconcile::http_settings(cfg)
    };
    crate::catalog::fetch::build_client(&settings).map_err(|e| NotifyError::Client {
        rule: rule.to_string(),
        detail: e.to_string(),
    })
}

/// The process environment, where the daemon reads the rules' secrets.
fn process_env(var: &str) -> Option<String> {
    std::env::var(var).ok()
}

/// Every rule of `cfg`, resolved through `env`: the first error stops.
fn resolve_all(
    cfg: &Config,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Vec<Receiver>, NotifyError> {
    cfg.notify.iter().map(|r| resolve(r, env)).collect()
}

impl Notifier {
    /// Reads every rule's secrets (a missing variable is an error naming the rule and the
    /// variable), restores what was open from `state_dir`, and starts one delivery task per
    /// rule. Must run inside the tokio runtime.
    pub fn start(
        cfg: &Config,
        state_dir: Option<&Path>,
        timing: Timing,
    ) -> Result<Notifier, NotifyError> {
        Self::start_with_env(cfg, state_dir, timing, &process_env)
    }

    /// [`Notifier::start`], reading the secrets through `env`.
    pub fn start_with_env(
        cfg: &Config,
        state_dir: Option<&Path>,
        timing: Timing,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Notifier, NotifyError> {
        let receivers = resolve_all(cfg, env)?;
        let client = match receivers.first() {
            Some(r) => Some(client(cfg, &r.rule.name)?),
            None => None,
        };
        let state_path = state_dir.map(|d| d.join(STATE_FILE));
        let mut saved = state_path
            .as_ref()
            .and_then(|p| std::fs::read(p).ok())
            .and_then(|b| serde_json::from_slice::<Saved>(&b).ok())
            .unwrap_or_default();
        let mut n = Notifier {
            slots: Vec::new(),
            stats: DeliveryStats::default(),
            client,
            host: host_name().into(),
            timing,
            state_path,
            tasks: Vec::new(),
        };
        n.install(receivers, &mut saved.rules);
        Ok(n)
    }

    /// Replaces the rules after a config reload, keeping what each rule (by name) had
    /// open. On an error the old rules stay and the error is returned for the log.
    pub fn reconfigure(&mut self, cfg: &Config) -> Result<(), NotifyError> {
        let receivers = resolve_all(cfg, &process_env)?;
        if self.client.is_none()
            && let Some(r) = receivers.first()
        {
            self.client = Some(client(cfg, &r.rule.name)?);
        }
        let mut kept: BTreeMap<String, Problems> = std::mem::take(&mut self.slots)
            .into_iter()
            .map(|s| (s.receiver.rule.name.clone(), s.problems))
            .collect();
        self.install(receivers, &mut kept);
        Ok(())
    }

    fn install(&mut self, receivers: Vec<Receiver>, problems: &mut BTreeMap<String, Problems>) {
        let Some(client) = self.client.clone() else {
            return;
        };
        let now = Utc::now();
        self.tasks.retain(|t| !t.is_finished());
        for r in receivers {
            let (tx, rx) = mpsc::channel(QUEUE_CAPACITY);
            let receiver = Arc::new(r);
            let task = tokio::spawn(run_queue(
                receiver.clone(),
                rx,
                client.clone(),
                self.host.clone(),
                self.stats.clone(),
                self.timing,
            ));
            self.tasks.push(task);
            let problems = problems
                .remove(&receiver.rule.name)
                .unwrap_or_else(|| Problems::starting(now));
            self.slots.push(Slot {
                receiver,
                tx,
                problems,
            });
        }
    }

    /// The delivery counters, shared (for `/metrics`).
    pub fn stats(&self) -> DeliveryStats {
        self.stats.clone()
    }

    /// Whether any rule is configured.
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// After a pass: derives each rule's events from the report and queues those it wants.
    /// Never waits for a receiver.
    pub fn observe(&mut self, report: &Report, facts: &PassFacts) {
        let now = Utc::now();
        let mut changed = false;
        for slot in &mut self.slots {
            let rule = &slot.receiver.rule;
            let (events, next) = derive(&slot.problems, report, facts, now, rule.remind_after);
            changed |= next != slot.problems;
            slot.problems = next;
            for e in events.into_iter().filter(|e| wants(rule, e)) {
                enqueue(slot, e, &self.stats);
            }
        }
        if changed {
            self.save();
        }
    }

    /// Queues an event that is no problem (daemon started or stopped) to the rules that
    /// want it.
    pub fn emit(&self, e: &Event) {
        for slot in &self.slots {
            if wants(&slot.receiver.rule, e) {
                enqueue(slot, e.clone(), &self.stats);
            }
        }
    }

    /// Closes the queues and waits up to `bound` for them to drain (the `daemon-stopped`
    /// event should leave before the process does; a hanging receiver must not hold the
    /// stop).
    pub async fn shutdown(&mut self, bound: Duration) {
        self.slots.clear();
        let tasks = std::mem::take(&mut self.tasks);
        let all = futures::future::join_all(tasks);
        if tokio::time::timeout(bound, all).await.is_err() {
            tracing::warn!(
                bound_ms = bound.as_millis() as u64,
                "notifications still queued at stop were not delivered"
            );
        }
    }

    fn save(&self) {
        let Some(path) = &self.state_path else {
            return;
        };
        let saved = Saved {
            rules: self
                .slots
                .iter()
                .map(|s| (s.receiver.rule.name.clone(), s.problems.clone()))
                .collect(),
        };
        let bytes = serde_json::to_vec_pretty(&saved).unwrap_or_default();
        if let Err(e) = crate::signing::keys::write_atomic(path, &bytes, 0o600) {
            let e = NotifyError::State {
                path: path.display().to_string(),
                detail: e.to_string(),
            };
            tracing::warn!(error = %e, "open problems not saved: a restart may send them again");
        }
    }
}

fn enqueue(slot: &Slot, e: Event, stats: &DeliveryStats) {
    let rule = &slot.receiver.rule;
    match slot.tx.try_send(e) {
        Ok(()) => {}
        Err(mpsc::error::TrySendError::Full(e)) => {
            stats.add(&rule.name, rule.provider, Outcome::Dropped);
            tracing::warn!(notify = %rule.name, provider = %rule.provider, event = %e.kind, outcome = "dropped", capacity = QUEUE_CAPACITY, "notification queue full: event dropped");
        }
        Err(mpsc::error::TrySendError::Closed(_)) => {}
    }
}

async fn run_queue(
    receiver: Arc<Receiver>,
    mut rx: mpsc::Receiver<Event>,
    client: reqwest::Client,
    host: Arc<str>,
    stats: DeliveryStats,
    timing: Timing,
) {
    while let Some(e) = rx.recv().await {
        let _ = deliver(&receiver, &client, &e, &host, &stats, timing).await;
    }
}

/// A 4xx other than 408 and 429 will not change on retry (a revoked webhook, a bad body).
fn retryable(e: &NotifyError) -> bool {
    match e {
        NotifyError::Status { status, .. } => {
            !(400..500).contains(status) || *status == 408 || *status == 429
        }
        NotifyError::Mail { .. } => false,
        _ => true,
    }
}

/// One attempt, bounded by [`REQUEST_TIMEOUT`] whatever the transport does.
async fn attempt(
    r: &Receiver,
    client: &reqwest::Client,
    e: &Event,
    host: &str,
) -> Result<(), NotifyError> {
    match tokio::time::timeout(REQUEST_TIMEOUT, r.send(client, e, host)).await {
        Ok(result) => result,
        Err(_) => Err(NotifyError::Timeout {
            rule: r.rule.name.clone(),
            provider: r.rule.provider,
            kind: e.kind,
            secs: REQUEST_TIMEOUT.as_secs(),
        }),
    }
}

/// Sends `e` with retries, logging and counting the outcome.
async fn deliver(
    r: &Receiver,
    client: &reqwest::Client,
    e: &Event,
    host: &str,
    stats: &DeliveryStats,
    timing: Timing,
) -> Result<(), NotifyError> {
    let (name, provider) = (&r.rule.name, r.rule.provider);
    let attempts = BACKOFF.len() + 1;
    let mut n = 1;
    loop {
        match attempt(r, client, e, host).await {
            Ok(()) => {
                tracing::info!(notify = %name, provider = %provider, event = %e.kind, attempt = n, outcome = "delivered", "notification delivered");
                stats.add(name, provider, Outcome::Delivered);
                return Ok(());
            }
            Err(err) if n < attempts && retryable(&err) => {
                let wait = timing.backoff(n);
                tracing::warn!(notify = %name, provider = %provider, event = %e.kind, attempt = n, outcome = "retrying", retry_ms = wait.as_millis() as u64, error = %err, "notification attempt failed");
                tokio::time::sleep(wait).await;
                n += 1;
            }
            Err(err) => {
                tracing::warn!(notify = %name, provider = %provider, event = %e.kind, attempt = n, outcome = "failed", error = %err, "notification not delivered");
                stats.add(name, provider, Outcome::Failed);
                return Err(err);
            }
        }
    }
}

/// `supctl notify test`: sends the test event once (no retries: the admin wants the answer
/// now) to each of `rules`, returning each rule's name and outcome.
pub async fn send_test(
    cfg: &Config,
    rules: &[&NotifyRule],
) -> Vec<(String, Result<(), NotifyError>)> {
    let host = host_name();
    let e = Event::test();
    let mut out = Vec::new();
    for rule in rules {
        let result = async {
            let r = resolve(rule, &process_env)?;
            let client = client(cfg, &rule.name)?;
            attempt(&r, &client, &e, &host).await
        }
        .await;
        out.push((rule.name.clone(), result));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notify::{EventKind, Severity};

    /// A config with one webhook rule whose URL is in the variable `var`.
    fn config(var: &str) -> Config {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("supctl.toml");
        std::fs::write(
            &path,
            format!(
                "version = 1\nempty = true\n[[notify]]\nname = \"ops\"\nprovider = \"webhook\"\nurl_env = \"{var}\"\nseverity = \"info\"\n"
            ),
        )
        .unwrap();
        crate::config::load(&path).unwrap().0
    }

    /// A receiver that accepts connections and never answers: the first event holds the
    /// delivery task, the queue fills, and what does not fit is dropped and counted,
    /// without `emit` ever waiting.
    #[tokio::test]
    async fn a_full_queue_drops_new_events_and_counts_them() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((s, _)) = listener.accept().await {
                held.push(s);
            }
        });
        let url = format!("http://{addr}/hook");
        let env = |_: &str| Some(url.clone());
        let mut n =
            Notifier::start_with_env(&config("OPS_URL"), None, Timing::default(), &env).unwrap();
        let started = std::time::Instant::now();
        let extra = 40;
        for i in 0..QUEUE_CAPACITY + 1 + extra {
            n.emit(&Event::new(
                EventKind::ApplyCompleted,
                Severity::Info,
                format!("{i}"),
            ));
            if i == 0 {
                // Let the task take the first event off the queue.
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
        assert!(started.elapsed() < Duration::from_secs(2), "emit waited");
        let stats = n.stats();
        let dropped = stats.get(
            "ops",
            crate::notify::NotifyProvider::Webhook,
            Outcome::Dropped,
        );
        assert_eq!(dropped, extra as u64);
        let started = std::time::Instant::now();
        n.shutdown(Duration::from_millis(200)).await;
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "shutdown is bounded"
        );
    }

    #[test]
    fn backoff_doubles_and_scales() {
        let t = Timing::default();
        assert_eq!(t.backoff(1), Duration::from_secs(1));
        assert_eq!(t.backoff(2), Duration::from_secs(2));
        assert_eq!(t.backoff(3), Duration::from_secs(4));
        let fast = Timing { scale: 100.0 };
        assert_eq!(fast.backoff(3), Duration::from_millis(40));
    }

    #[test]
    fn permanent_refusals_are_not_retried() {
        let status = |status| NotifyError::Status {
            rule: "r".into(),
            provider: crate::notify::NotifyProvider::Webhook,
            kind: crate::notify::EventKind::Test,
            status,
        };
        assert!(retryable(&status(500)));
        assert!(retryable(&status(429)));
        assert!(!retryable(&status(404)));
        assert!(!retryable(&status(401)));
    }
}
