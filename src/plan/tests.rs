//! The planner on hand-made live states: pure, so no AWS is needed.

use std::collections::BTreeMap;

use super::{Action, Address, Operation, Phase, PlanError, PlanOptions, ReasonCode, diff};
use crate::live::LiveState;
use crate::spec::Spec;
use crate::testkit::{self, DAY, FleetBuilder, LiveBuilder};

const NOW: i64 = 1_800_000_000;

/// The unit fleet: devices `names` (or `entries`, raw), policy `p` for all.
fn fleet(lifecycle: &[&str]) -> FleetBuilder {
    let mut fleet = FleetBuilder::new("unit")
        .default("policies: [p]")
        .policy("p", testkit::CONNECT_STATEMENT);
    for line in lifecycle {
        fleet = fleet.lifecycle(line);
    }
    fleet
}

fn spec(names: &[&str], lifecycle: &[&str]) -> Spec {
    let mut fleet = fleet(lifecycle);
    for name in names {
        fleet = fleet.device(name);
    }
    fleet.load(tempfile::tempdir().unwrap().path())
}

/// A live fleet matching `spec`, applied at `issued`.
fn live(spec: &Spec, issued: i64) -> LiveState {
    LiveBuilder::steady(spec, issued)
}

fn options(now: i64) -> PlanOptions {
    PlanOptions {
        now,
        ..PlanOptions::default()
    }
}

fn cert_of<'a>(live: &'a LiveState, device: &str) -> &'a crate::live::LiveCertificate {
    live.certificates
        .values()
        .find(|c| c.subject_cn.as_deref() == Some(device))
        .unwrap()
}

fn actions(plan: &super::Plan) -> Vec<(String, Action)> {
    plan.changes
        .iter()
        .map(|c| (c.address.to_string(), c.action))
        .collect()
}

#[test]
fn an_empty_account_gets_everything_in_phase_order() {
    let spec = spec(&["a", "b"], &["on_removal: revoke"]);
    let plan = diff(&spec, &LiveState::default(), &options(NOW)).unwrap();
    let phases: Vec<Phase> = plan.changes.iter().map(|c| c.phase).collect();
    let mut sorted = phases.clone();
    sorted.sort();
    assert_eq!(phases, sorted);
    assert_eq!(plan.changes[0].address, Address::Ca);
    assert_eq!(plan.changes[1].address, Address::CaRegistration);
    assert!(plan.changes.iter().all(|c| c.action == Action::Create));
    assert_eq!(plan.summary().add, 2 + 1 + 2 * 2);
    assert!(plan.guard.is_empty());
}

#[test]
fn a_fleet_in_sync_plans_nothing() {
    let spec = spec(&["a", "b", "c"], &["on_removal: revoke"]);
    let plan = diff(&spec, &live(&spec, NOW - DAY), &options(NOW)).unwrap();
    assert!(plan.is_empty(), "{:?}", actions(&plan));
}

#[test]
fn expiry_within_renew_before_rotates_new_first_and_retires_after_the_overlap() {
    let spec = spec(&["a"], &["rotation_overlap: 1d"]);
    let mut live = live(&spec, NOW - 8 * DAY);
    let plan = diff(&spec, &live, &options(NOW)).unwrap();
    assert_eq!(
        actions(&plan),
        [("device.a.certificate".to_string(), Action::CreateThenRetire)]
    );
    assert!(
        plan.changes[0]
            .reason
            .text
            .contains("within renew_before 3d"),
        "{}",
        plan.changes[0].reason.text
    );

    // After the rotation: a newer certificate for the same device.
    let mut new = live.certificates.values().next().unwrap().clone();
    new.id = "f".repeat(64);
    new.created_at = NOW;
    new.not_before = NOW - 3600;
    new.not_after = NOW + 10 * DAY;
    live.certificates.insert(new.id.clone(), new);
    testkit::record_markers(&mut live);
    let during = diff(&spec, &live, &options(NOW + 3600)).unwrap();
    assert!(during.is_empty(), "{:?}", actions(&during));
    assert!(
        during
            .warnings
            .iter()
            .any(|w| w.contains("stays ACTIVE until"))
    );
    let after = diff(&spec, &live, &options(NOW + 2 * DAY)).unwrap();
    assert_eq!(after.changes.len(), 1);
    assert_eq!(after.changes[0].action, Action::Revoke);
    assert_eq!(
        after.changes[0].reason.code,
        ReasonCode::CertificateSuperseded
    );
}

#[test]
fn things_and_policies_of_others_are_errors_unless_adopted() {
    let spec_plain = spec(&["a"], &["on_removal: revoke"]);
    let mut live = live(&spec_plain, NOW - DAY);
    live.things.get_mut("a").unwrap().owner = None;
    live.policies.get_mut("p").unwrap().owner = Some("other".into());
    let errors = diff(&spec_plain, &live, &options(NOW)).unwrap_err();
    assert!(
        errors
            .iter()
            .any(|e| matches!(e, PlanError::UnownedThing { name, .. } if name == "a"))
    );
    assert!(
        errors
            .iter()
            .any(|e| matches!(e, PlanError::UnownedPolicy { name, .. } if name == "p"))
    );

    live.policies.get_mut("p").unwrap().owner = None;
    let adopting = fleet(&["on_removal: revoke"])
        .device_with("a", &["adopt: true"])
        .load(tempfile::tempdir().unwrap().path());
    let errors = diff(&adopting, &live, &options(NOW)).unwrap_err();
    assert!(
        errors
            .iter()
            .all(|e| matches!(e, PlanError::UnownedPolicy { .. })),
        "{errors:?}"
    );
    // Adopting the policy too: nothing is refused, and both are adopted.
    let mut both = adopting;
    both.policies.get_mut("p").unwrap().adopt = true;
    let plan = diff(&both, &live, &options(NOW)).unwrap();
    let adopted: Vec<String> = actions(&plan)
        .into_iter()
        .filter(|(_, action)| *action == Action::Adopt)
        .map(|(address, _)| address)
        .collect();
    assert_eq!(
        adopted,
        ["policy.p", "device.a.thing"],
        "{:?}",
        actions(&plan)
    );
}

#[test]
fn a_lost_device_list_trips_the_guard_and_the_lock_name_is_reserved() {
    let lifecycle = ["on_removal: revoke", "max_destructive_changes: 100"];
    let full = spec(&["a", "b", "c", "d"], &lifecycle);
    let live = live(&full, NOW - DAY);
    let lost = spec(&["a"], &lifecycle);
    let plan = diff(&lost, &live, &options(NOW)).unwrap();
    assert_eq!(plan.guard.len(), 1, "{:?}", plan.guard);
    assert!(plan.guard[0].contains("3 of the fleet's 4 live devices"));

    let one_gone = spec(&["a", "b", "c"], &lifecycle);
    assert!(
        diff(&one_gone, &live, &options(NOW))
            .unwrap()
            .guard
            .is_empty()
    );

    let reserved = spec(&["fleetcert-lock-unit"], &["on_removal: keep"]);
    let errors = diff(&reserved, &LiveState::default(), &options(NOW)).unwrap_err();
    assert!(matches!(&errors[0], PlanError::ReservedName { .. }));
}

#[test]
fn a_pending_key_of_a_registered_certificate_gets_its_files_written() {
    let spec = spec(&["a", "b"], &["on_removal: revoke"]);
    let live = live(&spec, NOW - DAY);
    let a_cert = cert_of(&live, "a").clone();
    let a_key = a_cert.public_key_sha256.clone();
    // a's pending key is its certificate's (an apply died before writing the
    // files); b's is some other key (one died before registering): only a
    // needs its files, and b's key is for the next issue to reuse.
    let mut options = options(NOW);
    options.pending_keys =
        BTreeMap::from([("a".to_string(), a_key), ("b".to_string(), "f".repeat(64))]);
    let plan = diff(&spec, &live, &options).unwrap();
    assert_eq!(
        actions(&plan),
        vec![("device.a.files".to_string(), Action::Create)]
    );
    let change = &plan.changes[0];
    assert_eq!(change.reason.code, ReasonCode::FilesNotWritten);
    assert!(matches!(
        change.operations.as_slice(),
        [Operation::LoadCertificate { id, .. }, Operation::WriteDeviceFiles { device, generated_key: true, .. }]
            if id == &a_cert.id && device == "a"
    ));
    // b's pending key is for b's next certificate: not reused while b's
    // certificate is good, and named when it is.
    let b_key = "f".repeat(64);
    let mut rotating = options.clone();
    rotating.now = NOW + 8 * DAY;
    let plan = diff(&spec, &live, &rotating).unwrap();
    let b_issue = plan
        .changes
        .iter()
        .find(|c| c.address == Address::Certificate("b".into()))
        .unwrap();
    assert!(b_issue.operations.iter().any(|op| matches!(
        op,
        Operation::GenerateKey { key: super::KeyPlan::ReusePending { public_key_sha256 }, .. }
            if *public_key_sha256 == b_key
    )));
    assert!(
        b_issue
            .details
            .iter()
            .any(|d| format!("{d:?}").contains("reuses the pending key sha256:ffffffffff")),
        "{:?}",
        b_issue.details
    );
    // Without the pending key (what the next plan reads from disk once apply
    // wrote the files and promoted the key) nothing is left to do; the
    // integration test crash_kill writes them for real.
    assert!(diff(&spec, &live, &self::options(NOW)).unwrap().is_empty());
}

#[test]
fn a_pending_key_of_a_certificate_due_for_rotation_is_written_before_the_new_issue() {
    let spec = spec(&["a"], &["on_removal: revoke"]);
    let live = live(&spec, NOW - 8 * DAY);
    let key = cert_of(&live, "a").public_key_sha256.clone();
    let mut options = options(NOW);
    options.pending_keys = BTreeMap::from([("a".to_string(), key)]);
    let plan = diff(&spec, &live, &options).unwrap();
    // Within renew_before (3d of 10d): files first, then the rotation.
    assert_eq!(
        actions(&plan),
        vec![
            ("device.a.files".to_string(), Action::Create),
            ("device.a.certificate".to_string(), Action::CreateThenRetire),
        ]
    );
}

#[test]
fn a_record_that_cannot_be_read_is_said_and_written_anew() {
    let spec = spec(&["a"], &["on_removal: revoke"]);
    let mut live = live(&spec, NOW - DAY);
    // An unversioned record, as earlier releases wrote: the read layer read
    // the thing's certificates in full and names the thing.
    let legacy = live.markers["a"].replacen("unit:1[", "unit[", 1);
    live.markers.insert("a".into(), legacy);
    live.unreadable_records.insert("a".into());
    let plan = diff(&spec, &live, &options(NOW)).unwrap();
    assert!(
        plan.warnings
            .iter()
            .any(|w| w.starts_with("thing a: its fleetcert record has a format")),
        "{:?}",
        plan.warnings
    );
    assert_eq!(
        actions(&plan),
        vec![("device.a.thing".to_string(), Action::Update)]
    );
    assert_eq!(plan.changes[0].reason.code, ReasonCode::RecordOutdated);
}

#[test]
fn the_policy_review_counts_who_gains_and_loses_a_policy() {
    let before = spec(&["a", "b", "c"], &["on_removal: revoke"]);
    let live = live(&before, NOW - DAY);
    assert!(
        diff(&before, &live, &options(NOW))
            .unwrap()
            .policy_reviews
            .is_empty()
    );
    // c leaves the fleet and d joins: the policy's document is unchanged,
    // but who carries it is not.
    let after = spec(&["a", "b", "d"], &["on_removal: revoke"]);
    let plan = diff(&after, &live, &options(NOW)).unwrap();
    assert_eq!(plan.policy_reviews.len(), 1, "{:?}", plan.policy_reviews);
    let review = &plan.policy_reviews[0];
    assert_eq!(review.policy, "p");
    assert_eq!(review.action, None);
    assert_eq!(review.carried_by, 3);
    assert_eq!(review.gains, ["d"]);
    assert_eq!(review.loses, ["c"]);
}
