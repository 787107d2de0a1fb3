//! Delivery outcomes counted per rule and provider, for `/metrics`
//! (`supctl_notifications_total{name,provider,outcome}`): a receiver that stopped
//! accepting shows there before anyone misses a message.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use super::NotifyProvider;

/// What became of one event for one rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Outcome {
    /// The receiver accepted it (HTTP 2xx, SMTP accepted).
    Delivered,
    /// Every attempt failed.
    Failed,
    /// The rule's queue was full: the event was never attempted.
    Dropped,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Delivered => "delivered",
            Outcome::Failed => "failed",
            Outcome::Dropped => "dropped",
        }
    }
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One counter of [`DeliveryStats::snapshot`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryCount {
    /// The rule's `name`.
    pub name: String,
    pub provider: NotifyProvider,
    pub outcome: Outcome,
    pub count: u64,
}

/// Shared counters: the delivery tasks add, the HTTP listener reads. Cloning shares them.
#[derive(Debug, Clone, Default)]
pub struct DeliveryStats(Arc<Mutex<Counters>>);

/// By rule name, provider and outcome.
type Counters = BTreeMap<(String, NotifyProvider, Outcome), u64>;

impl DeliveryStats {
    pub(super) fn add(&self, name: &str, provider: NotifyProvider, outcome: Outcome) {
        // A poisoned lock only means a panic elsewhere mid-increment; the counts stay usable.
        let mut m = self.0.lock().unwrap_or_else(|p| p.into_inner());
        *m.entry((name.to_string(), provider, outcome)).or_default() += 1;
    }

    /// Every counter so far, ordered by name, provider and outcome.
    pub fn snapshot(&self) -> Vec<DeliveryCount> {
        let m = self.0.lock().unwrap_or_else(|p| p.into_inner());
        m.iter()
            .map(|((name, provider, outcome), count)| DeliveryCount {
                name: name.clone(),
                provider: *provider,
                outcome: *outcome,
                count: *count,
            })
            .collect()
    }

    /// One counter's value (0 when never counted).
    pub fn get(&self, name: &str, provider: NotifyProvider, outcome: Outcome) -> u64 {
        let m = self.0.lock().unwrap_or_else(|p| p.into_inner());
        m.get(&(name.to_string(), provider, outcome))
            .copied()
            .unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clones_share_the_counters() {
        let s = DeliveryStats::default();
        let t = s.clone();
        s.add("ops", NotifyProvider::Webhook, Outcome::Delivered);
        t.add("ops", NotifyProvider::Webhook, Outcome::Delivered);
        t.add("ops", NotifyProvider::Webhook, Outcome::Dropped);
        assert_eq!(s.get("ops", NotifyProvider::Webhook, Outcome::Delivered), 2);
        let snap = s.snapshot();
        assert_eq!(snap.len(), 2);
        assert_eq!(snap[1].outcome.as_str(), "dropped");
    }
}
