//! The reconcile loop against the emulator: the root fleet.yaml applied from
//! an empty account converges, and AWS (checked with raw SDK calls) holds
//! exactly what the spec says.

use std::os::unix::fs::PermissionsExt;

use fleetcert::spec::{CertValidity, DeviceKey};

use crate::aws_check;
use crate::fleet_dir::{FleetDir, apply_ok, run};
use crate::harness::{Account, shared};

fn days(validity: CertValidity) -> i64 {
    match validity {
        CertValidity::Days(n) => i64::from(n),
        other => panic!("the test fleet uses day validities, not {other}"),
    }
}

/// Every private key fleetcert wrote: (path, the base64 body lines).
fn written_keys(fleet: &FleetDir) -> Vec<(std::path::PathBuf, Vec<String>)> {
    let mut keys = Vec::new();
    for device in std::fs::read_dir(fleet.path().join("out")).unwrap() {
        let path = device.unwrap().path().join("private-key.pem");
        if path.exists() {
            let body = std::fs::read_to_string(&path)
                .unwrap()
                .lines()
                .filter(|l| !l.starts_with("-----"))
                .map(str::to_string)
                .collect();
            keys.push((path, body));
        }
    }
    keys
}

#[tokio::test]
async fn root_fleet_applies_from_empty_converges_and_matches_aws() {
    let account = Account::new(shared());
    let fleet = FleetDir::root_example();
    let spec = fleetcert::spec::load(&fleet.spec_path()).expect("the root fleet.yaml is valid");
    let started = jiff::Timestamp::now().as_second();

    let mut outputs = Vec::new();
    let first = apply_ok(&account, fleet.path());
    assert!(first.stdout.contains("Apply complete"), "{}", first.stdout);
    outputs.push(first);
    // Convergence: a plan after apply has no changes (exit 0 with --detailed-exitcode) ...
    let plan = run(account
        .fleetcert(fleet.path())
        .args(["plan", "--detailed-exitcode"]))
    .success();
    assert!(plan.stdout.contains("No changes."), "{}", plan.stdout);
    outputs.push(plan);
    // ... and so does a plan after a second apply.
    let second = apply_ok(&account, fleet.path());
    assert!(second.stdout.contains("No changes."), "{}", second.stdout);
    outputs.push(second);
    let plan = run(account
        .fleetcert(fleet.path())
        .args(["plan", "--detailed-exitcode"]))
    .success();
    outputs.push(plan);

    // AWS, read independently.
    let pca = account.pca().await;
    let iot = account.iot().await;
    let (_, status, key_algorithm, ca_pem) = aws_check::fleet_ca(&pca, &spec.fleet).await;
    assert_eq!(status, "ACTIVE");
    assert_eq!(key_algorithm, "EC_prime256v1");
    // The CA's IoT registration (DescribeCACertificate) is the spec's:
    // `iot: {mode: default, status: active, auto_registration: false}`.
    let (iot_status, mode, auto_registration) = aws_check::iot_ca(&iot, &ca_pem)
        .await
        .expect("the CA is registered in IoT");
    let wanted = spec.ca.iot();
    assert_eq!(
        wanted.mode,
        fleetcert::spec::IotMode::Default,
        "the root fleet.yaml"
    );
    assert!(!wanted.auto_registration, "the root fleet.yaml");
    assert_eq!(iot_status, "ACTIVE");
    assert_eq!(mode, "DEFAULT");
    assert_eq!(auto_registration, "DISABLE");

    for (name, device) in &spec.devices {
        let state = aws_check::device(&iot, name)
            .await
            .unwrap_or_else(|| panic!("thing {name} exists"));
        let mut attributes = state.attributes.clone();
        assert_eq!(
            attributes
                .remove("fleetcert")
                .map(|v| v.starts_with(&spec.fleet)),
            Some(true),
            "{name}: marker"
        );
        assert_eq!(attributes, device.attributes, "{name}: attributes");
        assert_eq!(
            state.active.len(),
            1,
            "{name}: exactly one ACTIVE certificate: {:?}",
            state.statuses
        );
        let (_, pem, policies) = &state.active[0];
        aws_check::check_device_certificate(pem, &ca_pem, name, days(device.validity), started);
        assert_eq!(policies, &device.policies, "{name}: attached policies");
        match &device.key {
            DeviceKey::Csr(csr) => {
                let info = fleetcert::pki::cert::parse_pem(pem).unwrap();
                assert_eq!(
                    info.public_key_sha256,
                    fleetcert::pki::cert::spki_sha256(&csr.public_key_der),
                    "{name}: key of the CSR"
                );
                assert!(
                    !fleet
                        .path()
                        .join("out")
                        .join(name)
                        .join("private-key.pem")
                        .exists()
                );
            }
            DeviceKey::Generated => {
                let key_path = fleet.path().join("out").join(name).join("private-key.pem");
                let key = fleetcert::pki::keys::DeviceKey::read(&key_path).unwrap();
                let info = fleetcert::pki::cert::parse_pem(pem).unwrap();
                assert_eq!(
                    info.public_key_sha256,
                    key.public_key_sha256(),
                    "{name}: key file matches the certificate"
                );
            }
            DeviceKey::External { .. } => {
                unreachable!("the root fleet has no external certificates")
            }
        }
        let written =
            std::fs::read_to_string(fleet.path().join("out").join(name).join("certificate.pem"))
                .unwrap();
        assert_eq!(
            aws_check::der(&written),
            aws_check::der(pem),
            "{name}: certificate.pem is the registered certificate"
        );
        let chain =
            std::fs::read_to_string(fleet.path().join("out").join(name).join("chain.pem")).unwrap();
        assert_eq!(
            aws_check::der(&chain),
            aws_check::der(&ca_pem),
            "{name}: chain.pem is the CA certificate"
        );
    }

    // Keys: 0600 in 0700 directories, and never printed.
    let keys = written_keys(&fleet);
    assert_eq!(keys.len(), 3, "three devices have generated keys");
    for (path, body) in &keys {
        assert_eq!(
            std::fs::metadata(path).unwrap().permissions().mode() & 0o777,
            0o600,
            "{}",
            path.display()
        );
        let dir = path.parent().unwrap();
        assert_eq!(
            std::fs::metadata(dir).unwrap().permissions().mode() & 0o777,
            0o700,
            "{}",
            dir.display()
        );
        for run in &outputs {
            for line in body {
                assert!(
                    !run.stdout.contains(line.as_str()) && !run.stderr.contains(line.as_str()),
                    "key material printed"
                );
            }
            assert!(!run.stdout.contains("PRIVATE KEY") && !run.stderr.contains("PRIVATE KEY"));
        }
    }
}

#[tokio::test]
async fn unmanaged_resources_are_never_touched_and_never_taken_over() {
    let account = Account::new(shared());
    let pca = account.pca().await;
    let iot = account.iot().await;

    // Someone else's thing, policy and certificate (from another CA) in the same account.
    iot.create_thing()
        .thing_name("legacy-sensor")
        .attribute_payload(
            aws_sdk_iot::types::AttributePayload::builder()
                .attributes("line", "A")
                .build(),
        )
        .send()
        .await
        .unwrap();
    let legacy_doc = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:Connect","Resource":"*"}]}"#;
    iot.create_policy()
        .policy_name("legacy-policy")
        .policy_document(legacy_doc)
        .send()
        .await
        .unwrap();
    let (other_ca_arn, other_ca_pem) =
        crate::emulator_flow::create_active_root_ca(&pca, "Legacy CA").await;
    iot.register_ca_certificate()
        .ca_certificate(&other_ca_pem)
        .certificate_mode(aws_sdk_iot::types::CertificateMode::SniOnly)
        .set_as_active(true)
        .send()
        .await
        .unwrap();
    let validity = aws_sdk_acmpca::types::Validity::builder()
        .r#type(aws_sdk_acmpca::types::ValidityPeriodType::Days)
        .value(30)
        .build()
        .unwrap();
    let legacy_pem = crate::emulator_flow::issue(
        &pca,
        &other_ca_arn,
        &crate::emulator_flow::p256_csr("legacy-sensor"),
        validity,
    )
    .await;
    let registered = iot
        .register_certificate()
        .certificate_pem(&legacy_pem)
        .ca_certificate_pem(&other_ca_pem)
        .status(aws_sdk_iot::types::CertificateStatus::Active)
        .send()
        .await
        .unwrap();
    let legacy_arn = registered.certificate_arn().unwrap().to_string();
    iot.attach_thing_principal()
        .thing_name("legacy-sensor")
        .principal(&legacy_arn)
        .send()
        .await
        .unwrap();
    iot.attach_policy()
        .policy_name("legacy-policy")
        .target(&legacy_arn)
        .send()
        .await
        .unwrap();
    let before_thing = iot
        .describe_thing()
        .thing_name("legacy-sensor")
        .send()
        .await
        .unwrap();

    let fleet = FleetDir::root_example();
    apply_ok(&account, fleet.path());
    run(account
        .fleetcert(fleet.path())
        .args(["plan", "--detailed-exitcode"]))
    .success();

    let after_thing = iot
        .describe_thing()
        .thing_name("legacy-sensor")
        .send()
        .await
        .unwrap();
    assert_eq!(
        after_thing.version(),
        before_thing.version(),
        "the unmanaged thing was modified"
    );
    assert_eq!(after_thing.attributes(), before_thing.attributes());
    let policy = iot
        .get_policy()
        .policy_name("legacy-policy")
        .send()
        .await
        .unwrap();
    assert_eq!(policy.default_version_id(), Some("1"));
    assert_eq!(
        aws_check::certificate_status(&iot, registered.certificate_id().unwrap()).await,
        "ACTIVE"
    );
    let attached = iot
        .list_attached_policies()
        .target(&legacy_arn)
        .send()
        .await
        .unwrap();
    assert_eq!(attached.policies().len(), 1);
    let principals = iot
        .list_thing_principals()
        .thing_name("legacy-sensor")
        .send()
        .await
        .unwrap();
    assert_eq!(principals.principals(), std::slice::from_ref(&legacy_arn));

    // A device named like the unmanaged thing is an error in the plan, not an adoption.
    fleet.edit(
        "  - name: sensor-003\n",
        "  - name: legacy-sensor\n    attributes: {line: A}\n  - name: sensor-003\n",
    );
    let refused = run(account.fleetcert(fleet.path()).args(["plan"]));
    assert_eq!(refused.code, 1, "{}", refused.stdout);
    assert!(
        refused
            .stderr
            .contains("thing legacy-sensor already exists and is not managed by fleet factory-a"),
        "{}",
        refused.stderr
    );
    // And a policy named like the unmanaged one.
    let fleet2 = FleetDir::root_example();
    fleet2.edit(
        "policies:\n  telemetry:",
        "policies:\n  legacy-policy:\n    document: policies/telemetry.json\n  telemetry:",
    );
    let refused = run(account.fleetcert(fleet2.path()).args(["plan"]));
    assert_eq!(refused.code, 1);
    assert!(
        refused
            .stderr
            .contains("policy legacy-policy already exists and is not managed"),
        "{}",
        refused.stderr
    );
}

#[test]
fn apply_waits_out_request_in_progress_after_each_issuance() {
    // GetCertificate answers RequestInProgressException three times after
    // every IssueCertificate, as PCA may right after issuing.
    let emulator = crate::harness::Emulator::start(&["--in-progress-calls", "3"]);
    let account = Account::new(&emulator);
    let fleet = FleetDir::root_example();
    apply_ok(&account, fleet.path());
    let counts = account.counters();
    let issued = counts.get("acm-pca:IssueCertificate").copied().unwrap_or(0);
    let fetched = counts.get("acm-pca:GetCertificate").copied().unwrap_or(0);
    assert!(
        issued >= 7,
        "root CA, verification and five device certificates: {counts:?}"
    );
    assert!(
        fetched >= issued * 4,
        "each issuance was polled past its in-progress answers: {counts:?}"
    );
    let plan = run(account
        .fleetcert(fleet.path())
        .args(["plan", "--detailed-exitcode"]))
    .success();
    assert!(plan.stdout.contains("No changes."), "{}", plan.stdout);
}
