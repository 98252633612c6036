//! Changing the spec gives a plan with exactly those changes, with reasons
//! and policy diffs, and apply converges again: AWS, read back with raw SDK
//! calls, holds the changed spec, and a plan that reads every attachment
//! from AWS (`--refresh full`) finds nothing left to do.

use crate::aws_check;
use crate::fleet_dir::{FleetDir, apply_ok, run};
use crate::harness::{Account, shared};

#[tokio::test]
async fn each_spec_change_is_planned_exactly_and_converges() {
    let account = Account::new(shared());
    let fleet = FleetDir::root_example();
    apply_ok(&account, fleet.path());

    // An attribute, a policy document, a device's policy list, a new device.
    fleet.edit(
        "    attributes: {line: A, model: x1}\n  - name: sensor-002",
        "    attributes: {line: C, model: x1}\n  - name: sensor-002",
    );
    let telemetry = std::fs::read_to_string(fleet.path().join("policies/telemetry.json")).unwrap();
    let mut document: serde_json::Value = serde_json::from_str(&telemetry).unwrap();
    document["Statement"].as_array_mut().unwrap().push(serde_json::json!({
        "Effect": "Allow",
        "Action": "iot:Subscribe",
        "Resource": "arn:aws:iot:*:*:topicfilter/factory-a/${iot:Connection.Thing.ThingName}/config"
    }));
    fleet.write(
        "policies/telemetry.json",
        &serde_json::to_string_pretty(&document).unwrap(),
    );
    fleet.edit(
        "  - name: sensor-002\n    csr: csr/sensor-002.csr\n",
        "  - name: sensor-002\n    csr: csr/sensor-002.csr\n    policies: [telemetry, ota]\n",
    );
    fleet.edit(
        "  - name: gateway-01\n",
        "  - name: sensor-004\n    attributes: {line: C}\n  - name: gateway-01\n",
    );

    let plan = run(account
        .fleetcert(fleet.path())
        .args(["plan", "--detailed-exitcode"]));
    assert_eq!(
        plan.code, 2,
        "changes give exit code 2:\n{}{}",
        plan.stdout, plan.stderr
    );
    snapshot!(
        "spec_changes_plan",
        plan.stdout,
        [(r"\b[0-9a-f]{10}\b", "[cert-id]")]
    );

    apply_ok(&account, fleet.path());
    // Converged in AWS itself, not in what fleetcert recorded on the things.
    let spec = fleetcert::spec::load(&fleet.spec_path()).unwrap();
    assert_eq!(
        spec.devices["sensor-002"].policies,
        ["ota", "telemetry"].map(String::from).into(),
        "the edited spec"
    );
    let iot = account.iot().await;
    let differences = aws_check::spec_differences(&iot, &spec).await;
    assert!(differences.is_empty(), "{differences:#?}");
    let again = run(account.fleetcert(fleet.path()).args([
        "plan",
        "--detailed-exitcode",
        "--refresh",
        "full",
    ]))
    .success();
    assert!(again.stdout.contains("No changes."), "{}", again.stdout);
}
