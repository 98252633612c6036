//! Device bundles in AWS Secrets Manager (`output: {secrets_manager: {}}`):
//! applied, killed mid-apply and re-applied, rotated and removed, each
//! device's bundle holds its ACTIVE certificate and, for a generated key,
//! the key that matches it, and no private key is ever on local disk.

use std::path::Path;
use std::process::Stdio;

use aws_sdk_secretsmanager::error::ProvideErrorMetadata;

use fleetcert::pki::{cert, keys::DeviceKey};
use fleetcert::testkit::{CONNECT_STATEMENT, FleetBuilder};

use crate::aws_check;
use crate::crash_kill::{fleet_writes, wait_for_writes};
use crate::emulator_flow::p256_csr;
use crate::fleet_dir::run;
use crate::harness::{Account, Emulator};

const FLEET: &str = "vault";

/// The two secret stores a fleet's bundles can go to.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Store {
    SecretsManager,
    Ssm,
}

impl Store {
    fn output(self) -> &'static str {
        match self {
            Store::SecretsManager => "secrets_manager: {recovery_window_days: 7}",
            Store::Ssm => "ssm: {}",
        }
    }
}

/// Reads bundles back from a store, as the factory would.
struct Reader {
    store: Store,
    secrets: aws_sdk_secretsmanager::Client,
    ssm: aws_sdk_ssm::Client,
}

impl Reader {
    async fn new(account: &Account<'_>, store: Store) -> Self {
        let config = account.sdk_config().await;
        Self {
            store,
            secrets: aws_sdk_secretsmanager::Client::new(&config),
            ssm: aws_sdk_ssm::Client::new(&config),
        }
    }

    /// The current bundle (`previous`: the one before it).
    async fn bundle(&self, device: &str, previous: bool) -> Option<serde_json::Value> {
        match self.store {
            Store::SecretsManager => {
                let stage = if previous {
                    "AWSPREVIOUS"
                } else {
                    "AWSCURRENT"
                };
                secret(&self.secrets, device, stage).await
            }
            Store::Ssm => {
                let name = format!("/fleetcert/{FLEET}/{device}");
                let history = match self
                    .ssm
                    .get_parameter_history()
                    .name(&name)
                    .with_decryption(true)
                    .send()
                    .await
                {
                    Ok(history) => history,
                    Err(e) if e.code() == Some("ParameterNotFound") => return None,
                    Err(e) => panic!("GetParameterHistory {name}: {e:?}"),
                };
                let versions = history.parameters();
                let at = versions.len().checked_sub(if previous { 2 } else { 1 })?;
                Some(serde_json::from_str(versions[at].value().unwrap()).unwrap())
            }
        }
    }

    /// Whether a key is still pending for `device`.
    async fn pending(&self, device: &str) -> bool {
        match self.store {
            Store::SecretsManager => secret(&self.secrets, device, "FLEETCERT_PENDING")
                .await
                .is_some(),
            Store::Ssm => self
                .ssm
                .get_parameter()
                .name(format!("/fleetcert/{FLEET}/{device}/pending-key"))
                .send()
                .await
                .is_ok(),
        }
    }
}

fn fleet(devices: usize) -> FleetBuilder {
    fleet_in(Store::SecretsManager, devices)
}

fn fleet_in(store: Store, devices: usize) -> FleetBuilder {
    let mut fleet = FleetBuilder::new(FLEET)
        .validity("365d", "30d")
        .default("policies: [connect]")
        .policy("connect", CONNECT_STATEMENT)
        .output(store.output())
        .device_with_csr("csr-dev", &p256_csr("csr-dev"), &[]);
    for i in 0..devices {
        fleet = fleet.device(&format!("dev-{i:02}"));
    }
    fleet
}

/// Every file under `dir` that holds a private key.
fn keys_on_disk(dir: &Path) -> Vec<String> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(next) = stack.pop() {
        for entry in std::fs::read_dir(&next).unwrap().flatten() {
            let path = entry.path();
            if entry.file_type().unwrap().is_dir() {
                stack.push(path);
            } else if std::fs::read(&path)
                .map(|b| String::from_utf8_lossy(&b).contains("PRIVATE KEY"))
                .unwrap_or(false)
            {
                found.push(path.display().to_string());
            }
        }
    }
    found
}

/// fleetcert in `dir` with its own temporary directory, so a test can look
/// at everything it may have written.
fn fleetcert(account: &Account<'_>, dir: &Path, tmp: &Path) -> std::process::Command {
    let mut command = account.fleetcert(dir);
    command.env("TMPDIR", tmp);
    command
}

async fn secret(
    client: &aws_sdk_secretsmanager::Client,
    device: &str,
    stage: &str,
) -> Option<serde_json::Value> {
    let got = match client
        .get_secret_value()
        .secret_id(format!("fleetcert/{FLEET}/{device}"))
        .version_stage(stage)
        .send()
        .await
    {
        Ok(got) => got,
        Err(e) if e.code() == Some("ResourceNotFoundException") => return None,
        Err(e) => panic!("GetSecretValue {device} {stage}: {e:?}"),
    };
    Some(serde_json::from_str(got.secret_string().unwrap()).unwrap())
}

/// Each device's current bundle holds its one ACTIVE certificate and, for
/// a generated key, that certificate's key; no key is left pending.
async fn check_bundles(account: &Account<'_>, devices: &[String]) {
    check_bundles_in(account, Store::SecretsManager, devices).await
}

async fn check_bundles_in(account: &Account<'_>, store: Store, devices: &[String]) {
    let iot = account.iot().await;
    let reader = Reader::new(account, store).await;
    for device in devices {
        let state = aws_check::device(&iot, device).await.expect("the thing");
        assert_eq!(state.active.len(), 1, "{device}: {:?}", state.statuses);
        let (id, pem, _) = &state.active[0];
        let bundle = reader
            .bundle(device, false)
            .await
            .unwrap_or_else(|| panic!("{device}: no bundle"));
        assert_eq!(bundle["certificate_id"], id.as_str(), "{device}");
        assert_eq!(bundle["certificate_pem"], pem.as_str(), "{device}");
        assert_eq!(bundle["thing_name"], device.as_str());
        let key = bundle["private_key_pem"].as_str();
        if device == "csr-dev" {
            assert!(key.is_none(), "the device made its own key");
        } else {
            let key = DeviceKey::from_pem(key.expect("the generated key"), device).unwrap();
            assert_eq!(
                key.public_key_sha256(),
                cert::parse_pem(pem).unwrap().public_key_sha256,
                "{device}: the bundle's key is its certificate's"
            );
        }
        assert!(
            !reader.pending(device).await,
            "{device}: a key is still pending"
        );
    }
}

#[test]
fn a_fleet_in_secrets_manager_survives_kills_rotates_and_keeps_no_key_on_disk() {
    survives_kills_rotates_and_keeps_no_key_on_disk(Store::SecretsManager);
}

#[test]
fn a_fleet_in_ssm_parameter_store_survives_kills_rotates_and_keeps_no_key_on_disk() {
    survives_kills_rotates_and_keeps_no_key_on_disk(Store::Ssm);
}

fn survives_kills_rotates_and_keeps_no_key_on_disk(store: Store) {
    let emulator = Emulator::start(&[]);
    let account = Account::new(&emulator);
    let dir = tempfile::tempdir().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    fleet_in(store, 12).write(dir.path());
    let runtime = tokio::runtime::Runtime::new().unwrap();

    // Killed three times while writing, then run to the end.
    for writes in [6, 25, 45] {
        let before = fleet_writes(&account);
        let mut child = fleetcert(&account, dir.path(), tmp.path())
            .args(["apply", "--auto-approve", "--quiet"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let writing = wait_for_writes(&account, &mut child, before, writes);
        let _ = child.kill();
        let _ = child.wait();
        assert!(writing, "the apply ended before {writes} writes");
        assert_eq!(keys_on_disk(dir.path()), Vec::<String>::new());
        assert_eq!(keys_on_disk(tmp.path()), Vec::<String>::new());
        // A pending key is never a device's current value.
        let reader = runtime.block_on(Reader::new(&account, store));
        for i in 0..12 {
            let device = format!("dev-{i:02}");
            if let Some(current) = runtime.block_on(reader.bundle(&device, false)) {
                assert_ne!(current["format"], "fleetcert.pending-key.v1", "{device}");
                assert!(
                    current["private_key_pem"].is_null() || current["certificate_id"].is_string()
                );
            }
        }
        // The killed run's lock is released by hand, as after a dead runner.
        run(account.fleetcert(dir.path()).arg("force-unlock")).success();
    }
    let applied =
        run(fleetcert(&account, dir.path(), tmp.path()).args(["apply", "--auto-approve"]));
    assert_eq!(applied.code, 0, "{}{}", applied.stdout, applied.stderr);
    let mut devices: Vec<String> = (0..12).map(|i| format!("dev-{i:02}")).collect();
    devices.push("csr-dev".into());
    runtime.block_on(check_bundles_in(&account, store, &devices));
    let again = run(account
        .fleetcert(dir.path())
        .args(["plan", "--detailed-exitcode"]));
    assert_eq!(again.code, 0, "{}{}", again.stdout, again.stderr);

    // A rotation: the new bundle is current, the old one still readable.
    let iot = runtime.block_on(account.iot());
    let old = runtime
        .block_on(aws_check::device(&iot, "dev-03"))
        .unwrap()
        .active[0]
        .0
        .clone();
    let replaced = run(fleetcert(&account, dir.path(), tmp.path()).args([
        "apply",
        "--auto-approve",
        "--replace",
        "dev-03",
    ]));
    assert_eq!(replaced.code, 0, "{}{}", replaced.stdout, replaced.stderr);
    let place = match store {
        Store::SecretsManager => "Secrets Manager secret fleetcert/vault/dev-03",
        Store::Ssm => "SSM parameter /fleetcert/vault/dev-03",
    };
    assert!(
        replaced.stdout.contains(place),
        "the plan says where the bundle goes:\n{}",
        replaced.stdout
    );
    let reader = runtime.block_on(Reader::new(&account, store));
    let previous = runtime
        .block_on(reader.bundle("dev-03", true))
        .expect("the previous bundle");
    assert_eq!(previous["certificate_id"], old.as_str());
    runtime.block_on(check_bundles_in(&account, store, &devices));
    assert_eq!(keys_on_disk(dir.path()), Vec::<String>::new());
    assert_eq!(keys_on_disk(tmp.path()), Vec::<String>::new());
    assert!(!dir.path().join("out").exists(), "no output directory");

    // A departed device's bundle is deleted (a secret: restorable for 7 days).
    fleet_in(store, 11).write(dir.path());
    let removed = run(account
        .fleetcert(dir.path())
        .args(["apply", "--auto-approve"]));
    assert_eq!(removed.code, 0, "{}{}", removed.stdout, removed.stderr);
    match store {
        Store::SecretsManager => {
            let described = runtime
                .block_on(
                    reader
                        .secrets
                        .describe_secret()
                        .secret_id("fleetcert/vault/dev-11")
                        .send(),
                )
                .unwrap();
            assert!(described.deleted_date().is_some(), "{described:?}");
        }
        Store::Ssm => assert!(runtime.block_on(reader.bundle("dev-11", false)).is_none()),
    }
    let settled = run(account
        .fleetcert(dir.path())
        .args(["plan", "--detailed-exitcode"]));
    assert_eq!(settled.code, 0, "{}{}", settled.stdout, settled.stderr);
}

/// drift reports a bundle deleted by hand: a device whose key is its own
/// gets it back from a plain apply; a generated key is gone with it, which
/// drift says, with the way out (`apply --replace`).
#[test]
fn drift_reports_a_missing_bundle_and_apply_rewrites_what_it_can() {
    let account = Account::new(crate::harness::shared());
    let dir = tempfile::tempdir().unwrap();
    fleet(2).write(dir.path());
    let applied = run(account
        .fleetcert(dir.path())
        .args(["apply", "--auto-approve"]));
    assert_eq!(applied.code, 0, "{}{}", applied.stdout, applied.stderr);
    assert_eq!(run(account.fleetcert(dir.path()).arg("drift")).code, 0);

    let runtime = tokio::runtime::Runtime::new().unwrap();
    let client = runtime
        .block_on(async { aws_sdk_secretsmanager::Client::new(&account.sdk_config().await) });
    for device in ["dev-00", "csr-dev"] {
        runtime
            .block_on(
                client
                    .delete_secret()
                    .secret_id(format!("fleetcert/{FLEET}/{device}"))
                    .force_delete_without_recovery(true)
                    .send(),
            )
            .unwrap();
    }
    let drift = run(account
        .fleetcert(dir.path())
        .args(["drift", "--format", "json"]));
    assert_eq!(drift.code, 2, "{}{}", drift.stdout, drift.stderr);
    let report: serde_json::Value = serde_json::from_str(&drift.stdout).unwrap();
    let items: Vec<(String, String)> = report["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["address"].as_str().unwrap().to_string(),
                i["code"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert!(
        items.contains(&("device.dev-00.files".into(), "bundle_missing".into()))
            && items.iter().any(|(a, _)| a == "device.csr-dev.files"),
        "{items:?}"
    );
    let repaired = run(account
        .fleetcert(dir.path())
        .args(["apply", "--auto-approve"]));
    assert_eq!(repaired.code, 0, "{}{}", repaired.stdout, repaired.stderr);
    runtime.block_on(check_bundles(&account, &["csr-dev".to_string()]));
    let after = run(account.fleetcert(dir.path()).arg("drift"));
    assert_eq!(after.code, 2, "{}", after.stdout);
    assert!(
        after.stdout.contains("apply --replace dev-00"),
        "{}",
        after.stdout
    );
}

/// `op` on the emulator's KMS as `account`, through boto3 in the emulator's
/// venv (the suite has no KMS client of its own); prints the key ARN.
fn kms(account: &Account<'_>, op: &str) -> String {
    let script = format!(
        "import boto3,sys\n\
         k=boto3.client('kms',endpoint_url=sys.argv[1],region_name=sys.argv[2],\
         aws_access_key_id=sys.argv[3],aws_secret_access_key='x')\n{op}"
    );
    let out = std::process::Command::new(
        crate::harness::repo_root().join("tests/emulator/.venv/bin/python"),
    )
    .args([
        "-c",
        &script,
        &account.emulator.endpoint(),
        &account.region,
        &account.id,
    ])
    .output()
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// A customer KMS key the caller may not use, or that is disabled: the
/// change fails naming the AWS error, before any certificate is issued for
/// a key that could not be stored; once the key is usable the fleet converges.
#[test]
fn a_kms_key_that_cannot_be_used_fails_the_change_clearly_and_issues_nothing() {
    let emulator = Emulator::start(&[]);
    let account = Account::new(&emulator);
    let key = kms(&account, "print(k.create_key()['KeyMetadata']['Arn'])");
    let dir = tempfile::tempdir().unwrap();
    let spec = FleetBuilder::new(FLEET)
        .validity("365d", "30d")
        .output(&format!("secrets_manager: {{kms_key_id: \"{key}\"}}"))
        .device("dev-00");
    spec.write(dir.path());
    let deny = serde_json::json!({"account": account.id, "key_id": key});

    emulator.control("POST", "kms/deny", Some(deny.clone()));
    let denied = run(account
        .fleetcert(dir.path())
        .args(["apply", "--auto-approve"]));
    assert_eq!(denied.code, 1, "{}{}", denied.stdout, denied.stderr);
    assert!(
        denied
            .stdout
            .contains("FAILED at secretsmanager:CreateSecret")
            && denied.stdout.contains(
                "AccessDeniedException: fleetcert/vault/dev-00: Access to KMS is not allowed"
            ),
        "{}",
        denied.stdout
    );
    let issued = account
        .writes()
        .iter()
        .filter(|(op, _)| op == "acm-pca:IssueCertificate")
        .count();
    assert_eq!(issued, 1, "only the CA's own certificate was issued");
    assert_eq!(keys_on_disk(dir.path()), Vec::<String>::new());

    emulator.control("POST", "kms/deny/clear", Some(deny));
    let applied = run(account
        .fleetcert(dir.path())
        .args(["apply", "--auto-approve"]));
    assert_eq!(applied.code, 0, "{}{}", applied.stdout, applied.stderr);

    let key_id = key.rsplit('/').next().unwrap();
    kms(&account, &format!("k.disable_key(KeyId='{key_id}')"));
    let disabled =
        run(account
            .fleetcert(dir.path())
            .args(["apply", "--auto-approve", "--replace", "dev-00"]));
    assert_eq!(disabled.code, 1, "{}{}", disabled.stdout, disabled.stderr);
    assert!(
        disabled.stdout.contains("EncryptionFailure") && disabled.stdout.contains("disabled"),
        "{}",
        disabled.stdout
    );
}
