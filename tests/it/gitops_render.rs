//! The JSON and Markdown plans: snapshots, the JSON Schema in
//! schema/plan.schema.json checked against real output, and the Markdown
//! comment's GitHub size limit.

use fleetcert::plan::{
    Action, Change, Detail, Operation, Phase, Plan, PlanCa, Reason, ReasonCode, Slot,
};
use fleetcert::render::{json, markdown};
use serde_json::Value;

use crate::fleet_dir::{FleetDir, run};
use crate::harness::{Account, repo_root, shared};

fn validator(file: &str) -> jsonschema::Validator {
    let text = std::fs::read_to_string(repo_root().join("schema").join(file)).unwrap();
    jsonschema::validator_for(&serde_json::from_str::<Value>(&text).unwrap()).unwrap()
}

#[track_caller]
fn assert_valid(validator: &jsonschema::Validator, value: &Value) {
    let errors: Vec<String> = validator
        .iter_errors(value)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{errors:#?}\n{value:#}");
}

fn field(name: &str, before: Option<&str>, after: Option<&str>) -> Detail {
    Detail::Field {
        name: name.into(),
        before: before.map(str::to_string),
        after: after.map(str::to_string),
    }
}

/// A plan with one of each interesting kind of change, built directly.
fn sample_plan() -> Plan {
    Plan {
        fleet: "factory-a".into(),
        at: 1_800_000_000,
        ca: PlanCa {
            arn: Slot::Produced,
            certificate: Slot::Produced,
        },
        changes: vec![
            Change {
                address: "policy.telemetry".parse().unwrap(),
                device: None,
                action: Action::Update,
                phase: Phase::Policies,
                reason: Reason::new(
                    ReasonCode::PolicyDocumentChanged,
                    "the document of policy telemetry (default version 2) differs from the spec",
                ),
                details: vec![Detail::PolicyDocument {
                    before: Some("{\n  \"Action\": \"iot:Publish\"\n}".into()),
                    after: "{\n  \"Action\": \"iot:Connect\"\n}".into(),
                }],
                operations: vec![Operation::CreatePolicyVersion {
                    name: "telemetry".into(),
                    document: "{}".into(),
                }],
            },
            Change {
                address: "device.sensor-001.thing".parse().unwrap(),
                device: Some("sensor-001".into()),
                action: Action::Update,
                phase: Phase::Devices,
                reason: Reason::new(
                    ReasonCode::ThingAttributesDiffer,
                    "thing sensor-001's attributes or type differ from the spec",
                ),
                details: vec![
                    field("attributes.line", Some("A"), Some("B")),
                    field("attributes.model", Some("x1"), None),
                ],
                operations: vec![Operation::UpdateThing {
                    name: "sensor-001".into(),
                    thing_type: None,
                    attributes: Default::default(),
                    expected_version: 3,
                }],
            },
            Change {
                address: "device.gateway-01.certificate".parse().unwrap(),
                device: Some("gateway-01".into()),
                action: Action::CreateThenRetire,
                phase: Phase::Devices,
                reason: Reason::new(
                    ReasonCode::CertificateExpiring,
                    "certificate 0123456789 expires 2027-01-03 00:00 UTC, within renew_before 14d",
                ),
                details: vec![
                    field("replaces", Some("0123456789"), None),
                    field("key", None, Some("generated P-256 key")),
                ],
                operations: vec![Operation::RegisterCertificate {
                    device: "gateway-01".into(),
                }],
            },
            Change {
                address: "device.old-7.thing".parse().unwrap(),
                device: Some("old-7".into()),
                action: Action::Delete,
                phase: Phase::Cleanup,
                reason: Reason::new(
                    ReasonCode::DeviceRemoved,
                    "device old-7 is no longer in the spec (lifecycle.delete_things: true)",
                ),
                details: vec![],
                operations: vec![Operation::DeleteThing {
                    name: "old-7".into(),
                }],
            },
        ],
        warnings: vec!["device sensor-009: certificate abc stays ACTIVE until 2027-01-10".into()],
        max_destructive_changes: 10,
        guard: vec![],
        policy_reviews: vec![],
        rotation: Default::default(),
    }
}

#[test]
fn json_plan_snapshot_matches_its_schema() {
    let text = json::plan(&sample_plan());
    let value: Value = serde_json::from_str(&text).unwrap();
    assert_valid(&validator("plan.schema.json"), &value);
    assert_eq!(value["format_version"], "1.2");
    assert_eq!(
        value["changes"][2]["actions"],
        serde_json::json!(["create", "retire"])
    );
    assert_eq!(value["changes"][3]["after"], Value::Null);
    snapshot!("json_plan", text);
}

#[test]
fn markdown_plan_snapshot() {
    let text = markdown::plan(&sample_plan());
    assert!(text.contains("```diff\n"), "{text}");
    assert!(text.contains("-   \"Action\": \"iot:Publish\""), "{text}");
    assert!(text.contains("+   \"Action\": \"iot:Connect\""), "{text}");
    assert_eq!(
        text.matches("<details>").count(),
        text.matches("</details>").count()
    );
    snapshot!("markdown_plan", text);
}

fn big_plan(devices: usize) -> Plan {
    let mut changes = Vec::new();
    for n in 0..devices {
        let device = format!("sensor-{n:05}");
        changes.push(Change {
            address: format!("device.{device}.thing").parse().unwrap(),
            device: Some(device.clone()),
            action: Action::Create,
            phase: Phase::Devices,
            reason: Reason::new(
                ReasonCode::ThingMissing,
                format!("thing {device} does not exist"),
            ),
            details: vec![field("attributes.line", None, Some("A"))],
            operations: vec![],
        });
        changes.push(Change {
            address: format!("device.{device}.certificate").parse().unwrap(),
            device: Some(device.clone()),
            action: Action::Create,
            phase: Phase::Devices,
            reason: Reason::new(
                ReasonCode::CertificateMissing,
                format!("device {device} has no active certificate"),
            ),
            details: vec![field("validity", None, Some("365d"))],
            operations: vec![],
        });
    }
    Plan {
        fleet: "large".into(),
        at: 1_800_000_000,
        ca: PlanCa {
            arn: Slot::Produced,
            certificate: Slot::Produced,
        },
        changes,
        warnings: vec![],
        max_destructive_changes: 10,
        guard: vec![],
        policy_reviews: vec![],
        rotation: Default::default(),
    }
}

#[test]
fn a_10000_change_markdown_plan_stays_under_githubs_limit() {
    let plan = big_plan(5_000);
    assert_eq!(plan.changes.len(), 10_000);
    let text = markdown::plan(&plan);
    let chars = text.chars().count();
    assert!(chars < markdown::GITHUB_COMMENT_LIMIT, "{chars} characters");
    // Cut between sections, never inside one.
    assert_eq!(
        text.matches("<details>").count(),
        text.matches("</details>").count()
    );
    // The summary table is there, and the note says how much is missing.
    assert!(text.contains("| 🟢 add | 10000 |"), "{}", &text[..500]);
    let shown = text.matches("<details>").count();
    eprintln!("10000-change markdown plan: {chars} characters, {shown} of 5000 sections shown");
    let note = text
        .lines()
        .find(|l| l.contains("Truncated"))
        .expect("a truncation note");
    assert!(
        note.contains(&format!(
            "{} of 5000 sections ({} changes",
            5000 - shown,
            2 * (5000 - shown)
        )),
        "{note}"
    );
    // Small plans are not truncated.
    assert!(!markdown::plan(&big_plan(3)).contains("Truncated"));
}

#[test]
fn real_plan_output_matches_the_schema() {
    let account = Account::new(shared());
    let fleet = FleetDir::root_example();
    let out = run(account.fleetcert(fleet.path()).args([
        "plan",
        "--format",
        "json",
        "--detailed-exitcode",
    ]));
    assert_eq!(out.code, 2, "{}{}", out.stdout, out.stderr);
    let value: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_valid(&validator("plan.schema.json"), &value);
    let addresses: Vec<&str> = value["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["address"].as_str().unwrap())
        .collect();
    assert!(
        addresses.contains(&"device.sensor-001.certificate"),
        "{addresses:?}"
    );
    assert_eq!(
        value["summary"]["total"].as_u64().unwrap() as usize,
        addresses.len()
    );
    // Same spec, same live state: the same JSON (apart from nothing: planned_at is --at).
    let at = ["--at", "2030-01-01T00:00:00Z"];
    let a = run(account
        .fleetcert(fleet.path())
        .args(["plan", "--format", "json"])
        .args(at))
    .success();
    let b = run(account
        .fleetcert(fleet.path())
        .args(["plan", "--format", "json"])
        .args(at))
    .success();
    assert_eq!(a.stdout, b.stdout);
    let md = run(account
        .fleetcert(fleet.path())
        .args(["plan", "--format", "markdown"])
        .args(at))
    .success();
    assert!(
        md.stdout.starts_with("## fleetcert plan: `factory-a`"),
        "{}",
        md.stdout
    );
    assert!(md.stdout.contains("```diff"), "{}", md.stdout);
}

#[test]
fn usage_errors_exit_1_not_2() {
    let account = Account::new(shared());
    let fleet = FleetDir::root_example();
    let out = run(account.fleetcert(fleet.path()).args([
        "plan",
        "--detailed-exitcode",
        "--no-such-flag",
    ]));
    assert_eq!(out.code, 1, "{}", out.stderr);
    let out = run(account
        .fleetcert(fleet.path())
        .args(["plan", "--format", "yaml"]));
    assert_eq!(out.code, 1, "{}", out.stderr);
    let out = run(account
        .fleetcert(fleet.path())
        .args(["apply", "--lock-timeout", "5 minutes"]));
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(out.stderr.contains("--lock-timeout"), "{}", out.stderr);
}
