//! Rotation delivered by IoT job, end to end against the emulator: four
//! CSR devices get new keys (their CSRs change); one apply issues the new
//! certificates and hands them to a job; simulated devices take it from the
//! jobs data plane, prove the new certificate by MQTT mutual TLS to a
//! broker that trusts the fleet's CA, and report. Only confirmed devices'
//! old certificates retire; the failed one is delivered again; the silent
//! one waits, then follows `on_timeout`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use rcgen::{CertificateParams, DistinguishedName, DnType, KeyPair, PKCS_ECDSA_P256_SHA256};

use crate::fleet_dir::{FleetDir, apply_ok, run};
use crate::harness::{Account, repo_root, shared};
use crate::mqtt::{client, free_port, server_pki, start_broker};

const DEVICES: [&str; 4] = ["ok-1", "ok-2", "bad-1", "silent-1"];

const POLICY: &str = r#"{"Version": "2012-10-17", "Statement": [
  {"Effect": "Allow", "Action": "iot:Connect", "Resource": "arn:aws:iot:*:*:client/${iot:Connection.Thing.ThingName}"},
  {"Effect": "Allow", "Action": ["iot:Publish", "iot:Receive"], "Resource": "arn:aws:iot:*:*:topic/$aws/things/${iot:Connection.Thing.ThingName}/jobs/*"},
  {"Effect": "Allow", "Action": "iot:Subscribe", "Resource": "arn:aws:iot:*:*:topicfilter/$aws/things/${iot:Connection.Thing.ThingName}/jobs/*"}
]}"#;

fn spec(on_timeout: &str) -> String {
    let mut yaml = format!(
        "version: 1\nfleet: rotjobs\nca:\n  subject: {{common_name: Rotation CA}}\n  validity: 5y\n  iot: {{mode: sni_only}}\n\
         defaults:\n  validity: 90d\n  renew_before: 10d\n  policies: [device]\npolicies:\n  device:\n    document: device.json\n\
         lifecycle:\n  rotation: {{delivery: job, max_wait: 1d, on_timeout: {on_timeout}}}\ndevices:\n"
    );
    for d in DEVICES {
        yaml.push_str(&format!("  - {{name: {d}, csr: csr/{d}.csr}}\n"));
    }
    yaml
}

/// A new P-256 key for `device` in `keys/` (kept, as a device keeps its
/// old key until the new certificate works) and its CSR in the spec.
fn new_key(fleet: &FleetDir, device: &str, generation: u32) {
    let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, device);
    params.distinguished_name = dn;
    fleet.write(
        &format!("csr/{device}.csr"),
        &params.serialize_request(&key).unwrap().pem().unwrap(),
    );
    let keys = keys_dir(fleet, device);
    std::fs::create_dir_all(&keys).unwrap();
    std::fs::write(
        keys.join(format!("{generation}.key.pem")),
        key.serialize_pem(),
    )
    .unwrap();
}

fn keys_dir(fleet: &FleetDir, device: &str) -> PathBuf {
    fleet.path().join("device-keys").join(device)
}

fn plan_json(account: &Account, fleet: &FleetDir, extra: &[&str]) -> serde_json::Value {
    let out = run(account
        .fleetcert(fleet.path())
        .args(["plan", "--format", "json"])
        .args(extra));
    assert!(out.code == 0, "plan failed: {}", out.stderr);
    serde_json::from_str(&out.stdout).unwrap()
}

fn stages(plan: &serde_json::Value) -> BTreeMap<String, String> {
    plan["rotation"]["devices"]
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(d, r)| (d.clone(), r["stage"].as_str().unwrap().to_string()))
                .collect()
        })
        .unwrap_or_default()
}

/// Each device's certificates: id -> status, from IoT.
fn certificates(account: &Account, fleet: &FleetDir) -> BTreeMap<String, BTreeMap<String, String>> {
    let output = python(account, fleet)
        .arg(repo_root().join("tests/fixtures/devices/certificate_statuses.py"))
        .args(DEVICES)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

/// The emulator venv's Python with the account's AWS environment.
fn python(account: &Account, fleet: &FleetDir) -> Command {
    let fleetcert = account.fleetcert(fleet.path());
    let mut command = Command::new(repo_root().join("tests/emulator/.venv/bin/python"));
    for (key, value) in fleetcert.get_envs() {
        match value {
            Some(value) => command.env(key, value),
            None => command.env_remove(key),
        };
    }
    command
}

fn statuses(certs: &BTreeMap<String, BTreeMap<String, String>>, device: &str) -> Vec<String> {
    let mut s: Vec<String> = certs
        .get(device)
        .map(|c| c.values().cloned().collect())
        .unwrap_or_default();
    s.sort();
    s
}

/// Runs the simulated device; returns its report line.
fn device(
    account: &Account,
    fleet: &FleetDir,
    thing: &str,
    mode: &str,
    port: u16,
    broker_ca: &Path,
) -> serde_json::Value {
    let output = python(account, fleet)
        .arg(repo_root().join("tests/fixtures/devices/simulated_device.py"))
        .args([
            "--thing",
            thing,
            "--mode",
            mode,
            "--broker-port",
            &port.to_string(),
        ])
        .arg("--keys")
        .arg(keys_dir(fleet, thing))
        .arg("--dir")
        .arg(fleet.path().join("installed").join(thing))
        .arg("--broker-ca")
        .arg(broker_ca)
        .env(
            "PATH",
            format!(
                "/usr/bin:/usr/sbin:{}",
                std::env::var("PATH").unwrap_or_default()
            ),
        )
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "device {thing}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(output.stdout.trim_ascii()).unwrap()
}

#[test]
fn validate_refuses_devices_that_cannot_take_their_jobs() {
    let fleet = FleetDir::with_spec(&spec("keep"));
    fleet.write(
        "device.json",
        r#"{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "iot:Connect", "Resource": "*"}]}"#,
    );
    for d in DEVICES {
        new_key(&fleet, d, 1);
    }
    let refused = run(Command::new(env!("CARGO_BIN_EXE_fleetcert"))
        .current_dir(fleet.path())
        .arg("validate"));
    assert_eq!(refused.code, 1, "{}", refused.stdout);
    assert!(
        refused.stderr.contains(
            "4 devices under `lifecycle.rotation.delivery: job` cannot take their rotation job"
        ),
        "{}",
        refused.stderr
    );
    assert!(
        refused.stderr.contains("device bad-1 (fleet.yaml:"),
        "{}",
        refused.stderr
    );
    assert!(
        refused
            .stderr
            .contains("subscribe to $aws/things/bad-1/jobs/notify-next"),
        "{}",
        refused.stderr
    );
    let warned = run(Command::new(env!("CARGO_BIN_EXE_fleetcert"))
        .current_dir(fleet.path())
        .args(["validate", "--allow-undeliverable"]));
    assert_eq!(warned.code, 0, "{}", warned.stderr);
    assert!(
        warned.stderr.contains("warning: 4 devices"),
        "{}",
        warned.stderr
    );
    fleet.write("device.json", POLICY);
    let fine = run(Command::new(env!("CARGO_BIN_EXE_fleetcert"))
        .current_dir(fleet.path())
        .arg("validate"));
    assert_eq!(fine.code, 0, "{}", fine.stderr);

    // A generated key kept in files could never reach the device.
    let files = FleetDir::with_spec(&spec("keep").replace("csr: csr/ok-1.csr", "adopt: false"));
    files.write("device.json", POLICY);
    for d in DEVICES {
        new_key(&files, d, 1);
    }
    let refused = run(Command::new(env!("CARGO_BIN_EXE_fleetcert"))
        .current_dir(files.path())
        .arg("validate"));
    assert_eq!(refused.code, 1);
    assert!(
        refused
            .stderr
            .contains("device ok-1's new key would stay on the machine that runs apply"),
        "{}",
        refused.stderr
    );
    assert!(refused.stderr.contains("fleet.yaml:"), "{}", refused.stderr);
}

#[test]
fn only_confirmed_devices_retire_their_old_certificate() {
    let account = Account::new(shared());
    let fleet = FleetDir::with_spec(&spec("retire"));
    fleet.write("device.json", POLICY);
    for d in DEVICES {
        new_key(&fleet, d, 1);
    }
    apply_ok(&account, fleet.path());

    // Every device makes a new key and sends its CSR: one apply issues the
    // certificates and creates the job, and retires nothing.
    for d in DEVICES {
        new_key(&fleet, d, 2);
    }
    let applied = apply_ok(&account, fleet.path());
    assert!(
        applied.stdout.contains("job.fleetcert-"),
        "{}",
        applied.stdout
    );
    let certs = certificates(&account, &fleet);
    for d in DEVICES {
        assert_eq!(statuses(&certs, d), ["ACTIVE", "ACTIVE"], "{d}: {certs:?}");
    }
    let delivered = plan_json(&account, &fleet, &[]);
    assert!(
        delivered["changes"].as_array().unwrap().is_empty(),
        "{delivered:#}"
    );
    assert!(
        stages(&delivered).values().all(|s| s == "delivered"),
        "{delivered:#}"
    );

    // The broker trusts only the fleet's CA (the chain fleetcert wrote).
    let tls = tempfile::tempdir().unwrap();
    let server = server_pki(tls.path());
    let port = free_port();
    let chain = fleet.path().join("out/ok-1/chain.pem");
    let _broker = start_broker(tls.path(), port, &chain, &server);
    for (d, mode) in [("ok-1", "succeed"), ("ok-2", "succeed"), ("bad-1", "fail")] {
        let report = device(&account, &fleet, d, mode, port, &server.ca_cert);
        let expected = if mode == "succeed" {
            "SUCCEEDED"
        } else {
            "FAILED"
        };
        assert_eq!(report["status"], expected, "{d}: {report}");
    }

    // Reading progress costs calls per job, never per device.
    let before = account.counters();
    let progress = plan_json(&account, &fleet, &[]);
    let after = account.counters();
    for op in [
        "iot:DescribeJobExecution",
        "iot:ListJobExecutionsForThing",
        "iot:DescribeCertificate",
        "iot:DescribeThing",
    ] {
        assert_eq!(before.get(op), after.get(op), "plan called {op}");
    }
    assert_eq!(
        after
            .get("iot:ListJobExecutionsForJob")
            .copied()
            .unwrap_or(0)
            - before
                .get("iot:ListJobExecutionsForJob")
                .copied()
                .unwrap_or(0),
        1,
        "one page for the one job"
    );
    let expected: BTreeMap<String, String> = [
        ("bad-1", "failed"),
        ("ok-1", "confirmed"),
        ("ok-2", "confirmed"),
        ("silent-1", "delivered"),
    ]
    .into_iter()
    .map(|(d, s)| (d.to_string(), s.to_string()))
    .collect();
    assert_eq!(stages(&progress), expected, "{progress:#}");
    let text = run(account.fleetcert(fleet.path()).arg("plan"));
    assert!(
        text.stdout
            .contains("rotation: 2 of 4 confirmed, 1 failed, 1 waiting"),
        "{}",
        text.stdout
    );

    // drift reports the failed rotation as stalled, and the pending steps.
    let drift = run(account
        .fleetcert(fleet.path())
        .args(["drift", "--format", "json"]));
    assert_eq!(drift.code, 2, "{}", drift.stderr);
    let drift: serde_json::Value = serde_json::from_str(&drift.stdout).unwrap();
    let codes: Vec<(String, String)> = drift["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["code"].as_str().unwrap().to_string(),
                i["address"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert!(
        codes.contains(&("rotation_stalled".into(), "device.bad-1.certificate".into())),
        "{codes:?}"
    );
    assert!(
        !codes
            .iter()
            .any(|(c, a)| c == "rotation_stalled" && a != "device.bad-1.certificate"),
        "{codes:?}"
    );
    assert!(
        codes.iter().any(|(c, _)| c == "rotation_pending"),
        "{codes:?}"
    );

    // The next apply retires only the confirmed devices' old certificates
    // and delivers bad-1's certificate again.
    let applied = apply_ok(&account, fleet.path());
    let certs = certificates(&account, &fleet);
    for d in ["ok-1", "ok-2"] {
        // The revoked one may still be listed while its detachment propagates.
        let live: Vec<String> = statuses(&certs, d)
            .into_iter()
            .filter(|s| s != "REVOKED")
            .collect();
        assert_eq!(
            live,
            ["ACTIVE"],
            "{d} keeps only its new certificate: {certs:?}"
        );
        // ... and it still connects with it.
        let installed = fleet
            .path()
            .join("installed")
            .join(d)
            .join("certificate.pem");
        let key = keys_dir(&fleet, d).join("2.key.pem");
        let ok = client(port, &server.ca_cert, &installed, &key, d)
            .args(["-t", "after/retire", "-m", "still here"])
            .output()
            .unwrap();
        assert!(
            ok.status.success(),
            "{d}: {}",
            String::from_utf8_lossy(&ok.stderr)
        );
    }
    for d in ["bad-1", "silent-1"] {
        assert_eq!(
            statuses(&certs, d),
            ["ACTIVE", "ACTIVE"],
            "{d} keeps its old certificate: {certs:?}"
        );
    }
    assert!(
        applied.stdout.contains("job.fleetcert-"),
        "bad-1 is delivered again: {}",
        applied.stdout
    );
    let again = plan_json(&account, &fleet, &[]);
    assert_eq!(stages(&again)["bad-1"], "delivered", "{again:#}");
    // A report that names another certificate does not retire anything:
    // apply checks the execution's statusDetails first.
    let report = device(&account, &fleet, "bad-1", "lie", port, &server.ca_cert);
    assert_eq!(report["status"], "SUCCEEDED", "{report}");
    let refused = run(account
        .fleetcert(fleet.path())
        .args(["apply", "--auto-approve"]));
    assert_eq!(refused.code, 1, "{}\n{}", refused.stdout, refused.stderr);
    let said = format!("{}{}", refused.stdout, refused.stderr);
    assert!(
        said.contains("NotConfirmed") && said.contains("bad-1"),
        "{said}"
    );
    let certs = certificates(&account, &fleet);
    assert_eq!(statuses(&certs, "bad-1"), ["ACTIVE", "ACTIVE"], "{certs:?}");

    // After max_wait (1d) the silent device follows on_timeout: retire.
    let later = (std::time::SystemTime::now() + std::time::Duration::from_secs(2 * 86_400))
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let at = jiff::Timestamp::from_second(later as i64)
        .unwrap()
        .to_string();
    let timed_out = plan_json(&account, &fleet, &["--at", &at]);
    assert_eq!(stages(&timed_out)["silent-1"], "timed_out", "{timed_out:#}");
    let retire: Vec<&serde_json::Value> = timed_out["changes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["reason"]["code"] == "rotation_timed_out")
        .collect();
    assert_eq!(retire.len(), 1, "{timed_out:#}");
    assert_eq!(retire[0]["device"], "silent-1");

    // Applied (a saved plan is carried out as of its own moment): silent-1's
    // old certificate retires; bad-1's lying report still stops its change.
    let saved = fleet.path().join("later.plan");
    let made = run(account
        .fleetcert(fleet.path())
        .args(["plan", "--at", &at, "--out"])
        .arg(&saved));
    assert_eq!(made.code, 0, "{}", made.stderr);
    let applied = run(account
        .fleetcert(fleet.path())
        .args(["apply", "--auto-approve"])
        .arg(&saved));
    assert_eq!(applied.code, 1, "{}\n{}", applied.stdout, applied.stderr);
    let certs = certificates(&account, &fleet);
    let live: Vec<String> = statuses(&certs, "silent-1")
        .into_iter()
        .filter(|s| s != "REVOKED")
        .collect();
    assert_eq!(
        live,
        ["ACTIVE"],
        "silent-1 follows on_timeout: retire: {certs:?}"
    );
    assert_eq!(statuses(&certs, "bad-1"), ["ACTIVE", "ACTIVE"], "{certs:?}");
}
