//! `fleetcert iam-policy`: snapshots; every AWS operation fleetcert really
//! calls (counted by the emulator) is named by the policy of its mode; and
//! plan, drift and apply run as a principal holding exactly the printed
//! policy, which the emulator enforces call by call and resource by resource
//! (tests/emulator/fleetcert_emulator/iam.py), with faults on so that the
//! retry paths run too.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};

use crate::fleet_dir::{FleetDir, apply_ok, run};
use crate::harness::{Account, Emulator, shared};

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
    printed(account, fleet, mode, "123456789012")
}

fn printed(account: &Account<'_>, fleet: &FleetDir, mode: &str, id: &str) -> (String, Value) {
    let out =
        run(account
            .fleetcert(fleet.path())
            .args(["iam-policy", "--mode", mode, "--account", id]))
        .success();
    let value = serde_json::from_str(&out.stdout).unwrap();
    (out.stdout, value)
}

/// The policy `iam-policy --mode <mode>` prints for this account's spec.
fn printed_policy(account: &Account<'_>, fleet: &FleetDir, mode: &str) -> Value {
    printed(account, fleet, mode, &account.id).1
}

/// From now on the account's access key holds exactly `policy` (and no other).
fn hold(account: &Account<'_>, policy: &Value) {
    account.emulator.control(
        "POST",
        "iam/policy",
        Some(json!({"access_key_id": account.id, "policy": policy, "user": "fleetcert-pipeline"})),
    );
}

fn release(account: &Account<'_>) {
    account.emulator.control(
        "POST",
        "iam/policy/clear",
        Some(json!({"access_key_id": account.id})),
    );
}

/// The emulator's message for each of this account's denied requests.
fn denials(account: &Account<'_>) -> Vec<String> {
    let all = account.emulator.control("GET", "iam/denials", None);
    all.as_array()
        .unwrap()
        .iter()
        .filter(|d| d["account"] == account.id.as_str())
        .map(|d| d["message"].as_str().unwrap().to_string())
        .collect()
}

/// The emulator's denial counter for this account, all operations summed.
fn denied_count(account: &Account<'_>) -> u64 {
    let all = account.emulator.control("GET", "counters", None);
    all["denied"]
        .as_object()
        .into_iter()
        .flatten()
        .filter(|(scope, _)| scope.starts_with(&format!("{}/", account.id)))
        .flat_map(|(_, ops)| ops.as_object().into_iter().flatten())
        .filter_map(|(_, n)| n.as_u64())
        .sum()
}

/// How often `operation` was requested on each resource ARN (emulator counters).
fn calls_on(account: &Account<'_>, operation: &str) -> BTreeMap<String, u64> {
    let all = account.emulator.control("GET", "counters", None);
    let scope = format!("{}/{}", account.id, account.region);
    all["resources"][scope][operation]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(arn, n)| (arn.clone(), n.as_u64().unwrap()))
        .collect()
}

fn thing_arn(account: &Account<'_>, name: &str) -> String {
    format!("arn:aws:iot:{}:{}:thing/{name}", account.region, account.id)
}

/// `policy` with `action` no longer allowed on `resource` (and all else as it
/// was): each Allow statement granting the action on that resource loses the
/// action, and a statement of its own grants it on the statement's other
/// resources. Panics if no statement granted it, so an edit cannot miss.
fn without(policy: &Value, action: &str, resource: Option<&str>) -> Value {
    let mut policy = policy.clone();
    let statements = policy["Statement"].as_array_mut().unwrap();
    let mut split = Vec::new();
    let mut edited = false;
    for statement in statements.iter_mut() {
        let names = |key: &str| -> Vec<String> {
            statement[key]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_str().unwrap().to_string())
                .collect()
        };
        let (acts, resources) = (names("Action"), names("Resource"));
        if !acts.iter().any(|a| a == action) {
            continue;
        }
        if let Some(resource) = resource {
            if !resources.iter().any(|r| r == resource) {
                continue;
            }
            let rest: Vec<&String> = resources.iter().filter(|r| *r != resource).collect();
            if !rest.is_empty() {
                split.push(json!({"Effect": "Allow", "Action": [action], "Resource": rest}));
            }
        }
        edited = true;
        statement["Action"] = json!(acts.iter().filter(|a| *a != action).collect::<Vec<_>>());
    }
    assert!(edited, "no statement grants {action} on {resource:?}");
    statements.retain(|s| !s["Action"].as_array().unwrap().is_empty());
    statements.extend(split);
    policy
}

/// An emulator that answers 5% of requests with a 500 before carrying them
/// out, 5% with a 500 after (the answer is lost), and drops 3% of
/// connections: fleetcert's retries run, including the ones whose calls
/// differ from the first attempt's.
fn faulty_emulator() -> Emulator {
    Emulator::start(&[
        "--fault-5xx-rate",
        "0.05",
        "--fault-5xx-after-rate",
        "0.05",
        "--fault-drop-rate",
        "0.03",
        "--fault-seed",
        "11",
    ])
}

/// Lose the answer to the first UpdateThing on `thing` (AWS carries it out,
/// the client sees a 500): the retry meets a VersionConflictException, and
/// fleetcert reads the thing back (`thing_has`, DescribeThing) to see whether
/// its update landed.
fn lose_first_update_of(emulator: &Emulator, thing: &str) {
    emulator.control(
        "POST",
        "config",
        Some(json!({"fail_requests": [{
            "operation": "iot:UpdateThing",
            "path_contains": format!("/things/{thing}"),
            "after": true,
            "times": 1,
            "status": 500,
            "code": "InternalFailureException",
            "message": "injected: the answer to UpdateThing was lost"
        }]})),
    );
}

/// As the printed plan policy, the plan shows no change and nothing is denied.
fn plans_clean_as_the_printed_plan_policy(account: &Account<'_>, fleet: &FleetDir) {
    hold(account, &printed_policy(account, fleet, "plan"));
    let plan = run(account
        .fleetcert(fleet.path())
        .args(["plan", "--detailed-exitcode"]));
    assert_eq!(plan.code, 0, "{}\n{}", plan.stdout, plan.stderr);
    assert_eq!(denied_count(account), 0, "{:#?}", denials(account));
}

/// `apply --auto-approve` until it exits 0 (a random fault can outlast a
/// change's retries, as in scale_faults.rs; the next apply finishes it).
/// `first` are flags for the first run only. No run may meet a denial.
fn apply_converges(account: &Account<'_>, fleet: &FleetDir, first: &[&str]) {
    for runs in 1..=4 {
        let extra = if runs == 1 { first } else { &[] };
        let out = run(account
            .fleetcert(fleet.path())
            .args(["apply", "--auto-approve"])
            .args(extra));
        assert_eq!(
            denied_count(account),
            0,
            "denied as the printed policy: {:#?}\n{}",
            denials(account),
            out.stdout
        );
        if out.code == 0 {
            eprintln!("apply converged in {runs} run(s)");
            return;
        }
        assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    }
    panic!("apply did not converge in 4 runs");
}

/// The demo fleet after a change that touches every kind of write: a thing's
/// attributes and type (CreateThingType, UpdateThing), a policy's document
/// (CreatePolicyVersion), a
/// device whose certificate loses a policy (DetachPolicy), a device removed
/// (revoke, detach, delete) and a policy that left the spec (DeletePolicy).
fn change_spec(fleet: &FleetDir) {
    let telemetry = std::fs::read_to_string(fleet.path().join("policies/telemetry.json")).unwrap();
    assert!(telemetry.contains("/telemetry\""), "{telemetry}");
    fleet.write(
        "policies/telemetry.json",
        &telemetry.replace("/telemetry\"", "/telemetry/v2\""),
    );
    fleet.edit(
        "attributes: {line: B, model: x2}",
        "attributes: {line: C, model: x2}\n    thing_type: sensor",
    );
    fleet.edit(
        "\ndefaults:\n",
        "\nthing_types:\n  sensor:\n    description: Sensors\n\ndefaults:\n",
    );
    fleet.edit(
        "  - name: gateway-01\n    validity: 90d                  # gateways rotate more often\n    \
         renew_before: 14d\n    policies: [telemetry, ota]\n    attributes: {line: B}\n",
        "",
    );
    fleet.edit("    policies: [telemetry, ota]\n", "");
    let spec = fleet.spec_text();
    let ota = &spec[spec.find("  ota:\n").unwrap()..spec.find("\ndevices:").unwrap()];
    fleet.edit(ota, "");
}

#[test]
fn iam_policies_snapshot() {
    let account = Account::new(shared());
    let fleet = FleetDir::root_example();
    let (plan_text, plan) = iam(&account, &fleet, "plan");
    let (apply_text, apply) = iam(&account, &fleet, "apply");
    snapshot!("iam_policy_plan", plan_text);
    snapshot!("iam_policy_apply", apply_text);
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
    // An empty count would make the comparison below vacuous.
    assert!(
        read_calls.contains("iot:ListThings"),
        "the emulator counted no read: {read_calls:?}"
    );
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
    assert!(
        all_calls.len() > read_calls.len() && all_calls.contains("acm-pca:IssueCertificate"),
        "apply's calls were not counted: {all_calls:?}"
    );
    let (_, apply) = iam(&account, &fleet, "apply");
    let allowed = actions(&apply);
    let missing: Vec<_> = all_calls.difference(&allowed).collect();
    assert!(missing.is_empty(), "apply-mode policy lacks {missing:?}");
}

/// plan and drift, as a principal holding exactly the printed plan policy,
/// against a fleet that exists (so every per-resource read runs): every call
/// is allowed, including the full refresh's per-certificate reads.
#[test]
fn plan_and_drift_run_as_the_printed_plan_policy() {
    let account = Account::new(shared());
    let fleet = FleetDir::root_example();
    apply_ok(&account, fleet.path());
    hold(&account, &printed_policy(&account, &fleet, "plan"));
    // No counters/reset: the emulator is shared, and a reset would clear the
    // write log other tests are reading. Every count below is this account's.
    let plan = |extra: &[&str]| {
        run(account
            .fleetcert(fleet.path())
            .args(["plan", "--detailed-exitcode"])
            .args(extra))
    };
    let quiet = plan(&[]);
    assert_eq!(quiet.code, 0, "{}\n{}", quiet.stdout, quiet.stderr);
    let full = plan(&["--refresh", "full"]);
    assert_eq!(full.code, 0, "{}\n{}", full.stdout, full.stderr);
    let drift = run(account.fleetcert(fleet.path()).args(["drift"]));
    assert_eq!(drift.code, 0, "{}\n{}", drift.stdout, drift.stderr);
    fleet.edit(
        "attributes: {line: B, model: x2}",
        "attributes: {line: C, model: x2}",
    );
    let changed = plan(&[]);
    assert_eq!(changed.code, 2, "{}\n{}", changed.stdout, changed.stderr);
    assert_eq!(denied_count(&account), 0, "{:#?}", denials(&account));
    // The reads really ran under the policy, resource by resource: the full
    // refresh's principals of each thing, the targets of each policy.
    let things = calls_on(&account, "iot:ListThingPrincipals");
    assert!(things.len() >= 5, "{things:?}");
    let policies = calls_on(&account, "iot:ListTargetsForPolicy");
    assert!(policies.len() >= 2, "{policies:?}");
    release(&account);
}

/// apply, as a principal holding exactly the printed apply policy, from an
/// empty account and again after a spec change and a rotation, through
/// faults: every call is allowed, including the read-back of a thing whose
/// UpdateThing answer was lost.
#[test]
fn apply_runs_as_the_printed_apply_policy_through_faults() {
    let emulator = faulty_emulator();
    let account = Account::new(&emulator);
    let fleet = FleetDir::root_example();
    hold(&account, &printed_policy(&account, &fleet, "apply"));
    apply_converges(&account, &fleet, &[]);

    change_spec(&fleet);
    hold(&account, &printed_policy(&account, &fleet, "apply"));
    lose_first_update_of(&emulator, "sensor-003");
    apply_converges(&account, &fleet, &[]);
    // The retry path ran: the lost update was read back on the device's thing.
    let config = emulator.control("GET", "config", None);
    assert_eq!(config["fail_requests"][0]["failed"], 1, "{config}");
    let described = calls_on(&account, "iot:DescribeThing");
    assert!(
        described.contains_key(&thing_arn(&account, "sensor-003")),
        "no DescribeThing on sensor-003: {described:?}"
    );
    for (operation, resource) in [
        ("iot:CreateThingType", "thingtype/sensor"),
        ("iot:CreatePolicyVersion", "policy/telemetry"),
        ("iot:DetachPolicy", "policy/ota"),
        ("iot:DeleteThing", "thing/gateway-01"),
        ("iot:DeletePolicy", "policy/ota"),
    ] {
        let calls = calls_on(&account, operation);
        assert!(
            calls.keys().any(|arn| arn.ends_with(resource)),
            "{operation} on {resource} did not run: {calls:?}"
        );
    }

    apply_converges(&account, &fleet, &["--replace", "sensor-003"]);
    plans_clean_as_the_printed_plan_policy(&account, &fleet);
}

/// The property the test above relies on: the emulator denies what the
/// policy lacks. The printed apply policy without DescribeThing on one
/// device's thing lets apply through until that thing's UpdateThing answer is
/// lost; then the read-back is denied and the change fails.
#[test]
fn a_policy_short_of_one_resource_is_denied_when_the_retry_needs_it() {
    let emulator = faulty_emulator();
    let account = Account::new(&emulator);
    let fleet = FleetDir::root_example();
    let sensor = thing_arn(&account, "sensor-003");
    let short = |fleet: &FleetDir| {
        without(
            &printed_policy(&account, fleet, "apply"),
            "iot:DescribeThing",
            Some(&sensor),
        )
    };
    // The first plan looks each spec device up by name (none is the
    // fleet's yet), so it runs with the whole policy.
    hold(&account, &printed_policy(&account, &fleet, "apply"));
    apply_converges(&account, &fleet, &[]);
    hold(&account, &short(&fleet));
    let steady = run(account
        .fleetcert(fleet.path())
        .args(["plan", "--detailed-exitcode"]));
    assert_eq!(steady.code, 0, "{}\n{}", steady.stdout, steady.stderr);

    fleet.edit(
        "attributes: {line: B, model: x2}",
        "attributes: {line: C, model: x2}",
    );
    hold(&account, &short(&fleet));
    lose_first_update_of(&emulator, "sensor-003");
    let out = run(account
        .fleetcert(fleet.path())
        .args(["apply", "--auto-approve"]));
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    let denied = denials(&account);
    assert!(
        denied
            .iter()
            .any(|m| m.contains(&format!("iot:DescribeThing on resource: {sensor} "))),
        "{denied:#?}"
    );
    assert!(out.stdout.contains("sensor-003"), "{}", out.stdout);
}

/// And without one action: the printed apply policy minus
/// iot:DetachThingPrincipal cannot remove a device.
#[test]
fn a_policy_short_of_one_action_is_denied() {
    let account = Account::new(shared());
    let fleet = FleetDir::root_example();
    apply_ok(&account, fleet.path());
    fleet.edit(
        "  - name: gateway-02\n    validity: 90d\n    renew_before: 14d\n    policies: [telemetry, ota]\n",
        "",
    );
    hold(
        &account,
        &without(
            &printed_policy(&account, &fleet, "apply"),
            "iot:DetachThingPrincipal",
            None,
        ),
    );
    let out = run(account
        .fleetcert(fleet.path())
        .args(["apply", "--auto-approve"]));
    release(&account);
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains("AccessDeniedException"),
        "the failure names AWS's code: {}",
        out.stdout
    );
    let denied = denials(&account);
    assert!(
        denied.iter().any(|m| m.contains(&format!(
            "iot:DetachThingPrincipal on resource: {} ",
            thing_arn(&account, "gateway-02")
        ))),
        "{denied:#?}"
    );
}

/// With bundles in a secret store, the printed policies add the store's
/// listing (plan) and its actions on the fleet's names only (apply), and an
/// apply and a plan run through as the printed policies.
#[test]
fn a_secrets_manager_fleet_runs_as_its_printed_policies() {
    runs_as_printed_policies(
        "secrets_manager: {}",
        ":secret:fleetcert/vaulted/*\"]",
        "secretsmanager:PutSecretValue",
    );
}

#[test]
fn an_ssm_fleet_runs_as_its_printed_policies() {
    runs_as_printed_policies(
        "ssm: {}",
        ":parameter/fleetcert/vaulted/*\"]",
        "ssm:PutParameter",
    );
}

fn runs_as_printed_policies(output: &str, resource: &str, action: &str) {
    let account = Account::new(shared());
    let fleet = FleetDir::with_spec(
        &fleetcert::testkit::FleetBuilder::new("vaulted")
            .validity("365d", "30d")
            .output(output)
            .device("dev-1")
            .device("dev-2")
            .yaml(),
    );
    let apply = printed_policy(&account, &fleet, "apply");
    let text = apply.to_string();
    assert!(
        text.contains(&format!(":{}{resource}", account.id)),
        "{apply:#}"
    );
    assert!(text.contains(action), "{apply:#}");
    hold(&account, &apply);
    apply_converges(&account, &fleet, &[]);
    plans_clean_as_the_printed_plan_policy(&account, &fleet);
    release(&account);
}
