//! The fleet's apply lock: two applies at once never interleave (one waits
//! or fails cleanly), a dead holder is released with force-unlock, and the
//! lock thing never shows up in plans or drift.

use std::collections::BTreeMap;

use aws_sdk_iot::types::AttributePayload;

use crate::fleet_dir::{FleetDir, apply_ok, run};
use crate::harness::{Account, shared};

/// Subject CN -> number of certificates from the fleet CA that are not REVOKED.
async fn live_certificates_per_device(account: &Account<'_>) -> BTreeMap<String, usize> {
    let iot = account.iot().await;
    let mut counts = BTreeMap::new();
    let listed = iot.list_certificates().page_size(250).send().await.unwrap();
    for c in listed.certificates() {
        let id = c.certificate_id().unwrap();
        let desc = iot
            .describe_certificate()
            .certificate_id(id)
            .send()
            .await
            .unwrap();
        let desc = desc.certificate_description().unwrap();
        if desc.status().map(|s| s.as_str()) == Some("REVOKED") {
            continue;
        }
        let cn = fleetcert::pki::cert::parse_pem(desc.certificate_pem().unwrap())
            .unwrap()
            .subject_cn
            .unwrap_or_default();
        *counts.entry(cn).or_insert(0) += 1;
    }
    counts
}

#[tokio::test]
async fn two_concurrent_applies_never_interleave() {
    let account = Account::new(shared());
    let fleet = FleetDir::root_example();
    let spawn = |timeout: &str| {
        account
            .fleetcert(fleet.path())
            .args(["apply", "--auto-approve", "--lock-timeout", timeout])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    // One gives up at once when the other holds the lock; one waits for it.
    let first = spawn("0s");
    let second = spawn("5m");
    let outputs = [
        first.wait_with_output().unwrap(),
        second.wait_with_output().unwrap(),
    ];
    let mut saw_the_other = false;
    for output in &outputs {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let stdout = String::from_utf8_lossy(&output.stdout);
        if output.status.code() != Some(0) {
            assert_eq!(output.status.code(), Some(1), "{stdout}{stderr}");
            assert!(
                stderr.contains("is locked by"),
                "a failure must be the lock's: {stderr}"
            );
            assert!(stderr.contains("force-unlock"), "{stderr}");
            saw_the_other = true;
        }
        saw_the_other |= stderr.contains("Waiting for fleet factory-a's lock");
    }
    assert!(
        outputs.iter().any(|o| o.status.success()),
        "one of the applies must succeed"
    );
    assert!(saw_the_other, "the two applies never met at the lock");

    // The end state is correct in AWS (read back with raw SDK calls, and by
    // a plan that reads every attachment), and no device got two certificates.
    let spec = fleetcert::spec::load(&fleet.path().join("fleet.yaml")).unwrap();
    let iot = account.iot().await;
    let differences = crate::aws_check::spec_differences(&iot, &spec).await;
    assert!(differences.is_empty(), "{differences:#?}");
    let plan = run(account.fleetcert(fleet.path()).args([
        "plan",
        "--detailed-exitcode",
        "--refresh",
        "full",
    ]));
    assert_eq!(plan.code, 0, "{}{}", plan.stdout, plan.stderr);
    let counts = live_certificates_per_device(&account).await;
    let devices = [
        "gateway-01",
        "gateway-02",
        "sensor-001",
        "sensor-002",
        "sensor-003",
    ];
    for device in devices {
        assert_eq!(counts.get(device), Some(&1), "{counts:?}");
    }
}

#[tokio::test]
async fn a_dead_holder_is_released_with_force_unlock() {
    let account = Account::new(shared());
    let fleet = FleetDir::root_example();
    // A run that died holding the lock for another hour.
    let expires = (jiff::Timestamp::now().as_second() + 3_600).to_string();
    let iot = account.iot().await;
    iot.create_thing()
        .thing_name("fleetcert-lock-factory-a")
        .attribute_payload(
            AttributePayload::builder()
                .attributes("holder", "ci@runner-7:gh-run-42:999:1")
                .attributes("expires", &expires)
                .build(),
        )
        .send()
        .await
        .unwrap();

    let writes_before = account.writes().len();
    let reads_before = account.counters();
    let blocked = run(account
        .fleetcert(fleet.path())
        .args(["apply", "--auto-approve"]));
    assert_eq!(blocked.code, 1, "{}{}", blocked.stdout, blocked.stderr);
    assert!(
        blocked
            .stderr
            .contains("fleet factory-a is locked by ci@runner-7:gh-run-42:999:1 until"),
        "{}",
        blocked.stderr
    );
    // Nothing was read or changed while locked out: no write of any phase
    // (the CA's comes first) reached AWS, and the only reads were the lock's.
    let writes: Vec<(String, String)> = account.writes().split_off(writes_before);
    let lock_path = "/things/fleetcert-lock-factory-a";
    assert!(
        writes.iter().all(|(_, path)| path == lock_path),
        "writes while locked out: {writes:?}"
    );
    let mut calls = account.counters();
    for (op, n) in &reads_before {
        *calls.get_mut(op).unwrap() -= n;
    }
    calls.retain(|_, n| *n > 0);
    eprintln!("calls while locked out: {calls:?}, writes: {writes:?}");
    let lock_ops = ["iot:DescribeThing", "iot:CreateThing", "iot:UpdateThing"];
    assert!(
        calls.keys().all(|op| lock_ops.contains(&op.as_str())),
        "calls while locked out: {calls:?}"
    );

    // Planning takes no lock.
    let plan = run(account.fleetcert(fleet.path()).args(["plan"]));
    assert_eq!(plan.code, 0, "{}", plan.stderr);
    assert!(!plan.stdout.contains("fleetcert-lock"), "{}", plan.stdout);

    let wrong =
        run(account
            .fleetcert(fleet.path())
            .args(["force-unlock", "--holder", "someone-else"]));
    assert_eq!(wrong.code, 1);
    assert!(
        wrong
            .stderr
            .contains("held by ci@runner-7:gh-run-42:999:1, not someone-else"),
        "{}",
        wrong.stderr
    );
    let released = run(account.fleetcert(fleet.path()).args([
        "force-unlock",
        "--holder",
        "ci@runner-7:gh-run-42:999:1",
    ]))
    .success();
    assert!(
        released
            .stdout
            .contains("Released fleet factory-a's lock, held by ci@runner-7:gh-run-42:999:1."),
        "{}",
        released.stdout
    );
    let again = run(account.fleetcert(fleet.path()).args(["force-unlock"])).success();
    assert!(again.stdout.contains("is not held"), "{}", again.stdout);

    apply_ok(&account, fleet.path());
    // Released after apply, with the applied spec recorded.
    let lock = iot
        .describe_thing()
        .thing_name("fleetcert-lock-factory-a")
        .send()
        .await
        .unwrap();
    let attributes = lock.attributes().unwrap();
    assert!(!attributes.contains_key("holder"), "{attributes:?}");
    assert_eq!(
        attributes.get("applied").map(|d| d.len()),
        Some(64),
        "{attributes:?}"
    );
    let drift = run(account.fleetcert(fleet.path()).args(["drift"]));
    assert_eq!(drift.code, 0, "{}{}", drift.stdout, drift.stderr);
}

/// An apply whose lock is taken away stops at its next heartbeat, prints
/// what it did and what it skipped, and fails; the next apply converges.
#[tokio::test]
async fn an_apply_that_loses_its_lock_stops_and_reports_what_it_did() {
    use std::process::Stdio;
    // Slow AWS, one device at a time: the apply outlives a heartbeat.
    let emulator = crate::harness::Emulator::start(&["--latency-ms", "150"]);
    let account = Account::new(&emulator);
    let dir = tempfile::tempdir().unwrap();
    let mut fleet = fleetcert::testkit::FleetBuilder::new("lost")
        .region("ap-northeast-1")
        .default("policies: [p]")
        .policy("p", fleetcert::testkit::CONNECT_STATEMENT);
    for i in 0..40 {
        fleet = fleet.device(&format!("dev-{i:02}"));
    }
    fleet.write(dir.path());
    let apply = account
        .fleetcert(dir.path())
        .args(["apply", "--auto-approve", "--concurrency", "1"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until it holds the lock, then take the lock away.
    let iot = account.iot().await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let held = iot
            .describe_thing()
            .thing_name("fleetcert-lock-lost")
            .send()
            .await
            .ok()
            .and_then(|t| t.attributes().and_then(|a| a.get("holder").cloned()))
            .is_some_and(|h| !h.is_empty());
        if held {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the apply never took its lock"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    let released = run(account.fleetcert(dir.path()).args(["force-unlock"])).success();
    assert!(released.stdout.contains("Released"), "{}", released.stdout);

    let output = apply.wait_with_output().unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
    );
    assert_eq!(output.status.code(), Some(1), "{stdout}{stderr}");
    assert!(stderr.contains("lock was taken over"), "{stderr}");
    let summary = stdout
        .lines()
        .find(|l| l.starts_with("Apply incomplete: "))
        .unwrap_or_else(|| panic!("no summary of the stopped apply:\n{stdout}"));
    let counts: Vec<usize> = summary
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|n| n.parse().ok())
        .collect();
    let [succeeded, failed, skipped] = counts[..] else {
        panic!("{summary}")
    };
    assert!(succeeded > 0 && skipped > 0 && failed == 0, "{summary}");
    assert!(
        stdout.contains("skipped because the fleet's lock was lost"),
        "{stdout}"
    );
    // Safe to re-run: the next apply finishes the job.
    apply_ok(&account, dir.path());
    let plan = run(account
        .fleetcert(dir.path())
        .args(["plan", "--detailed-exitcode"]));
    assert_eq!(plan.code, 0, "{}{}", plan.stdout, plan.stderr);
}
