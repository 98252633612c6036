//! The policy review end to end: `validate --strict`, `allow_findings`, a
//! `strict: true` spec refused by plan and apply before any AWS call, and a
//! real plan of a policy change in Markdown, text and JSON.

use serde_json::Value;

use crate::fleet_dir::{FleetDir, apply_ok, run};
use crate::harness::{Account, shared};

const SUBSCRIBE_ANYTHING: &str =
    r#"{"Effect": "Allow", "Action": "iot:Subscribe", "Resource": "*"}"#;
const SUBSCRIBE_OWN: &str = r#"{"Effect": "Allow", "Action": "iot:Subscribe", "Resource": "arn:aws:iot:*:*:topicfilter/factory-a/${iot:Connection.Thing.ThingName}/*"}"#;

/// The root example's telemetry policy with one more statement.
fn telemetry_with(fleet: &FleetDir, statement: &str) {
    let path = fleet.path().join("policies/telemetry.json");
    let mut document: Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    document["Statement"]
        .as_array_mut()
        .unwrap()
        .push(serde_json::from_str(statement).unwrap());
    std::fs::write(&path, serde_json::to_string_pretty(&document).unwrap()).unwrap();
}

fn validate(fleet: &FleetDir, args: &[&str]) -> crate::fleet_dir::Run {
    run(std::process::Command::new(env!("CARGO_BIN_EXE_fleetcert"))
        .arg("validate")
        .args(args)
        .current_dir(fleet.path())
        .env_remove("GITHUB_ACTIONS")
        .env("NO_COLOR", "1"))
}

#[test]
fn in_github_actions_findings_are_annotations_on_the_policy_file() {
    let fleet = FleetDir::root_example();
    telemetry_with(&fleet, SUBSCRIBE_ANYTHING);
    let annotated = |strict: bool| {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_fleetcert"));
        command
            .arg("validate")
            .current_dir(fleet.path())
            .env("GITHUB_ACTIONS", "true")
            .env("GITHUB_WORKSPACE", fleet.path())
            .env("NO_COLOR", "1");
        if strict {
            command.arg("--strict");
        }
        run(&mut command)
    };
    let expected = "file=policies/telemetry.json,title=fleetcert WILDCARD_RESOURCE::policy telemetry, \
                    statement 3 (critical): `*` applies the statement";
    let warned = annotated(false);
    assert_eq!(warned.code, 0);
    assert!(
        warned.stdout.contains(&format!("::warning {expected}")),
        "{}",
        warned.stdout
    );
    let refused = annotated(true);
    assert_eq!(refused.code, 1);
    assert!(
        refused.stdout.contains(&format!("::error {expected}")),
        "{}",
        refused.stdout
    );
    // Without GitHub, no workflow command.
    assert!(!validate(&fleet, &[]).stdout.contains("::warning"));
}

#[test]
fn validate_strict_refuses_a_subscribe_on_everything_and_passes_once_bound() {
    let fleet = FleetDir::root_example();
    telemetry_with(&fleet, SUBSCRIBE_ANYTHING);
    let plain = validate(&fleet, &[]);
    assert_eq!(plain.code, 0, "{}", plain.stderr);
    assert!(
        plain
            .stdout
            .contains("3. Allow subscribe on every resource")
            && plain
                .stdout
                .contains("critical WILDCARD_RESOURCE (statement 3)"),
        "{}",
        plain.stdout
    );
    let strict = validate(&fleet, &["--strict"]);
    assert_eq!(strict.code, 1, "{}", strict.stdout);
    assert!(
        strict
            .stderr
            .contains("strict mode refuses 1 policy finding")
            && strict
                .stderr
                .contains("policy telemetry: critical WILDCARD_RESOURCE (statement 3)"),
        "{}",
        strict.stderr
    );

    let fleet = FleetDir::root_example();
    telemetry_with(&fleet, SUBSCRIBE_OWN);
    let bound = validate(&fleet, &["--strict"]);
    assert_eq!(bound.code, 0, "{}", bound.stderr);
    assert!(
        bound
            .stdout
            .contains("3. Allow subscribe on topic filter factory-a/<thing name>/*"),
        "{}",
        bound.stdout
    );
}

#[test]
fn allow_findings_accepts_a_reviewed_finding_and_names_only_known_codes() {
    let fleet = FleetDir::root_example();
    telemetry_with(&fleet, SUBSCRIBE_ANYTHING);
    fleet.edit(
        "    document: policies/telemetry.json\n",
        "    document: policies/telemetry.json\n    allow_findings: [WILDCARD_RESOURCE, DEAD_ALLOW]\n",
    );
    let accepted = validate(&fleet, &["--strict"]);
    assert_eq!(accepted.code, 0, "{}", accepted.stderr);
    assert!(
        accepted
            .stdout
            .contains("accepted critical WILDCARD_RESOURCE (statement 3)")
            && accepted.stdout.contains(
                "allow_findings accepts DEAD_ALLOW, which the policy does not have: remove it"
            ),
        "{}",
        accepted.stdout
    );

    fleet.edit(
        "[WILDCARD_RESOURCE, DEAD_ALLOW]",
        "[WILDCARD_RESOURCE, NOT_A_CODE]",
    );
    let unknown = validate(&fleet, &[]);
    assert_eq!(unknown.code, 1, "{}", unknown.stdout);
    assert!(
        unknown.stderr.contains("unknown finding code `NOT_A_CODE`")
            && unknown.stderr.contains("fleet.yaml:36:41")
            && unknown.stderr.contains("TOPIC_NOT_BOUND"),
        "{}",
        unknown.stderr
    );
}

#[test]
fn a_strict_spec_is_refused_by_validate_plan_and_apply_before_any_aws_call() {
    let account = Account::new(shared());
    let fleet = FleetDir::root_example();
    telemetry_with(&fleet, SUBSCRIBE_ANYTHING);
    fleet.edit("version: 1\n", "version: 1\nstrict: true\n");
    assert_eq!(validate(&fleet, &[]).code, 1);
    for args in [&["plan"][..], &["apply", "--auto-approve"][..]] {
        let out = run(account.fleetcert(fleet.path()).args(args));
        assert_eq!(out.code, 1, "{args:?}: {}{}", out.stdout, out.stderr);
        assert!(
            out.stderr.contains("strict mode refuses 1 policy finding"),
            "{args:?}: {}",
            out.stderr
        );
    }
    assert!(account.counters().is_empty(), "{:?}", account.counters());
}

/// An applied fleet, then a policy change that adds a topic filter not bound
/// to the thing name and gives sensor-003 the ota policy.
fn policy_change(account: &Account) -> FleetDir {
    let fleet = FleetDir::root_example();
    apply_ok(account, fleet.path());
    telemetry_with(
        &fleet,
        r#"{"Effect": "Allow", "Action": "iot:Subscribe", "Resource": "arn:aws:iot:*:*:topicfilter/factory-a/*"}"#,
    );
    fleet.edit(
        "  - name: sensor-003\n",
        "  - name: sensor-003\n    policies: [telemetry, ota]\n",
    );
    fleet
}

#[test]
fn the_plan_of_a_policy_change_names_the_devices_and_the_findings() {
    let account = Account::new(shared());
    let fleet = policy_change(&account);
    let at = ["--at", "2026-12-02T00:00:00Z"];
    let markdown = run(account
        .fleetcert(fleet.path())
        .args(["plan", "--format", "markdown"])
        .args(at))
    .success();
    let text = &markdown.stdout;
    assert!(
        text.starts_with("## fleetcert plan: `factory-a`\n\n> [!WARNING]\n"),
        "{text}"
    );
    assert!(
        text.contains("`telemetry` statement 3: **high** `TOPIC_NOT_BOUND`"),
        "{text}"
    );
    assert!(text.contains("| 5 devices | none | none |"), "{text}");
    assert!(text.contains("| 3 devices | sensor-003 | none |"), "{text}");
    // GitHub drops what looks like an HTML tag: `<thing name>` is escaped
    // outside code spans.
    assert!(
        text.contains("1. Allow subscribe on topic filter factory-a/&lt;thing name&gt;/ota"),
        "{text}"
    );
    snapshot!(
        "policy_change_markdown",
        text,
        [(r"\b[0-9a-f]{10,64}\b", "[id]")]
    );

    let plain = run(account.fleetcert(fleet.path()).arg("plan").args(at)).success();
    assert!(
        plain.stdout.contains("Policy review:")
            && plain
                .stdout
                .contains("# policy.ota: unchanged document, attachments change; carried by 3 devices; gains it: sensor-003; loses it: none")
            && plain.stdout.contains("# policy.telemetry: updated in place; carried by 5 devices"),
        "{}",
        plain.stdout
    );

    let json = run(account
        .fleetcert(fleet.path())
        .args(["plan", "--format", "json"])
        .args(at))
    .success();
    let value: Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(value["format_version"], "1.2");
    let reviews = value["policy_reviews"].as_array().unwrap();
    let names: Vec<&str> = reviews
        .iter()
        .map(|r| r["policy"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["ota", "telemetry"]);
    assert_eq!(reviews[0]["action"], Value::Null);
    assert_eq!(reviews[0]["gains"], serde_json::json!(["sensor-003"]));
    assert_eq!(reviews[1]["action"], "update");
    assert_eq!(reviews[1]["findings"][0]["code"], "TOPIC_NOT_BOUND");
    assert_eq!(reviews[1]["findings"][0]["accepted"], false);
}
