//! AWS failures as a person reads them (issue 19): no credentials, an
//! endpoint that refuses connections, AccessDenied, a CA that is not in the
//! region; each is one sentence and a hint, with no Rust `Debug` output.
//! And `--verbose`: one line per AWS call attempt, with no certificate body,
//! key or secret in it.

use std::net::TcpListener;
use std::path::Path;
use std::process::Command;

use serde_json::json;

use crate::fleet_dir::{FleetDir, run};
use crate::harness::{Account, shared};

/// fleetcert with no AWS credentials anywhere: no variables, an empty home
/// and config files, instance metadata off.
fn without_credentials(dir: &Path, home: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_fleetcert"));
    command.current_dir(dir);
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("AWS_") {
            command.env_remove(&name);
        }
    }
    command
        .env("HOME", home)
        .env("AWS_CONFIG_FILE", home.join("config"))
        .env("AWS_SHARED_CREDENTIALS_FILE", home.join("credentials"))
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_REGION", "eu-west-1")
        .env("NO_COLOR", "1")
        .env_remove("GITHUB_ACTIONS");
    command
}

/// What a person reads has no Rust `Debug` output in it.
fn no_debug(text: &str) {
    for debug in ["DispatchFailure(", "ConnectorError {", "Some(", "{ source:"] {
        assert!(!text.contains(debug), "Debug output {debug:?} in:\n{text}");
    }
}

#[test]
fn no_credentials_is_one_sentence_and_a_hint_and_not_retried() {
    let fleet = FleetDir::root_example();
    let home = tempfile::tempdir().unwrap();
    let out = run(without_credentials(fleet.path(), home.path()).args(["plan", "-v"]));
    assert_eq!(out.code, 1, "{}", out.stderr);
    let attempts = out.stderr.matches("aws call failed").count();
    assert_eq!(attempts, 1, "tried once:\n{}", out.stderr);
    let said: String = out
        .stderr
        .lines()
        .filter(|l| !l.contains(" INFO "))
        .collect::<Vec<_>>()
        .join("\n");
    no_debug(&said);
    snapshot!("no_credentials", said);
}

#[test]
fn a_closed_port_is_unreachable_and_retried_briefly() {
    let port = {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let account = Account::new(shared());
    let fleet = FleetDir::root_example();
    let endpoint = format!("http://127.0.0.1:{port}");
    let out = run(account
        .fleetcert(fleet.path())
        .args(["plan", "--endpoint-url", &endpoint]));
    assert_eq!(out.code, 1, "{}", out.stderr);
    no_debug(&out.stderr);
    snapshot!(
        "closed_port",
        out.stderr,
        [(r"127\.0\.0\.1:\d+", "127.0.0.1:[port]")]
    );
}

#[test]
fn access_denied_names_the_iam_action_and_iam_policy() {
    let account = Account::new(shared());
    let fleet = FleetDir::root_example();
    // Only AWS IoT is allowed: the first ACM PCA call is denied.
    let only_iot = json!({"Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": ["iot:*"], "Resource": "*"}]});
    account.emulator.control(
        "POST",
        "iam/policy",
        Some(
            json!({"access_key_id": account.id, "policy": only_iot, "user": "fleetcert-pipeline"}),
        ),
    );
    let out = run(account.fleetcert(fleet.path()).arg("plan"));
    account.emulator.control(
        "POST",
        "iam/policy/clear",
        Some(json!({"access_key_id": account.id})),
    );
    assert_eq!(out.code, 1, "{}", out.stderr);
    no_debug(&out.stderr);
    snapshot!(
        "access_denied",
        out.stderr,
        [(r"arn:aws:iam::\d+:", "arn:aws:iam::[account]:")]
    );
}

#[test]
fn a_ca_not_in_the_region_is_named_with_the_region() {
    let account = Account::new(shared());
    let spec =
        std::fs::read_to_string(crate::harness::repo_root().join("examples/adopt-ca/fleet.yaml"))
            .unwrap()
            .replace("region: ap-northeast-1\n", "");
    let fleet = FleetDir::with_spec(&spec.replace(
        "arn:aws:acm-pca:ap-northeast-1:",
        "arn:aws:acm-pca:eu-west-1:",
    ));
    let out = run(account.fleetcert(fleet.path()).arg("plan"));
    assert_eq!(out.code, 1, "{}", out.stderr);
    no_debug(&out.stderr);
    snapshot!("ca_not_found", out.stderr);
}

/// `-v` on a plan and an apply that makes keys: a line for every call, with
/// its operation, resource, status and attempt, and no PEM, key or secret.
#[test]
fn verbose_logs_every_call_and_no_secret() {
    let account = Account::new(shared());
    let fleet = FleetDir::root_example();
    let plan = run(account.fleetcert(fleet.path()).args(["plan", "-v"])).success();
    let apply = run(account
        .fleetcert(fleet.path())
        .args(["apply", "--auto-approve", "-v"]))
    .success();
    for out in [&plan, &apply] {
        assert!(
            !out.stderr.contains("-----BEGIN"),
            "a PEM in:\n{}",
            out.stderr
        );
        assert!(!out.stderr.contains("emulator-secret"), "{}", out.stderr);
        assert!(!out.stderr.contains("PRIVATE KEY"), "{}", out.stderr);
    }
    assert!(
        plan.stderr.contains(
            "INFO aws call operation=acm-pca:ListCertificateAuthorities resource=- status=200 attempt=1 duration_ms="
        ),
        "{}",
        plan.stderr
    );
    for operation in [
        "acm-pca:IssueCertificate",
        "iot:RegisterCertificate",
        "iot:CreateThing",
    ] {
        assert!(
            apply
                .stderr
                .contains(&format!("aws call operation={operation} resource=")),
            "{operation} logged:\n{}",
            apply.stderr
        );
    }
}
