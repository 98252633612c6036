//! `fleetcert drift`: each kind of drift made with raw SDK calls, reported
//! with exit 2 and told apart (changed in AWS, auto-registered, not applied);
//! after `apply`, exit 0.

use aws_sdk_acmpca::types::{Validity, ValidityPeriodType};
use aws_sdk_iot::types::{AttributePayload, CertificateStatus};
use serde_json::Value;

use crate::emulator_flow::{issue, p256_csr};
use crate::fleet_dir::{FleetDir, apply_ok, run};
use crate::harness::{Account, repo_root, shared};

fn drift_json(account: &Account<'_>, fleet: &FleetDir, extra: &[&str]) -> (i32, Value) {
    let out = run(account
        .fleetcert(fleet.path())
        .args(["drift", "--format", "json"])
        .args(extra));
    assert!(
        out.code == 0 || out.code == 2,
        "{}{}",
        out.stdout,
        out.stderr
    );
    let value: Value = serde_json::from_str(&out.stdout).unwrap();
    let schema: Value = serde_json::from_str(
        &std::fs::read_to_string(repo_root().join("schema/drift.schema.json")).unwrap(),
    )
    .unwrap();
    assert!(
        jsonschema::validator_for(&schema).unwrap().is_valid(&value),
        "{value:#}"
    );
    (out.code, value)
}

/// (kind, code, address) of every item.
fn items(value: &Value) -> Vec<(String, String, String)> {
    value["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["kind"].as_str().unwrap().to_string(),
                i["code"].as_str().unwrap().to_string(),
                i["address"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

async fn cert_of(iot: &aws_sdk_iot::Client, thing: &str) -> String {
    let principals = iot
        .list_thing_principals()
        .thing_name(thing)
        .send()
        .await
        .unwrap();
    principals.principals()[0].clone()
}

#[tokio::test]
async fn drift_tells_changes_in_aws_from_auto_registration_and_unapplied_specs() {
    let account = Account::new(shared());
    let fleet = FleetDir::root_example();
    apply_ok(&account, fleet.path());
    let (code, report) = drift_json(&account, &fleet, &[]);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(report["in_sync"], true);
    assert_eq!(report["spec_last_applied"], true);

    let iot = account.iot().await;
    let pca = account.pca().await;
    // 1. A policy version set by hand.
    iot.create_policy_version()
        .policy_name("telemetry")
        .policy_document(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:*","Resource":"*"}]}"#)
        .set_as_default(true)
        .send()
        .await
        .unwrap();
    // 2. A certificate deactivated.
    let sensor_001 = cert_of(&iot, "sensor-001").await;
    let sensor_001_id = sensor_001.rsplit('/').next().unwrap().to_string();
    iot.update_certificate()
        .certificate_id(&sensor_001_id)
        .new_status(CertificateStatus::Inactive)
        .send()
        .await
        .unwrap();
    // 3. A policy detached.
    let gateway = cert_of(&iot, "gateway-01").await;
    iot.detach_policy()
        .policy_name("ota")
        .target(&gateway)
        .send()
        .await
        .unwrap();
    // 4. A thing's attributes edited.
    iot.update_thing()
        .thing_name("sensor-002")
        .attribute_payload(
            AttributePayload::builder()
                .attributes("model", "x9")
                .merge(true)
                .build(),
        )
        .send()
        .await
        .unwrap();
    // 5. A certificate from the fleet CA registered outside the spec, and
    // 6. one IoT auto-registered (just-in-time registration leaves it PENDING_ACTIVATION).
    let cas = pca.list_certificate_authorities().send().await.unwrap();
    let ca_arn = cas.certificate_authorities()[0].arn().unwrap().to_string();
    let ca_pem = pca
        .get_certificate_authority_certificate()
        .certificate_authority_arn(&ca_arn)
        .send()
        .await
        .unwrap()
        .certificate()
        .unwrap()
        .to_string();
    let validity = || {
        Validity::builder()
            .r#type(ValidityPeriodType::Days)
            .value(30)
            .build()
            .unwrap()
    };
    let mut jitr_id = String::new();
    for (cn, status) in [
        ("rogue-laptop", CertificateStatus::Active),
        ("jitr-device-9", CertificateStatus::PendingActivation),
    ] {
        let pem = issue(&pca, &ca_arn, &p256_csr(cn), validity()).await;
        let registered = iot
            .register_certificate()
            .certificate_pem(pem)
            .ca_certificate_pem(&ca_pem)
            .status(status)
            .send()
            .await
            .unwrap();
        jitr_id = registered.certificate_id().unwrap().to_string();
    }

    crate::harness::wait_for_detachments();
    let (code, report) = drift_json(&account, &fleet, &[]);
    assert_eq!(code, 2, "{report:#}");
    let found = items(&report);
    let has = |kind: &str, code: &str, address: &str| {
        found
            .iter()
            .any(|(k, c, a)| k == kind && c == code && a.starts_with(address))
    };
    for (kind, code, address) in [
        (
            "changed_outside",
            "policy_version_changed",
            "policy.telemetry",
        ),
        (
            "changed_outside",
            "certificate_deactivated",
            "device.sensor-001.certificate",
        ),
        (
            "changed_outside",
            "attachments_changed_outside",
            "device.gateway-01.certificate",
        ),
        ("changed_outside", "thing_edited", "device.sensor-002.thing"),
        (
            "changed_outside",
            "certificate_registered_outside",
            "certificate.",
        ),
        (
            "auto_registered",
            "certificate_auto_registered",
            "certificate.",
        ),
    ] {
        assert!(
            has(kind, code, address),
            "missing {kind}/{code} {address} in {found:#?}"
        );
    }
    assert_eq!(found.len(), 6, "{found:#?}");
    assert!(
        found.iter().all(|(k, _, _)| k != "not_applied"),
        "{found:#?}"
    );
    // Text and Markdown say the same.
    let text = run(account.fleetcert(fleet.path()).args(["drift"]));
    assert_eq!(text.code, 2);
    assert!(
        text.stdout.contains("Changed in AWS outside fleetcert:"),
        "{}",
        text.stdout
    );
    assert!(text.stdout.contains("policy telemetry's default version is 2, set outside fleetcert; the spec's document is version 1"), "{}", text.stdout);
    assert!(
        text.stdout.contains("PENDING_ACTIVATION"),
        "{}",
        text.stdout
    );
    let md = run(account
        .fleetcert(fleet.path())
        .args(["drift", "--format", "markdown"]));
    assert_eq!(md.code, 2);
    assert!(
        md.stdout
            .contains("| Changed in AWS outside fleetcert | 5 |"),
        "{}",
        md.stdout
    );

    // apply repairs what fleetcert owns (attachments need the full read that
    // drift makes: plans trust them by default); afterwards drift is clean.
    run(account
        .fleetcert(fleet.path())
        .args(["apply", "--auto-approve", "--refresh", "full"]))
    .success();
    // The auto-registered certificate belongs to the registration workflow:
    // apply leaves it alone, and drift keeps reporting it until a person
    // decides (here: deletes it).
    let (code, report) = drift_json(&account, &fleet, &[]);
    assert_eq!(code, 2, "{report:#}");
    let left: Vec<_> = items(&report)
        .into_iter()
        .map(|(kind, _, _)| kind)
        .collect();
    assert_eq!(left, ["auto_registered"], "{report:#}");
    iot.delete_certificate()
        .certificate_id(&jitr_id)
        .send()
        .await
        .unwrap();
    let (code, report) = drift_json(&account, &fleet, &[]);
    assert_eq!(code, 0, "{report:#}");

    // Never applied: a device added to the spec.
    let spec = fleet.spec_text().replace(
        "lifecycle:\n",
        "  - name: sensor-004\n    attributes: {line: C}\n\nlifecycle:\n",
    );
    std::fs::write(fleet.spec_path(), spec).unwrap();
    let (code, report) = drift_json(&account, &fleet, &[]);
    assert_eq!(code, 2, "{report:#}");
    assert_eq!(report["spec_last_applied"], false);
    let found = items(&report);
    assert!(!found.is_empty());
    for (kind, code, address) in &found {
        assert_eq!(
            (kind.as_str(), code.as_str()),
            ("not_applied", "device_not_applied"),
            "{address}"
        );
        assert!(address.starts_with("device.sensor-004."), "{address}");
    }
    apply_ok(&account, fleet.path());
    let (code, report) = drift_json(&account, &fleet, &[]);
    assert_eq!(code, 0, "{report:#}");

    // Certificates expiring within renew_before are warned about (and their
    // renewal is due: drift).
    let (code, report) = drift_json(&account, &fleet, &["--at", &in_days(80)]);
    assert_eq!(code, 2, "{report:#}");
    let warnings = report["warnings"].to_string();
    assert!(
        warnings.contains("device gateway-01: certificate")
            && warnings.contains("within renew_before 2w"),
        "{warnings}"
    );
    assert!(
        items(&report)
            .iter()
            .any(|(_, c, a)| c == "renewal_due" && a == "device.gateway-01.certificate")
    );
}

fn in_days(days: i64) -> String {
    jiff::Timestamp::now()
        .checked_add(jiff::SignedDuration::from_hours(days * 24))
        .unwrap()
        .to_string()
}
