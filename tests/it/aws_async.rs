//! Real AWS is eventually consistent: detachments propagate seconds (a
//! thing) to minutes (a policy) after they are answered. Against an emulator
//! whose thing detachments take 3 s and policy detachments 20 s, removals
//! must still converge in one apply, and a fleet policy detached by hand must
//! be seen by the default plan.

use std::path::Path;

use fleetcert::testkit::FleetBuilder;

use crate::fleet_dir::{apply_ok, run};
use crate::harness::{Account, Emulator, shared};

const CONNECT: &str = "[{Effect: Allow, Action: [\"iot:Connect\"], Resource: \"arn:aws:iot:*:*:client/${iot:Connection.Thing.ThingName}\"}]";
const PUBLISH: &str = "[{Effect: Allow, Action: [\"iot:Publish\"], Resource: \"arn:aws:iot:*:*:topic/t/${iot:Connection.Thing.ThingName}\"}]";

fn fleet(devices: usize, policies: &[&str]) -> FleetBuilder {
    let mut fleet = FleetBuilder::new("slow")
        .validity("365d", "30d")
        .lifecycle("on_removal: revoke")
        .lifecycle("delete_things: true")
        .lifecycle("delete_certificates: true")
        .default(&format!("policies: [{}]", policies.join(", ")))
        .policy("connect", CONNECT);
    if policies.contains(&"publish") {
        fleet = fleet.policy("publish", PUBLISH);
    }
    for i in 0..devices {
        fleet = fleet.device(&format!("dev-{i:02}"));
    }
    fleet
}

fn plan_is_empty(account: &Account<'_>, dir: &Path) {
    let again = run(account.fleetcert(dir).args(["plan", "--detailed-exitcode"]));
    assert_eq!(again.code, 0, "{}{}", again.stdout, again.stderr);
}

#[test]
fn removals_converge_in_one_apply_while_detachments_propagate() {
    let emulator = Emulator::start(&[
        "--thing-detach-seconds",
        "3",
        "--policy-detach-seconds",
        "20",
    ]);
    let account = Account::new(&emulator);
    let dir = tempfile::tempdir().unwrap();
    fleet(52, &["connect", "publish"]).write(dir.path());
    apply_ok(&account, dir.path());

    // 50 devices leave: each is detached, revoked and deleted, thing and
    // certificate, while the detachments are still propagating.
    fleet(2, &["connect", "publish"]).write(dir.path());
    let removed =
        run(account
            .fleetcert(dir.path())
            .args(["apply", "--auto-approve", "--allow-destructive"]))
        .success();
    assert!(
        removed
            .stderr
            .contains("waiting for thing detachments to propagate"),
        "{}",
        removed.stderr
    );
    plan_is_empty(&account, dir.path());
    let deleted = account
        .writes()
        .iter()
        .filter(|(op, _)| op == "iot:DeleteThing")
        .count();
    assert!(deleted >= 50, "{deleted} DeleteThing requests");

    // A policy leaves: detached from the two devices and deleted, which
    // AWS refuses until the detachments have propagated.
    fleet(2, &["connect"]).write(dir.path());
    let dropped = apply_ok(&account, dir.path());
    assert!(
        dropped
            .stderr
            .contains("waiting for policy detachments to propagate"),
        "{}",
        dropped.stderr
    );
    plan_is_empty(&account, dir.path());
}

#[tokio::test]
async fn a_fleet_policy_detached_by_hand_is_seen_repaired_and_makes_a_saved_plan_stale() {
    let account = Account::new(shared());
    let dir = tempfile::tempdir().unwrap();
    fleet(2, &["connect"]).write(dir.path());
    apply_ok(&account, dir.path());
    run(account
        .fleetcert(dir.path())
        .args(["plan", "--out", "before.plan"]))
    .success();

    let iot = account.iot().await;
    let certs = iot
        .list_targets_for_policy()
        .policy_name("connect")
        .send()
        .await
        .unwrap();
    let detached = certs.targets()[0].clone();
    iot.detach_policy()
        .policy_name("connect")
        .target(&detached)
        .send()
        .await
        .unwrap();
    crate::harness::wait_for_detachments();

    let plan = run(account
        .fleetcert(dir.path())
        .args(["plan", "--detailed-exitcode"]));
    assert_eq!(plan.code, 2, "{}{}", plan.stdout, plan.stderr);
    assert!(plan.stdout.contains("connect"), "{}", plan.stdout);

    let stale = run(account.fleetcert(dir.path()).args(["apply", "before.plan"]));
    assert_eq!(stale.code, 1, "{}{}", stale.stdout, stale.stderr);
    assert!(
        stale.stderr.contains("AWS changed since the plan was made")
            && stale.stderr.contains("connect"),
        "{}",
        stale.stderr
    );

    apply_ok(&account, dir.path());
    let again = iot
        .list_targets_for_policy()
        .policy_name("connect")
        .send()
        .await
        .unwrap();
    assert!(again.targets().contains(&detached), "{:?}", again.targets());
    let drift = run(account.fleetcert(dir.path()).arg("drift"));
    assert_eq!(drift.code, 0, "{}{}", drift.stdout, drift.stderr);
}

/// RevokeCertificate answers ConcurrentModificationException ("A previous
/// update to your private CA is still ongoing") and RequestInProgressException
/// ("Your request is already in progress") while PCA is busy: retried, never
/// reported as a failure.
#[test]
fn a_busy_revocation_is_retried_until_it_lands() {
    let emulator = Emulator::start(&[]);
    let account = Account::new(&emulator);
    let dir = tempfile::tempdir().unwrap();
    fleet(2, &["connect"]).write(dir.path());
    apply_ok(&account, dir.path());
    let busy = |code: &str| {
        serde_json::json!({
            "operation": "acm-pca:RevokeCertificate", "code": code,
            "message": "busy (injected)", "times": 1,
        })
    };
    emulator.control(
        "POST",
        "config",
        Some(serde_json::json!({"fail_requests": [
            busy("ConcurrentModificationException"),
            busy("RequestInProgressException"),
        ]})),
    );
    fleet(1, &["connect"]).write(dir.path());
    apply_ok(&account, dir.path());
    let config = emulator.control("GET", "config", None);
    let failed: Vec<u64> = config["fail_requests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["failed"].as_u64().unwrap())
        .collect();
    assert_eq!(failed, [1, 1], "{config}");
    let revoked = emulator.control("GET", "pca/revocations", None);
    let mine = revoked
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["account"] == account.id.as_str())
        .count();
    assert_eq!(mine, 1, "{revoked}");
    plan_is_empty(&account, dir.path());
}
