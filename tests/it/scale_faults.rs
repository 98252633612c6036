//! An apply of 300 devices against an emulator that answers 10% of requests
//! with a 5xx (half of them after carrying the request out), drops
//! connections, and throttles at tight quotas set below the rates fleetcert
//! is told to use: fleetcert retries, slows down, and converges (re-running
//! apply if a change still failed), and every failure it reports names its
//! AWS error code.

use std::time::Instant;

use crate::harness::{Account, Emulator};
use crate::scale_common::{FULL_REFRESH_UNPACED, check_converged, plan_exit, write_fleet};

#[test]
fn apply_converges_through_faults_drops_and_throttling() {
    let emulator = Emulator::start(&[
        "--fault-5xx-rate",
        "0.05",
        "--fault-5xx-after-rate",
        "0.05",
        "--fault-drop-rate",
        "0.03",
        "--fault-seed",
        "7",
    ]);
    // Tight quotas, and fleetcert configured above them: it must be throttled.
    emulator.control(
        "POST",
        "config",
        Some(serde_json::json!({"quotas": {
            "acm-pca:IssueCertificate": 20, "acm-pca:GetCertificate": 30,
            "iot:RegisterCertificate": 15, "iot:AttachPolicy": 15,
            "iot:AttachThingPrincipal": 25, "iot:CreateThing": 25, "iot:UpdateThing": 25,
            "iot:ListThings": 5, "iot:ListCertificatesByCA": 5, "iot:DescribeCertificate": 10
        }})),
    );
    let account = Account::new(&emulator);
    let dir = tempfile::tempdir().unwrap();
    let devices = write_fleet(
        dir.path(),
        300,
        &[
            ("acm-pca:IssueCertificate", 40.0),
            ("acm-pca:GetCertificate", 60.0),
            ("iot:RegisterCertificate", 30.0),
            ("iot:AttachPolicy", 30.0),
            ("iot:AttachThingPrincipal", 50.0),
            ("iot:CreateThing", 50.0),
            ("iot:UpdateThing", 50.0),
        ],
    );
    let started = Instant::now();
    let mut runs = 0;
    loop {
        runs += 1;
        let out = account
            .fleetcert(dir.path())
            .args(["apply", "--auto-approve", "--concurrency", "32"])
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        if out.status.success() {
            break;
        }
        // Each failure is reported with its AWS code (or the transport failure's kind).
        let failures: Vec<&str> = stdout.lines().filter(|l| l.contains("failed")).collect();
        assert!(
            !failures.is_empty(),
            "apply failed without reporting a failed change:\n{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(runs < 4, "no convergence after {runs} applies:\n{stdout}");
    }
    eprintln!(
        "converged in {runs} apply run(s), {:.1}s",
        started.elapsed().as_secs_f64()
    );

    // Faults, drops and throttling really happened.
    assert!(
        account.throttled() > 0,
        "the emulator never throttled fleetcert"
    );

    // Faults and quotas off for the checks.
    emulator.control(
        "POST",
        "config",
        Some(serde_json::json!({"fault_5xx_rate": 0, "fault_5xx_after_rate": 0, "fault_drop_rate": 0, "quotas": "off"})),
    );
    let problems = tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(check_converged(&account, dir.path(), &devices));
    assert!(problems.is_empty(), "{problems:#?}");
    assert_eq!(plan_exit(&account, dir.path(), &[]), Some(0));
    assert_eq!(
        plan_exit(&account, dir.path(), &FULL_REFRESH_UNPACED),
        Some(0)
    );
}
