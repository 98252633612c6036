//! Saved plans: `plan --out PLAN` then `apply PLAN`, which applies exactly
//! what was reviewed, or refuses (exit 1, saying what changed) when AWS, the
//! spec or a file it reads moved; and refuses files that are not plans.

use aws_sdk_iot::types::AttributePayload;

use crate::emulator_flow::p256_csr;
use crate::fleet_dir::{FleetDir, apply_ok, run};
use crate::harness::{Account, shared};

fn things(names: &[String], prefix: &str) -> Vec<String> {
    names
        .iter()
        .filter(|n| n.starts_with(prefix))
        .cloned()
        .collect()
}

async fn thing_names(account: &Account<'_>) -> Vec<String> {
    let iot = account.iot().await;
    let out = iot.list_things().max_results(250).send().await.unwrap();
    out.things()
        .iter()
        .filter_map(|t| t.thing_name().map(str::to_string))
        .collect()
}

#[tokio::test]
async fn a_saved_plan_applies_when_nothing_moved_and_converges() {
    let account = Account::new(shared());
    let fleet = FleetDir::root_example();
    let planned = run(account.fleetcert(fleet.path()).args([
        "plan",
        "--out",
        "fleet.plan",
        "--detailed-exitcode",
    ]));
    assert_eq!(planned.code, 2, "{}{}", planned.stdout, planned.stderr);
    let saved = std::fs::read_to_string(fleet.path().join("fleet.plan")).unwrap();
    assert!(saved.starts_with(&format!(
        "{{\"kind\":\"fleetcert-plan\",\"format_version\":{},",
        fleetcert::planfile::FORMAT_VERSION
    )));
    assert!(!saved.contains("PRIVATE KEY"), "a plan file holds no key");
    // Nothing was created by planning.
    assert!(things(&thing_names(&account).await, "sensor-").is_empty());

    let applied = run(account
        .fleetcert(fleet.path())
        .args(["apply", "fleet.plan"]))
    .success();
    assert!(
        applied.stdout.contains("Apply complete"),
        "{}",
        applied.stdout
    );
    let again = run(account
        .fleetcert(fleet.path())
        .args(["plan", "--detailed-exitcode"]));
    assert_eq!(again.code, 0, "{}{}", again.stdout, again.stderr);
    assert!(again.stdout.contains("No changes."), "{}", again.stdout);
    // Every device has its thing; the lock thing is no device.
    let names = thing_names(&account).await;
    assert_eq!(things(&names, "sensor-").len(), 3, "{names:?}");
    assert!(
        names.contains(&"fleetcert-lock-factory-a".to_string()),
        "{names:?}"
    );
    let drift = run(account.fleetcert(fleet.path()).args(["drift"]));
    assert_eq!(drift.code, 0, "{}{}", drift.stdout, drift.stderr);
    // A plan applied once is stale afterwards: AWS moved (by its own apply).
    let twice = run(account
        .fleetcert(fleet.path())
        .args(["apply", "fleet.plan"]));
    assert_eq!(twice.code, 1, "{}{}", twice.stdout, twice.stderr);
    assert!(twice.stderr.contains("is stale"), "{}", twice.stderr);
}

#[tokio::test]
async fn a_saved_plan_is_refused_when_aws_changed_and_names_the_change() {
    let account = Account::new(shared());
    let fleet = FleetDir::root_example();
    apply_ok(&account, fleet.path());
    fleet.edit(
        "attributes: {line: B, model: x2}",
        "attributes: {line: C, model: x2}",
    );
    run(account
        .fleetcert(fleet.path())
        .args(["plan", "--out", "p.json"]))
    .success();

    // Someone edits a thing by hand between review and apply.
    let iot = account.iot().await;
    iot.update_thing()
        .thing_name("sensor-001")
        .attribute_payload(
            AttributePayload::builder()
                .attributes("line", "Z")
                .merge(true)
                .build(),
        )
        .send()
        .await
        .unwrap();

    let refused = run(account.fleetcert(fleet.path()).args(["apply", "p.json"]));
    assert_eq!(refused.code, 1, "{}{}", refused.stdout, refused.stderr);
    assert!(
        refused
            .stderr
            .contains("saved plan p.json is stale: AWS changed"),
        "{}",
        refused.stderr
    );
    assert!(
        refused
            .stderr
            .contains("thing sensor-001: attribute line: \"A\" -> \"Z\""),
        "{}",
        refused.stderr
    );
    // Nothing of the plan was applied.
    let thing = iot
        .describe_thing()
        .thing_name("sensor-003")
        .send()
        .await
        .unwrap();
    assert_eq!(
        thing.attributes().unwrap().get("line").map(String::as_str),
        Some("B")
    );
    // The lock was released: a new plan applies.
    run(account
        .fleetcert(fleet.path())
        .args(["plan", "--out", "p.json"]))
    .success();
    run(account.fleetcert(fleet.path()).args(["apply", "p.json"])).success();
    let thing = iot
        .describe_thing()
        .thing_name("sensor-003")
        .send()
        .await
        .unwrap();
    assert_eq!(
        thing.attributes().unwrap().get("line").map(String::as_str),
        Some("C")
    );
}

#[tokio::test]
async fn a_saved_plan_is_refused_when_the_spec_or_a_csr_changed() {
    let account = Account::new(shared());
    let fleet = FleetDir::root_example();
    run(account
        .fleetcert(fleet.path())
        .args(["plan", "--out", "p1"]))
    .success();
    fleet.write("csr/sensor-001.csr", &p256_csr("sensor-001"));
    let refused = run(account.fleetcert(fleet.path()).args(["apply", "p1"]));
    assert_eq!(refused.code, 1, "{}{}", refused.stdout, refused.stderr);
    assert!(
        refused
            .stderr
            .contains("the spec changed since the plan was made"),
        "{}",
        refused.stderr
    );
    assert!(
        refused.stderr.contains("csr/sensor-001.csr changed"),
        "{}",
        refused.stderr
    );

    run(account
        .fleetcert(fleet.path())
        .args(["plan", "--out", "p2"]))
    .success();
    fleet.edit(
        "validity: 90d                  # gateways",
        "validity: 60d                  # gateways",
    );
    let refused = run(account.fleetcert(fleet.path()).args(["apply", "p2"]));
    assert_eq!(refused.code, 1, "{}{}", refused.stdout, refused.stderr);
    assert!(
        refused.stderr.contains("fleet.yaml changed"),
        "{}",
        refused.stderr
    );
    // Refused before anything was created.
    assert!(things(&thing_names(&account).await, "sensor-").is_empty());
}

#[test]
fn files_that_are_not_plans_are_refused_clearly() {
    let account = Account::new(shared());
    let fleet = FleetDir::root_example();
    run(account
        .fleetcert(fleet.path())
        .args(["plan", "--out", "good"]))
    .success();
    let good = std::fs::read_to_string(fleet.path().join("good")).unwrap();
    fleet.write("text", "fleet: factory-a\n");
    fleet.write("half", &good[..good.len() / 2]);
    fleet.write(
        "v99",
        &good.replacen(
            &format!(
                "\"format_version\":{},",
                fleetcert::planfile::FORMAT_VERSION
            ),
            "\"format_version\":99,",
            1,
        ),
    );
    fleet.write("edited", &good.replacen("factory-a", "factory-b", 1));
    for (file, message) in [
        ("text", "text is not a fleetcert plan file"),
        ("half", "plan file half is truncated"),
        (
            "v99",
            "plan file v99 has format version 99, which this fleetcert",
        ),
        ("edited", "plan file edited is damaged or was edited"),
        ("missing", "cannot read plan file missing"),
    ] {
        let out = run(account.fleetcert(fleet.path()).args(["apply", file]));
        assert_eq!(out.code, 1, "{file}: {}{}", out.stdout, out.stderr);
        assert!(out.stderr.contains(message), "{file}: {}", out.stderr);
    }
}

/// A plan file edited by someone who also recomputed its checksum (it is not
/// keyed, so anyone can) is refused: apply carries out only what fleetcert
/// derives from the reviewed spec, not the operations in the file. A plan
/// file that names a spec outside the working directory is refused too.
#[tokio::test]
async fn an_edited_plan_with_a_valid_checksum_applies_nothing() {
    let account = Account::new(shared());
    let fleet = FleetDir::root_example();
    run(account
        .fleetcert(fleet.path())
        .args(["plan", "--out", "good.plan"]))
    .success();
    std::fs::copy(
        fleet.path().join("good.plan"),
        fleet.path().join("edited.plan"),
    )
    .unwrap();
    crate::attacks::widen_the_policy(&fleet.path().join("edited.plan"));
    let mut elsewhere = fleetcert::planfile::read(&fleet.path().join("good.plan")).unwrap();
    elsewhere.spec.path = "/proc/self/environ".into();
    fleetcert::planfile::write(&fleet.path().join("elsewhere.plan"), &elsewhere).unwrap();

    let refused = run(account
        .fleetcert(fleet.path())
        .args(["apply", "edited.plan"]));
    assert_eq!(refused.code, 1, "{}{}", refused.stdout, refused.stderr);
    assert!(
        refused
            .stderr
            .contains("saved plan edited.plan is not the plan fleetcert derives")
            && refused.stderr.contains("the operations of policy."),
        "{}",
        refused.stderr
    );
    let away = run(account
        .fleetcert(fleet.path())
        .args(["apply", "elsewhere.plan"]));
    assert_eq!(away.code, 1, "{}{}", away.stdout, away.stderr);
    assert!(
        away.stderr
            .contains("which is not a relative path inside this directory"),
        "{}",
        away.stderr
    );
    // Nothing but the lock was written.
    let writes: Vec<_> = account
        .writes()
        .into_iter()
        .filter(|(_, path)| !path.contains("fleetcert-lock-"))
        .collect();
    assert!(writes.is_empty(), "{writes:?}");
    // The honest plan still applies.
    run(account.fleetcert(fleet.path()).args(["apply", "good.plan"])).success();
}
