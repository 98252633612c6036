//! The planner on hand-made live states: pure, so no AWS is needed.

use std::collections::{BTreeMap, BTreeSet};

use super::marker::{self, CertFacts};
use super::{Action, Phase, PlanError, PlanOptions, diff};
use crate::live::{
    LiveCa, LiveCertificate, LiveIotCa, LivePolicy, LiveState, LiveThing, PolicyVersion,
};
use crate::spec::Spec;

const NOW: i64 = 1_800_000_000;
const DAY: i64 = 86_400;

fn spec(devices: &str, lifecycle: &str) -> Spec {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fleet.yaml");
    let yaml = format!(
        "version: 1\nfleet: unit\nca:\n  subject: {{common_name: Unit CA}}\n  validity: 10y\n  iot: {{mode: sni_only}}\n\
         defaults:\n  validity: 10d\n  renew_before: 3d\n  policies: [p]\npolicies:\n  p:\n    document:\n\
         \x20     Version: \"2012-10-17\"\n      Statement: [{{Effect: Allow, Action: \"iot:Connect\", Resource: \"*\"}}]\n\
         devices:\n{devices}lifecycle:\n{lifecycle}"
    );
    std::fs::write(&path, yaml).unwrap();
    crate::spec::load(&path).unwrap_or_else(|e| panic!("{}", e.render(false)))
}

fn devices(names: &[&str]) -> String {
    names.iter().map(|n| format!("  - name: {n}\n")).collect()
}

/// A live fleet matching `spec(devices(names), ..)`: CA, registration,
/// policy, and per device a thing and one ACTIVE certificate issued at `issued`.
fn live(spec: &Spec, names: &[&str], issued: i64) -> LiveState {
    let mut state = LiveState {
        ca: Some(LiveCa {
            arn: "arn:aws:acm-pca:ap-northeast-1:123456789012:certificate-authority/u".into(),
            status: "ACTIVE".into(),
            key_algorithm: "EC_prime256v1".into(),
            signing_algorithm: "SHA256WITHECDSA".into(),
            owner: Some("unit".into()),
            certificate_pem: Some("pem".into()),
            not_after: Some(NOW + 3650 * DAY),
        }),
        iot_ca: Some(LiveIotCa {
            certificate_id: "ca".into(),
            status: "ACTIVE".into(),
            mode: "SNI_ONLY".into(),
            auto_registration: false,
        }),
        ..LiveState::default()
    };
    state.policies.insert(
        "p".into(),
        LivePolicy {
            name: "p".into(),
            arn: "arn:policy/p".into(),
            owner: Some("unit".into()),
            default_version: "1".into(),
            document: spec.policies["p"].canonical.clone(),
            versions: vec![PolicyVersion {
                id: "1".into(),
                is_default: true,
            }],
        },
    );
    for (i, name) in names.iter().enumerate() {
        state.things.insert(
            name.to_string(),
            LiveThing {
                name: name.to_string(),
                thing_type: None,
                attributes: BTreeMap::new(),
                owner: Some("unit".into()),
                version: 1,
            },
        );
        let id = format!("{i:064x}");
        state.certificates.insert(
            id.clone(),
            LiveCertificate {
                id: id.clone(),
                arn: format!("arn:cert/{id}"),
                status: "ACTIVE".into(),
                serial: format!("{i:x}"),
                subject_cn: Some(name.to_string()),
                not_before: issued - 3600,
                not_after: issued + 10 * DAY,
                created_at: issued,
                public_key_sha256: format!("{i:064x}"),
                things: BTreeSet::from([name.to_string()]),
                policies: BTreeSet::from(["p".to_string()]),
            },
        );
    }
    record_markers(&mut state);
    state
}

/// The facts apply records on each thing (plan/marker.rs), as an apply would
/// have left them.
fn record_markers(state: &mut LiveState) {
    for name in state.things.keys() {
        let mut facts: Vec<CertFacts> = state
            .certificates
            .values()
            .filter(|c| c.things.contains(name) && c.status != "REVOKED")
            .map(CertFacts::of)
            .collect();
        facts.sort_by_key(|f| std::cmp::Reverse(f.not_before));
        state
            .markers
            .insert(name.clone(), marker::encode("unit", &facts));
    }
}

fn options(now: i64) -> PlanOptions {
    PlanOptions {
        now,
        ..PlanOptions::default()
    }
}

fn actions(plan: &super::Plan) -> Vec<(String, Action)> {
    plan.changes
        .iter()
        .map(|c| (c.address.clone(), c.action))
        .collect()
}

#[test]
fn an_empty_account_gets_everything_in_phase_order() {
    let spec = spec(&devices(&["a", "b"]), "  on_removal: revoke\n");
    let plan = diff(&spec, &LiveState::default(), &options(NOW)).unwrap();
    let phases: Vec<Phase> = plan.changes.iter().map(|c| c.phase).collect();
    let mut sorted = phases.clone();
    sorted.sort();
    assert_eq!(phases, sorted);
    assert_eq!(plan.changes[0].address, "ca");
    assert_eq!(plan.changes[1].address, "ca.iot");
    assert!(plan.changes.iter().all(|c| c.action == Action::Create));
    assert_eq!(plan.summary().add, 2 + 1 + 2 * 2);
    assert!(plan.guard.is_empty());
}

#[test]
fn a_fleet_in_sync_plans_nothing_twice() {
    let names = ["a", "b", "c"];
    let spec = spec(&devices(&names), "  on_removal: revoke\n");
    let live = live(&spec, &names, NOW - DAY);
    for _ in 0..2 {
        let plan = diff(&spec, &live, &options(NOW)).unwrap();
        assert!(plan.is_empty(), "{:?}", actions(&plan));
    }
}

#[test]
fn expiry_within_renew_before_rotates_new_first_and_retires_after_the_overlap() {
    let names = ["a"];
    let spec = spec(&devices(&names), "  rotation_overlap: 1d\n");
    let mut live = live(&spec, &names, NOW - 8 * DAY);
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
    record_markers(&mut live);
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
    assert_eq!(after.changes[0].reason.code, "certificate_superseded");
}

#[test]
fn things_and_policies_of_others_are_errors_unless_adopted() {
    let names = ["a"];
    let spec_plain = spec(&devices(&names), "  on_removal: revoke\n");
    let mut live = live(&spec_plain, &names, NOW - DAY);
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
    let adopting = spec("  - name: a\n    adopt: true\n", "  on_removal: revoke\n");
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
    let names = ["a", "b", "c", "d"];
    let full = spec(
        &devices(&names),
        "  on_removal: revoke\n  max_destructive_changes: 100\n",
    );
    let live = live(&full, &names, NOW - DAY);
    let lost = spec(
        &devices(&["a"]),
        "  on_removal: revoke\n  max_destructive_changes: 100\n",
    );
    let plan = diff(&lost, &live, &options(NOW)).unwrap();
    assert_eq!(plan.guard.len(), 1, "{:?}", plan.guard);
    assert!(plan.guard[0].contains("3 of the fleet's 4 live devices"));

    let one_gone = spec(
        &devices(&["a", "b", "c"]),
        "  on_removal: revoke\n  max_destructive_changes: 100\n",
    );
    assert!(
        diff(&one_gone, &live, &options(NOW))
            .unwrap()
            .guard
            .is_empty()
    );

    let reserved = spec(&devices(&["fleetcert-lock-unit"]), "  on_removal: keep\n");
    let errors = diff(&reserved, &LiveState::default(), &options(NOW)).unwrap_err();
    assert!(matches!(&errors[0], PlanError::ReservedName { .. }));
}

#[test]
fn a_pending_key_of_a_registered_certificate_gets_its_files_written() {
    let spec = spec(&devices(&["a", "b"]), "  on_removal: revoke\n");
    let live = live(&spec, &["a", "b"], NOW - DAY);
    let a_key = live
        .certificates
        .values()
        .find(|c| c.subject_cn.as_deref() == Some("a"));
    let a_key = a_key.unwrap().public_key_sha256.clone();
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
    assert_eq!(change.reason.code, "files_not_written");
    assert!(matches!(
        change.operations.as_slice(),
        [super::Operation::LoadCertificate { id, .. }, super::Operation::WriteDeviceFiles { device }]
            if id == &format!("{:064x}", 0) && device == "a"
    ));
    // Without the pending key (what the next plan reads from disk once apply
    // wrote the files and promoted the key) nothing is left to do; the
    // integration test crash_kill writes them for real.
    assert!(
        diff(&spec, &live, &super::tests::options(NOW))
            .unwrap()
            .is_empty()
    );
}

#[test]
fn a_pending_key_of_a_certificate_due_for_rotation_is_written_before_the_new_issue() {
    let spec = spec(&devices(&["a"]), "  on_removal: revoke\n");
    let live = live(&spec, &["a"], NOW - 8 * DAY);
    let key = live
        .certificates
        .values()
        .next()
        .unwrap()
        .public_key_sha256
        .clone();
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
