//! The deletion budget, told at plan time: `apply` refuses a plan with more destructive
//! actions than `[server] max_deletions`, and a reviewer should learn that from the plan,
//! not from the apply (88 expiries once planned with exit 0 and no word about the limit).

use std::collections::BTreeMap;

use super::model::{ActionKind, Plan, PlanDiagnostic, Severity};
use crate::store::Address;

/// The address of the diagnostic: the setting that decides.
pub fn address() -> Address {
    Address::setting("server", "max_deletions")
}

/// A warning when `plan` exceeds `max` destructive actions, naming what they are.
pub fn check(plan: &Plan, max: u32) -> Option<PlanDiagnostic> {
    let count = plan.destructive_count();
    if count <= max as usize {
        return None;
    }
    let mut kinds: BTreeMap<ActionKind, usize> = BTreeMap::new();
    for a in plan.actions.iter().filter(|a| a.kind.is_destructive()) {
        *kinds.entry(a.kind).or_default() += 1;
    }
    let each: Vec<String> = kinds.iter().map(|(k, n)| format!("{n} {k}")).collect();
    Some(PlanDiagnostic {
        severity: Severity::Warning,
        code: "deletion-budget".into(),
        address: address(),
        message: format!(
            "the plan has {count} destructive actions ({}) and the limit is {max}: apply (and `watch`) will refuse it as a whole",
            each.join(", ")
        ),
        hint: Some(format!(
            "review the destructive actions; if they are intended, raise [server] max_deletions to at least {count} for this apply, or narrow it with --target"
        )),
        blocked: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::Action;

    fn expire(i: usize) -> Action {
        Action {
            address: format!("catalog.a.update[{i}]").into(),
            kind: ActionKind::Expire,
            before: None,
            after: None,
            reason: String::new(),
            before_fingerprint: None,
            bytes: 0,
            unsupported: None,
            payload: None,
        }
    }

    #[test]
    fn warns_only_past_the_limit() {
        let plan = Plan::new("c".into(), (0..3).map(expire).collect(), vec![]);
        assert!(check(&plan, 3).is_none());
        let d = check(&plan, 2).unwrap();
        assert_eq!(d.severity, Severity::Warning);
        assert!(
            d.message.contains("3 destructive actions (3 expire)"),
            "{}",
            d.message
        );
        assert!(d.message.contains("the limit is 2"), "{}", d.message);
    }
}
