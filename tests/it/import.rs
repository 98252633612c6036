//! `fleetcert import` of a fleet built by hand with raw SDK calls: the
//! generated spec's first plan only adopts, and the plan after that apply is
//! empty.

use aws_sdk_acmpca::types::{Validity, ValidityPeriodType};
use aws_sdk_iot::types::{AttributePayload, CertificateMode, CertificateStatus};

use crate::emulator_flow::{create_active_root_ca, issue, p256_csr};
use crate::fleet_dir::{apply_ok, run};
use crate::harness::{Account, shared};

/// Every file under `dir`: path relative to it -> contents.
pub fn files_under(dir: &std::path::Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    let mut files = std::collections::BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(at) = stack.pop() {
        for entry in std::fs::read_dir(&at).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let relative = path.strip_prefix(dir).unwrap().display().to_string();
                files.insert(relative, std::fs::read(&path).unwrap());
            }
        }
    }
    files
}

#[tokio::test]
async fn an_existing_fleet_is_imported_adopted_and_then_in_sync() {
    let account = Account::new(shared());
    let pca = account.pca().await;
    let iot = account.iot().await;

    // The seed article's flow, by hand: a CA registered in IoT, three devices.
    let (ca_arn, ca_pem) = create_active_root_ca(&pca, "Hand-made Root CA").await;
    iot.register_ca_certificate()
        .ca_certificate(&ca_pem)
        .certificate_mode(CertificateMode::SniOnly)
        .set_as_active(true)
        .send()
        .await
        .unwrap();
    let document = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:Connect","Resource":"*"}]}"#;
    iot.create_policy()
        .policy_name("hand-telemetry")
        .policy_document(document)
        .send()
        .await
        .unwrap();
    for (name, line) in [("press-01", "A"), ("press-02", "A"), ("lathe-01", "B")] {
        iot.create_thing()
            .thing_name(name)
            .attribute_payload(AttributePayload::builder().attributes("line", line).build())
            .send()
            .await
            .unwrap();
        let validity = Validity::builder()
            .r#type(ValidityPeriodType::Days)
            .value(365)
            .build()
            .unwrap();
        let pem = issue(&pca, &ca_arn, &p256_csr(name), validity).await;
        let registered = iot
            .register_certificate()
            .certificate_pem(&pem)
            .ca_certificate_pem(&ca_pem)
            .status(CertificateStatus::Active)
            .send()
            .await
            .unwrap();
        let arn = registered.certificate_arn().unwrap();
        iot.attach_thing_principal()
            .thing_name(name)
            .principal(arn)
            .send()
            .await
            .unwrap();
        iot.attach_policy()
            .policy_name("hand-telemetry")
            .target(arn)
            .send()
            .await
            .unwrap();
    }

    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("fleet");
    let writes_before = account.writes().len();
    let imported = run(account
        .fleetcert(dir.path())
        .args([
            "import",
            "--fleet",
            "adopted",
            "--ca-arn",
            &ca_arn,
            "--out-dir",
        ])
        .arg(&out_dir))
    .success();
    assert!(imported.stdout.contains("Wrote"), "{}", imported.stdout);
    let yaml = std::fs::read_to_string(out_dir.join("fleet.yaml")).unwrap();
    snapshot!(
        "imported_fleet_yaml",
        yaml,
        [
            (r"\b[0-9a-f]{64}\b", "[certificate-id]"),
            (r"arn:aws:acm-pca:[^\s]+", "[ca-arn]"),
        ]
    );
    assert!(out_dir.join("policies/hand-telemetry.json").exists());
    // Importing again over it is refused without --force: the files on disk
    // stay as they were, and import (a reader) wrote nothing to AWS.
    let files_before = files_under(&out_dir);
    std::fs::write(out_dir.join("fleet.yaml"), format!("{yaml}# reviewed\n")).unwrap();
    let again = run(account
        .fleetcert(dir.path())
        .args([
            "import",
            "--fleet",
            "adopted",
            "--ca-arn",
            &ca_arn,
            "--out-dir",
        ])
        .arg(&out_dir));
    assert_eq!(again.code, 1, "{}{}", again.stdout, again.stderr);
    assert!(again.stderr.contains("--force"), "{}", again.stderr);
    assert_eq!(
        std::fs::read_to_string(out_dir.join("fleet.yaml")).unwrap(),
        format!("{yaml}# reviewed\n"),
        "the refused import overwrote fleet.yaml"
    );
    std::fs::write(out_dir.join("fleet.yaml"), &yaml).unwrap();
    assert_eq!(
        files_under(&out_dir),
        files_before,
        "the refused import changed files"
    );
    let writes: Vec<_> = account.writes().split_off(writes_before);
    assert!(writes.is_empty(), "import wrote to AWS: {writes:?}");

    run(account.fleetcert(&out_dir).args(["validate"])).success();
    let plan = run(account
        .fleetcert(&out_dir)
        .args(["plan", "--detailed-exitcode"]));
    assert_eq!(plan.code, 2, "{}{}", plan.stdout, plan.stderr);
    assert!(
        plan.stdout.contains(
            "Plan: 0 to add, 0 to change, 0 to replace, 0 to revoke, 0 to delete, 5 to adopt."
        ),
        "the first plan only adopts (CA, policy, three things):\n{}",
        plan.stdout
    );
    apply_ok(&account, &out_dir);
    let settled = run(account
        .fleetcert(&out_dir)
        .args(["plan", "--detailed-exitcode"]))
    .success();
    assert!(settled.stdout.contains("No changes."), "{}", settled.stdout);

    // The certificates were left as they were: still ACTIVE, one per thing.
    for name in ["press-01", "press-02", "lathe-01"] {
        let state = crate::aws_check::device(&iot, name).await.unwrap();
        assert_eq!(state.active.len(), 1, "{name}");
        assert_eq!(
            state
                .attributes
                .get("fleetcert")
                .map(|v| v.starts_with("adopted")),
            Some(true)
        );
    }
}
