//! `fleetcert iam-policy`: snapshots, and every AWS operation fleetcert
//! really calls (counted by the emulator) is allowed by the policy of its mode.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::fleet_dir::{FleetDir, apply_ok, run};
use crate::harness::{Account, shared};

fn actions(policy: &Value) -> BTreeSet<String> {
    policy["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["Action"].as_array().unwrap().iter())
        .map(|a| a.as_str().unwrap().to_string())
        .collect()
}

fn iam(account: &Account<'_>, fleet: &FleetDir, mode: &str) -> (String, Value) {
    let out = run(account.fleetcert(fleet.path()).args([
        "iam-policy",
        "--mode",
        mode,
        "--account",
        "123456789012",
    ]))
    .success();
    let value = serde_json::from_str(&out.stdout).unwrap();
    (out.stdout, value)
}

#[test]
fn iam_policies_snapshot() {
    let account = Account::new(shared());
    let fleet = FleetDir::root_example();
    let (plan_text, plan) = iam(&account, &fleet, "plan");
    let (apply_text, apply) = iam(&account, &fleet, "apply");
    insta::assert_snapshot!("iam_policy_plan", plan_text);
    insta::assert_snapshot!("iam_policy_apply", apply_text);
    // plan mode is read-only; apply mode includes it.
    let read = actions(&plan);
    assert!(
        read.iter().all(|a| {
            let op = a.split(':').nth(1).unwrap();
            ["Describe", "Get", "List"]
                .iter()
                .any(|p| op.starts_with(p))
        }),
        "{read:?}"
    );
    assert!(actions(&apply).is_superset(&read));
    // Narrowed: things the spec creates are named one by one.
    assert!(
        apply_text.contains("arn:aws:iot:ap-northeast-1:123456789012:thing/sensor-001"),
        "{apply_text}"
    );
}

#[test]
fn every_call_fleetcert_makes_is_allowed() {
    let account = Account::new(shared());
    let fleet = FleetDir::root_example();
    run(account.fleetcert(fleet.path()).args(["plan"])).success();
    assert!(run(account.fleetcert(fleet.path()).args(["drift"])).code == 2);
    let read_calls: BTreeSet<String> = account.counters().into_keys().collect();
    let (_, plan) = iam(&account, &fleet, "plan");
    let allowed = actions(&plan);
    let missing: Vec<_> = read_calls.difference(&allowed).collect();
    assert!(missing.is_empty(), "plan-mode policy lacks {missing:?}");

    apply_ok(&account, fleet.path());
    fleet.edit(
        "attributes: {line: B, model: x2}",
        "attributes: {line: C, model: x2}",
    );
    run(account.fleetcert(fleet.path()).args([
        "apply",
        "--auto-approve",
        "--replace",
        "sensor-003",
    ]))
    .success();
    let all_calls: BTreeSet<String> = account.counters().into_keys().collect();
    let (_, apply) = iam(&account, &fleet, "apply");
    let allowed = actions(&apply);
    let missing: Vec<_> = all_calls.difference(&allowed).collect();
    assert!(missing.is_empty(), "apply-mode policy lacks {missing:?}");
}
