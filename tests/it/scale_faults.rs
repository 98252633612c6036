//! An apply of 300 devices against an emulator that answers 10% of requests
//! with a 5xx (half of them after carrying the request out), drops
//! connections, and throttles at tight quotas set below the rates fleetcert
//! is told to use: fleetcert retries, slows down, and converges (re-running
//! apply if a change still failed), and every failure it reports names its
//! AWS error code.

use std::time::Instant;

use crate::aws_check;
use crate::fleet_dir::apply_ok;
use crate::harness::{Account, Emulator};
use crate::scale_common::{FULL_REFRESH_UNPACED, check_converged, plan_exit, write_fleet};

/// An emulator that injects 5xx faults (before and after carrying the
/// request out) and drops connections at random, throttles at tight quotas,
/// and fails dev-150's attachment with a 500 until told otherwise.
fn faulty_emulator() -> Emulator {
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
    // The random faults may all be retried away; so that the report of a
    // failure is checked in every run of this test, one device's attachment
    // fails with a 500 on every attempt until the first apply is over.
    emulator.control(
        "POST",
        "config",
        Some(serde_json::json!({"fail_requests": [{
            "operation": "iot:AttachThingPrincipal",
            "path_contains": "/things/dev-150/",
            "status": 500,
            "code": "InternalFailureException",
            "message": "injected: dev-150 keeps failing"
        }], "quotas": {
            "acm-pca:IssueCertificate": 20, "acm-pca:GetCertificate": 30,
            "iot:RegisterCertificate": 15, "iot:AttachPolicy": 15,
            "iot:AttachThingPrincipal": 25, "iot:CreateThing": 25, "iot:UpdateThing": 25,
            "iot:ListThings": 5, "iot:ListCertificatesByCA": 5, "iot:DescribeCertificate": 10
        }})),
    );
    emulator
}

#[test]
fn apply_converges_through_faults_drops_and_throttling() {
    let emulator = faulty_emulator();
    let account = Account::new(&emulator);
    let dir = tempfile::tempdir().unwrap();
    // The spec's rate_limits may not exceed AWS's default quotas; the rates
    // above them come from the pipeline owner's --rate-limit flags.
    let devices = write_fleet(
        dir.path(),
        300,
        &[
            ("acm-pca:GetCertificate", 60.0),
            ("iot:AttachThingPrincipal", 50.0),
            ("iot:CreateThing", 50.0),
            ("iot:UpdateThing", 50.0),
        ],
    );
    let above_default_quota = [
        "--rate-limit",
        "acm-pca:IssueCertificate=40",
        "--rate-limit",
        "iot:RegisterCertificate=30",
        "--rate-limit",
        "iot:AttachPolicy=30",
    ];
    let started = Instant::now();
    let mut runs = 0;
    let mut failed_runs = Vec::new();
    loop {
        runs += 1;
        let out = account
            .fleetcert(dir.path())
            .args(["apply", "--auto-approve", "--concurrency", "32"])
            .args(above_default_quota)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        if runs == 1 {
            emulator.control(
                "POST",
                "config",
                Some(serde_json::json!({"fail_requests": []})),
            );
        }
        if out.status.success() {
            break;
        }
        let stderr = String::from_utf8_lossy(&out.stderr);
        let failures = reported_failures(&stdout, &stderr);
        eprintln!("apply run {runs} failed: {failures:?}");
        failed_runs.push(failures);
        assert!(runs < 4, "no convergence after {runs} applies:\n{stdout}");
    }
    eprintln!(
        "converged in {runs} apply run(s), {:.1}s",
        started.elapsed().as_secs_f64()
    );

    // Faults, drops and throttling really happened (the emulator counts them).
    assert!(
        account.throttled() > 0,
        "the emulator never throttled fleetcert"
    );
    let faults = account.faults();
    eprintln!("injected faults: {faults:?}; failed applies: {failed_runs:?}");
    assert!(
        failed_runs
            .first()
            .is_some_and(|codes| codes.iter().any(|c| c == "InternalFailureException")),
        "the first apply did not report dev-150's failure with its code: {failed_runs:?}"
    );
    for kind in ["5xx", "5xx_after", "drop"] {
        assert!(
            faults.get(kind).copied().unwrap_or(0) > 0,
            "the emulator injected no {kind} fault: {faults:?}"
        );
    }

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
    // The default read mode costs list pages, not calls per certificate.
    emulator.control("POST", "counters/reset", None);
    assert_eq!(plan_exit(&account, dir.path(), &[]), Some(0));
    let calls = account.counters();
    for one_by_one in [
        "iot:DescribeCertificate",
        "iot:ListPrincipalThings",
        "iot:ListAttachedPolicies",
    ] {
        assert!(!calls.contains_key(one_by_one), "{calls:?}");
    }
    let total: u64 = calls.values().sum();
    assert!(total <= 300 / 100 + 50, "{total} calls: {calls:?}");
    assert_eq!(
        plan_exit(&account, dir.path(), &FULL_REFRESH_UNPACED),
        Some(0)
    );
}

/// Transport failures have no AWS code; the SDK's kind of failure stands in.
const TRANSPORT_KINDS: [&str; 3] = ["DispatchFailure", "Timeout", "ResponseError"];

/// The AWS codes of the failures an apply that exited 1 reported. Every
/// failed change (and a failure outside the changes, on stderr) must name
/// its AWS error code: a CamelCase code such as `InternalFailureException`,
/// or the transport's kind; never the placeholders for "no code".
fn reported_failures(stdout: &str, stderr: &str) -> Vec<String> {
    let mut codes = Vec::new();
    let not_applied = stdout.split("\nNot applied:\n").nth(1).unwrap_or("");
    for line in not_applied.lines().take_while(|l| l.starts_with("  ")) {
        if line.contains(": skipped because ") {
            continue;
        }
        let code = line
            .split_once(": FAILED at ")
            .and_then(|(_, rest)| rest.split_once(" operation(s): "))
            .and_then(|(_, rest)| rest.split_once(": "))
            .map(|(code, _)| code)
            .unwrap_or_else(|| panic!("a failure without its code: {line}\n{stdout}"));
        codes.push(code.to_string());
    }
    if codes.is_empty() {
        // Failed before any change ran (reading AWS, the lock): the error
        // names the call and its code, `<operation> <resource>: <code>: ...`.
        let error = stderr
            .lines()
            .find(|l| l.starts_with("error: "))
            .unwrap_or_else(|| panic!("apply failed without reporting why:\n{stdout}\n{stderr}"));
        let code = error
            .split(": ")
            .map(str::trim)
            .find(|part| looks_like_code(part))
            .unwrap_or_else(|| panic!("an error without an AWS code: {error}"));
        codes.push(code.to_string());
    }
    for code in &codes {
        assert!(
            looks_like_code(code),
            "{code:?} is not an AWS error code:\n{stdout}\n{stderr}"
        );
    }
    codes
}

fn looks_like_code(text: &str) -> bool {
    let aws = text.len() > 3
        && text.starts_with(|c: char| c.is_ascii_uppercase())
        && text.chars().all(|c| c.is_ascii_alphanumeric())
        && (text.ends_with("Exception") || text.ends_with("Failure") || text.ends_with("Error"));
    (aws || TRANSPORT_KINDS.contains(&text)) && !["UnknownError", "SdkError"].contains(&text)
}

/// One device whose attachment AWS refuses (a non-retryable error, always):
/// its change is reported with the AWS code, apply exits 1, and every other
/// device is applied in full. Once AWS accepts it, the next apply finishes it.
#[test]
fn one_devices_failure_is_reported_with_its_code_and_stops_no_other_device() {
    let emulator = Emulator::start(&[]);
    emulator.control(
        "POST",
        "config",
        Some(serde_json::json!({"fail_requests": [{
            "operation": "iot:AttachThingPrincipal",
            "path_contains": "/things/dev-001/",
            "code": "InvalidRequestException",
            "message": "injected: dev-001 cannot be attached"
        }]})),
    );
    let account = Account::new(&emulator);
    let dir = tempfile::tempdir().unwrap();
    let devices = write_fleet(dir.path(), 3, &[]);
    let out = account
        .fleetcert(dir.path())
        .args(["apply", "--auto-approve"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    let not_applied = stdout.split("Not applied:").nth(1).unwrap_or("");
    assert!(
        not_applied.contains("device.dev-001.certificate: FAILED at iot:AttachThingPrincipal")
            && not_applied.contains("InvalidRequestException")
            && not_applied.contains("injected: dev-001 cannot be attached"),
        "{stdout}"
    );
    assert!(
        !not_applied.contains("dev-000") && !not_applied.contains("dev-002"),
        "{stdout}"
    );

    let runtime = tokio::runtime::Runtime::new().unwrap();
    let iot = runtime.block_on(account.iot());
    for device in ["dev-000", "dev-002"] {
        let state = runtime.block_on(aws_check::device(&iot, device)).unwrap();
        assert_eq!(state.active.len(), 1, "{device}: {state:?}");
        assert!(state.active[0].2.contains("telemetry"), "{device}");
    }

    emulator.control(
        "POST",
        "config",
        Some(serde_json::json!({"fail_requests": []})),
    );
    apply_ok(&account, dir.path());
    let problems = runtime.block_on(check_converged(&account, dir.path(), &devices));
    assert!(problems.is_empty(), "{problems:#?}");
}

/// On a terminal, apply draws an indicatif bar per phase (count, rate, ETA)
/// instead of the plain lines CI logs get: every phase of the plan (from
/// `plan --format json`) gets its own bar, drawn full with its change count.
/// `script` gives it a pseudo-terminal.
#[test]
fn apply_on_a_terminal_draws_a_bar_per_phase() {
    let account = Account::new(crate::harness::shared());
    let dir = tempfile::tempdir().unwrap();
    write_fleet(dir.path(), 3, &[]);
    let plan = account
        .fleetcert(dir.path())
        .args(["plan", "--format", "json"])
        .output()
        .unwrap();
    let plan: serde_json::Value = serde_json::from_slice(&plan.stdout).unwrap();
    let mut phases: std::collections::BTreeMap<String, usize> = Default::default();
    for change in plan["changes"].as_array().unwrap() {
        let name = match change["phase"].as_str().unwrap() {
            "ca" => "CA",
            "ca_registration" => "CA registration",
            other => other,
        };
        *phases.entry(name.to_string()).or_insert(0) += 1;
    }
    assert!(
        phases.len() >= 3 && phases.contains_key("CA") && phases.contains_key("devices"),
        "a fresh fleet's plan spans the CA, policies and devices phases: {phases:?}"
    );
    let apply = account.fleetcert(dir.path());
    let mut shell = format!("'{}'", apply.get_program().to_string_lossy());
    shell.push_str(" apply --auto-approve");
    let mut script = std::process::Command::new("script");
    script
        .args(["--quiet", "--return", "--command", &shell, "/dev/null"])
        .current_dir(dir.path());
    for (key, value) in apply.get_envs() {
        match value {
            Some(value) => script.env(key, value),
            None => script.env_remove(key),
        };
    }
    let out = script.output().unwrap();
    let terminal = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{terminal}");
    for (phase, changes) in &phases {
        let full = format!("{phase} [{}] {changes}/{changes}", "=".repeat(30));
        assert!(
            terminal.contains(&full),
            "no full bar `{full}` for phase {phase}:\n{terminal}"
        );
    }
    assert!(terminal.contains("ETA"), "{terminal}");
    assert!(!terminal.contains("changes to make"), "{terminal}");
}
