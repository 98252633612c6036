//! Plans and drift reports for machines: a versioned JSON contract,
//! documented in docs/json-plan.md and described by schema/plan.schema.json.
//!
//! Compatibility: `format_version` is `MAJOR.MINOR`. Adding a field bumps
//! the minor version (consumers must ignore fields they do not know);
//! removing or changing the meaning of one bumps the major version. Object
//! keys are sorted; changes keep the plan's execution order, which is
//! deterministic for a given spec and live state.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::drift::{DriftItem, DriftReport};
use crate::plan::{Action, Change, Detail, Plan};

/// The version of the JSON contract this build writes.
pub const FORMAT_VERSION: &str = "1.2";

#[derive(Serialize)]
struct JsonPlan<'a> {
    format_version: &'static str,
    fleetcert_version: &'static str,
    fleet: &'a str,
    planned_at: String,
    changes: Vec<JsonChange<'a>>,
    summary: JsonSummary,
    guard: JsonGuard<'a>,
    warnings: &'a [String],
    /// Since 1.1: what the policies the plan touches grant and reach.
    policy_reviews: &'a [crate::plan::review::PolicyReview],
    /// Since 1.2, under `delivery: job` only: each rotating device's stage.
    #[serde(skip_serializing_if = "Option::is_none")]
    rotation: Option<super::rotation::Json<'a>>,
}

#[derive(Serialize)]
struct JsonChange<'a> {
    address: &'a crate::plan::Address,
    device: Option<&'a str>,
    actions: &'static [&'static str],
    phase: crate::plan::Phase,
    reason: &'a crate::plan::Reason,
    /// `null` when the resource does not exist yet.
    before: Option<BTreeMap<&'a str, &'a str>>,
    /// `null` when the resource will be gone.
    after: Option<BTreeMap<&'a str, &'a str>>,
    /// The AWS (or local) operations, in order, by name.
    operations: Vec<&'static str>,
}

#[derive(Serialize)]
struct JsonSummary {
    add: usize,
    change: usize,
    replace: usize,
    revoke: usize,
    delete: usize,
    adopt: usize,
    total: usize,
}

#[derive(Serialize)]
struct JsonGuard<'a> {
    destructive: usize,
    max_destructive_changes: u32,
    exceeded: bool,
    /// Why apply refuses this plan without `--allow-destructive`.
    reasons: &'a [String],
}

fn rfc3339(unix: i64) -> String {
    jiff::Timestamp::from_second(unix)
        .map(|t| t.to_string())
        .unwrap_or_else(|_| unix.to_string())
}

/// Before/after summaries from a change's details.
fn sides(change: &Change) -> (BTreeMap<&str, &str>, BTreeMap<&str, &str>) {
    let (mut before, mut after) = (BTreeMap::new(), BTreeMap::new());
    for detail in &change.details {
        match detail {
            Detail::Field {
                name,
                before: b,
                after: a,
            } => {
                if let Some(b) = b {
                    before.insert(name.as_str(), b.as_str());
                }
                if let Some(a) = a {
                    after.insert(name.as_str(), a.as_str());
                }
            }
            Detail::PolicyDocument {
                before: b,
                after: a,
            } => {
                if let Some(b) = b {
                    before.insert("document", b.as_str());
                }
                if !a.is_empty() {
                    after.insert("document", a.as_str());
                }
            }
        }
    }
    (before, after)
}

fn change(change: &Change) -> JsonChange<'_> {
    let (before, after) = sides(change);
    let gone = matches!(change.action, Action::Delete);
    JsonChange {
        address: &change.address,
        device: change.device.as_deref(),
        actions: change.action.as_list(),
        phase: change.phase,
        reason: &change.reason,
        before: (change.action != Action::Create).then_some(before),
        after: (!gone).then_some(after),
        operations: change.operations.iter().map(|op| op.name()).collect(),
    }
}

fn to_text(value: &impl Serialize) -> String {
    // Through `Value`, whose maps are sorted: stable key order.
    let value = serde_json::to_value(value).expect("JSON output serializes");
    let mut text = serde_json::to_string_pretty(&value).expect("JSON values serialize");
    text.push('\n');
    text
}

/// The plan as the JSON contract.
pub fn plan(plan: &Plan) -> String {
    let s = plan.summary();
    let doc = JsonPlan {
        format_version: FORMAT_VERSION,
        fleetcert_version: env!("CARGO_PKG_VERSION"),
        fleet: &plan.fleet,
        planned_at: rfc3339(plan.at),
        changes: plan.changes.iter().map(change).collect(),
        summary: JsonSummary {
            add: s.add,
            change: s.change,
            replace: s.replace,
            revoke: s.revoke,
            delete: s.delete,
            adopt: s.adopt,
            total: plan.changes.len(),
        },
        guard: JsonGuard {
            destructive: plan.destructive_count(),
            max_destructive_changes: plan.max_destructive_changes,
            exceeded: plan.exceeds_guard(),
            reasons: &plan.guard,
        },
        warnings: &plan.warnings,
        policy_reviews: &plan.policy_reviews,
        rotation: super::rotation::json(plan),
    };
    to_text(&doc)
}

#[derive(Serialize)]
struct JsonDrift<'a> {
    format_version: &'static str,
    fleetcert_version: &'static str,
    fleet: &'a str,
    checked_at: String,
    in_sync: bool,
    spec_last_applied: Option<bool>,
    items: Vec<JsonDriftItem<'a>>,
    summary: BTreeMap<&'static str, usize>,
    warnings: &'a [String],
}

#[derive(Serialize)]
struct JsonDriftItem<'a> {
    kind: crate::drift::DriftKind,
    code: &'a str,
    address: &'a crate::plan::Address,
    text: &'a str,
    apply_would: &'a [String],
    details: &'a [Detail],
}

/// The drift report as JSON (same versioning as plans).
pub fn drift(report: &DriftReport) -> String {
    use crate::drift::DriftKind;
    fn item(i: &DriftItem) -> JsonDriftItem<'_> {
        JsonDriftItem {
            kind: i.kind,
            code: &i.code,
            address: &i.address,
            text: &i.text,
            apply_would: &i.apply_would,
            details: &i.details,
        }
    }
    let doc = JsonDrift {
        format_version: FORMAT_VERSION,
        fleetcert_version: env!("CARGO_PKG_VERSION"),
        fleet: &report.fleet,
        checked_at: rfc3339(report.at),
        in_sync: report.in_sync(),
        spec_last_applied: report.spec_last_applied,
        items: report.items.iter().map(item).collect(),
        summary: BTreeMap::from([
            ("changed_outside", report.count(DriftKind::ChangedOutside)),
            ("auto_registered", report.count(DriftKind::AutoRegistered)),
            ("not_applied", report.count(DriftKind::NotApplied)),
        ]),
        warnings: &report.warnings,
    };
    to_text(&doc)
}
