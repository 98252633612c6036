//! The policy review a plan carries: for each policy the plan creates,
//! changes, adopts or deletes, or whose attachments the spec changes, what
//! it grants (the analysis of `crate::analysis`) and how many devices it
//! reaches. Information for reviewers; apply never reads it.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::analysis::{self, Review};
use crate::live::{CertStatus, LiveState};
use crate::plan::{Action, Address, Change};
use crate::spec::Spec;

/// One policy, reviewed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyReview {
    pub policy: String,
    /// What the plan does to the policy itself; `None` when only which
    /// devices carry it changes.
    pub action: Option<Action>,
    /// Empty for a policy the plan deletes.
    #[serde(flatten)]
    pub review: Review,
    /// How many of the spec's devices carry the policy once applied.
    pub carried_by: usize,
    /// Devices that carry it after the apply and do not now.
    pub gains: Vec<String>,
    /// Devices that carry it now and will not after the apply.
    pub loses: Vec<String>,
}

/// The devices whose ACTIVE certificates carry `policy` now.
fn carriers_now<'a>(live: &'a LiveState, policy: &str) -> BTreeSet<&'a str> {
    live.certificates
        .values()
        .filter(|c| c.status == CertStatus::Active && c.policies.contains(policy))
        .filter_map(|c| c.subject_cn.as_deref())
        .collect()
}

/// Reviews, by policy name, of the policies the plan touches.
pub fn reviews(spec: &Spec, live: &LiveState, changes: &[Change]) -> Vec<PolicyReview> {
    let mut names: BTreeSet<&str> = spec.policies.keys().map(String::as_str).collect();
    // The fleet's own policies that left the spec (deleted by the plan).
    names.extend(
        live.policies
            .iter()
            .filter(|(_, p)| p.owner.as_deref() == Some(spec.fleet.as_str()))
            .map(|(name, _)| name.as_str()),
    );
    let mut out = Vec::new();
    for name in names {
        let action = changes
            .iter()
            .find(|c| matches!(&c.address, Address::Policy(p) if p == name))
            .map(|c| c.action);
        let wanted: BTreeSet<&str> = spec
            .devices
            .values()
            .filter(|d| d.policies.contains(name))
            .map(|d| d.name.as_str())
            .collect();
        let now = carriers_now(live, name);
        let owned = |names: std::collections::btree_set::Difference<'_, &str>| {
            names.map(|n| n.to_string()).collect::<Vec<String>>()
        };
        let gains = owned(wanted.difference(&now));
        let loses = owned(now.difference(&wanted));
        if action.is_none() && gains.is_empty() && loses.is_empty() {
            continue;
        }
        let review = spec
            .policies
            .get(name)
            .map(|p| analysis::review(&p.document, &p.allow_findings))
            .unwrap_or_default();
        out.push(PolicyReview {
            policy: name.to_string(),
            action,
            review,
            carried_by: wanted.len(),
            gains,
            loses,
        });
    }
    out
}
