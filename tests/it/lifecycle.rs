//! Certificate lifecycle against the emulator: rotation before expiry (with
//! the emulator issuing "in the past"), the rotation overlap, revocation that
//! reaches PCA and IoT, the removal policies, and the blast-radius guard.

use std::collections::BTreeMap;

use crate::aws_check;
use crate::fleet_dir::{FleetDir, apply_ok, run};
use crate::harness::{Account, Emulator, shared};

/// A small fleet with generated keys; `lifecycle` is appended as YAML.
pub fn spec(fleet: &str, devices: &[&str], lifecycle: &str) -> String {
    let mut yaml = format!(
        "version: 1\nfleet: {fleet}\nca:\n  subject: {{common_name: {fleet} root}}\n  validity: 5y\n  iot: {{mode: sni_only}}\n\
         defaults:\n  validity: 10d\n  renew_before: 3d\n  policies: [telemetry]\npolicies:\n  telemetry:\n    document:\n\
         \x20     Version: \"2012-10-17\"\n      Statement: [{{Effect: Allow, Action: \"iot:Connect\", Resource: \"*\"}}]\ndevices:\n"
    );
    for device in devices {
        yaml.push_str(&format!("  - name: {device}\n"));
    }
    if devices.is_empty() {
        yaml = yaml.replace("devices:\n", "devices: []\n");
    }
    yaml.push_str("lifecycle:\n");
    yaml.push_str(lifecycle);
    yaml
}

fn revocations(emulator: &Emulator, account: &str) -> BTreeMap<String, String> {
    let all = emulator.control("GET", "pca/revocations", None);
    all.as_array()
        .unwrap()
        .iter()
        .filter(|r| r["account"] == account)
        .map(|r| {
            (
                r["serial"].as_str().unwrap().to_string(),
                r["reason"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn serial_of(pem: &str) -> String {
    fleetcert::pki::cert::parse_pem(pem).unwrap().serial
}

fn set_clock(emulator: &Emulator, offset_seconds: i64) {
    emulator.control(
        "POST",
        "config",
        Some(serde_json::json!({"clock_offset_seconds": offset_seconds})),
    );
}

/// Past the rotation overlap (fleetcert's clock two days on), the old
/// certificates (`old_serials`: device -> (id, serial)) are retired:
/// revoked in PCA and in IoT, leaving the new one ACTIVE.
async fn retire_after_the_overlap(
    emulator: &Emulator,
    account: &Account<'_>,
    fleet: &FleetDir,
    devices: &[&str],
    old_serials: &BTreeMap<&str, (String, String)>,
) {
    let iot = account.iot().await;
    // After the overlap (fleetcert's clock two days on): the old ones are
    // retired, revoked in PCA and in IoT. The plan made as of then is saved
    // and applied as reviewed (apply itself always plans against now).
    let in_2_days = jiff::Timestamp::now()
        .checked_add(jiff::SignedDuration::from_hours(2 * 24))
        .unwrap()
        .to_string();
    let retire = run(account.fleetcert(fleet.path()).args([
        "plan",
        "--detailed-exitcode",
        "--at",
        &in_2_days,
        "--out",
        "retire.plan",
    ]));
    assert_eq!(retire.code, 2, "{}", retire.stdout);
    assert!(retire.stdout.contains("3 to revoke"), "{}", retire.stdout);
    run(account
        .fleetcert(fleet.path())
        .args(["apply", "retire.plan"]))
    .success();
    let revoked = revocations(emulator, &account.id);
    for device in devices {
        let state = aws_check::device(&iot, device).await.unwrap();
        assert_eq!(
            state.active.len(),
            1,
            "{device}: exactly one ACTIVE certificate after the overlap"
        );
        assert_ne!(
            serial_of(&state.active[0].1),
            old_serials[*device].1,
            "{device}: the new certificate remains"
        );
        assert_eq!(
            revoked.get(&old_serials[*device].1).map(String::as_str),
            Some("SUPERSEDED"),
            "{device}: {revoked:?}"
        );
        assert_eq!(
            aws_check::certificate_status(&iot, &old_serials[*device].0).await,
            "REVOKED",
            "{device}: the retired certificate's IoT status"
        );
    }
}

#[tokio::test]
async fn certificates_rotate_before_expiry_and_old_ones_retire_after_the_overlap() {
    // Its own emulator: the test moves the PCA's clock.
    let emulator = Emulator::start(&[]);
    let devices = ["rot-1", "rot-2", "rot-3"];
    // A day of overlap: no plan races its end, reached with `plan --at`.
    let lifecycle = "  rotation_overlap: 1d\n  retire: revoke\n";

    // Fleet "fresh": issued now. Fleet "aged": issued 9 days ago (10-day validity).
    let fresh_account = Account::new(&emulator);
    let fresh = FleetDir::with_spec(&spec("fresh", &devices, lifecycle));
    apply_ok(&fresh_account, fresh.path());
    set_clock(&emulator, -9 * 86_400);
    let aged_account = Account::new(&emulator);
    let aged = FleetDir::with_spec(&spec("aged", &devices, lifecycle));
    apply_ok(&aged_account, aged.path());
    set_clock(&emulator, 0);

    // plan --at shows the fresh fleet's rotation ahead of time, and only then.
    let now = run(fresh_account
        .fleetcert(fresh.path())
        .args(["plan", "--detailed-exitcode"]))
    .success();
    assert!(now.stdout.contains("No changes."), "{}", now.stdout);
    let in_8_days = jiff::Timestamp::now()
        .checked_add(jiff::SignedDuration::from_hours(8 * 24))
        .unwrap()
        .to_string();
    let ahead = run(fresh_account.fleetcert(fresh.path()).args([
        "plan",
        "--detailed-exitcode",
        "--at",
        &in_8_days,
    ]));
    assert_eq!(ahead.code, 2, "{}{}", ahead.stdout, ahead.stderr);
    for device in devices {
        assert!(
            ahead
                .stdout
                .contains(&format!("+/- device.{device}.certificate")),
            "{}",
            ahead.stdout
        );
    }
    assert!(
        ahead.stdout.contains("within renew_before 3d"),
        "{}",
        ahead.stdout
    );

    // The aged fleet is due now: every device rotates, new first.
    let due = run(aged_account
        .fleetcert(aged.path())
        .args(["plan", "--detailed-exitcode"]));
    assert_eq!(due.code, 2);
    assert!(
        due.stdout
            .contains("Plan: 0 to add, 0 to change, 3 to replace, 0 to revoke, 0 to delete."),
        "{}",
        due.stdout
    );
    let iot = aged_account.iot().await;
    let mut old_serials = BTreeMap::new();
    for device in devices {
        let state = aws_check::device(&iot, device).await.unwrap();
        assert_eq!(state.active.len(), 1);
        let (id, pem, _) = &state.active[0];
        old_serials.insert(device, (id.clone(), serial_of(pem)));
    }
    apply_ok(&aged_account, aged.path());
    for device in devices {
        let state = aws_check::device(&iot, device).await.unwrap();
        assert_eq!(
            state.active.len(),
            2,
            "{device}: the old certificate stays ACTIVE during the overlap"
        );
        for (_, _, policies) in &state.active {
            assert!(
                policies.contains("telemetry"),
                "{device}: both certificates carry the policies"
            );
        }
    }
    // During the overlap: no changes, a warning per device.
    let during = run(aged_account
        .fleetcert(aged.path())
        .args(["plan", "--detailed-exitcode"]))
    .success();
    assert!(
        during.stdout.contains("stays ACTIVE until"),
        "{}",
        during.stdout
    );

    retire_after_the_overlap(&emulator, &aged_account, &aged, &devices, &old_serials).await;
    let settled = run(aged_account
        .fleetcert(aged.path())
        .args(["plan", "--detailed-exitcode"]))
    .success();
    assert!(settled.stdout.contains("No changes."), "{}", settled.stdout);
}

#[tokio::test]
async fn removal_policies_revoke_deactivate_or_keep() {
    let emulator = shared();
    for (on_removal, expected_status) in [
        ("revoke", "REVOKED"),
        ("deactivate", "INACTIVE"),
        ("keep", "ACTIVE"),
    ] {
        let account = Account::new(emulator);
        let lifecycle = format!("  on_removal: {on_removal}\n  delete_things: true\n");
        let fleet = FleetDir::with_spec(&spec(
            "removal",
            &["stay-1", "stay-2", "leave-1"],
            &lifecycle,
        ));
        apply_ok(&account, fleet.path());
        let iot = account.iot().await;
        let before = aws_check::device(&iot, "leave-1").await.unwrap();
        let (cert_id, pem, _) = before.active[0].clone();

        fleet.edit("  - name: leave-1\n", "");
        let applied = apply_ok(&account, fleet.path());
        crate::harness::wait_for_detachments();
        let described = iot
            .describe_certificate()
            .certificate_id(&cert_id)
            .send()
            .await
            .unwrap();
        let status = described
            .certificate_description()
            .unwrap()
            .status()
            .unwrap()
            .as_str()
            .to_string();
        assert_eq!(
            status, expected_status,
            "on_removal {on_removal}:\n{}",
            applied.stdout
        );
        let revoked = revocations(emulator, &account.id);
        let thing = iot.describe_thing().thing_name("leave-1").send().await;
        match on_removal {
            "revoke" => {
                assert_eq!(
                    revoked.get(&serial_of(&pem)).map(String::as_str),
                    Some("CESSATION_OF_OPERATION")
                );
                let cert_arn = described
                    .certificate_description()
                    .unwrap()
                    .certificate_arn()
                    .unwrap()
                    .to_string();
                let policies = iot
                    .list_attached_policies()
                    .target(&cert_arn)
                    .send()
                    .await
                    .unwrap();
                assert!(
                    policies.policies().is_empty(),
                    "a revoked certificate is detached from its policies"
                );
                assert!(thing.is_err(), "the thing is deleted (delete_things: true)");
            }
            "deactivate" => {
                assert!(revoked.is_empty(), "deactivate never revokes in PCA");
                assert!(thing.is_ok(), "deactivate keeps the thing");
            }
            _ => {
                assert!(revoked.is_empty());
                assert!(thing.is_ok());
                assert!(applied.stdout.contains("No changes."), "{}", applied.stdout);
            }
        }
        // The devices that stayed are untouched, and the fleet has converged.
        for device in ["stay-1", "stay-2"] {
            assert_eq!(
                aws_check::device(&iot, device).await.unwrap().active.len(),
                1
            );
        }
        let settled = run(account
            .fleetcert(fleet.path())
            .args(["plan", "--detailed-exitcode"]))
        .success();
        assert!(
            settled.stdout.contains("No changes."),
            "{on_removal}: {}",
            settled.stdout
        );
    }
}

#[tokio::test]
async fn a_device_marked_revoked_is_revoked_in_pca_and_iot_with_its_reason() {
    let account = Account::new(shared());
    let fleet = FleetDir::with_spec(&spec(
        "stolen",
        &["ok-1", "stolen-1"],
        "  on_removal: revoke\n",
    ));
    apply_ok(&account, fleet.path());
    let iot = account.iot().await;
    let (cert_id, pem, _) = aws_check::device(&iot, "stolen-1").await.unwrap().active[0].clone();

    fleet.edit(
        "  - name: stolen-1\n",
        "  - name: stolen-1\n    revoked: true\n    revocation_reason: key_compromise\n",
    );
    let plan = run(account.fleetcert(fleet.path()).args(["plan"])).success();
    assert!(
        plan.stdout
            .contains("the spec revokes device stolen-1 (revocation_reason: key_compromise)"),
        "{}",
        plan.stdout
    );
    apply_ok(&account, fleet.path());
    crate::harness::wait_for_detachments();

    assert_eq!(
        aws_check::certificate_status(&iot, &cert_id).await,
        "REVOKED"
    );
    let revoked = revocations(shared(), &account.id);
    assert_eq!(
        revoked.get(&serial_of(&pem)).map(String::as_str),
        Some("KEY_COMPROMISE")
    );
    let principals = iot
        .list_thing_principals()
        .thing_name("stolen-1")
        .send()
        .await
        .unwrap();
    assert!(
        principals.principals().is_empty(),
        "the revoked certificate is detached from its thing"
    );
    assert_eq!(
        aws_check::device(&iot, "ok-1").await.unwrap().active.len(),
        1
    );
    let settled = run(account
        .fleetcert(fleet.path())
        .args(["plan", "--detailed-exitcode"]))
    .success();
    assert!(settled.stdout.contains("No changes."), "{}", settled.stdout);
}

#[tokio::test]
async fn replace_reissues_a_leaked_certificate_and_revokes_the_old_one_first() {
    let account = Account::new(shared());
    let fleet = FleetDir::with_spec(&spec("leak", &["leaky", "fine"], "  on_removal: revoke\n"));
    apply_ok(&account, fleet.path());
    let iot = account.iot().await;
    let (old_id, old_pem, _) = aws_check::device(&iot, "leaky").await.unwrap().active[0].clone();
    let old_key = std::fs::read(fleet.path().join("out/leaky/private-key.pem")).unwrap();

    let unknown = run(account.fleetcert(fleet.path()).args([
        "apply",
        "--auto-approve",
        "--replace",
        "nobody",
    ]));
    assert_eq!(unknown.code, 1);
    assert!(
        unknown.stderr.contains("--replace nobody"),
        "{}",
        unknown.stderr
    );

    let replaced = run(account.fleetcert(fleet.path()).args([
        "apply",
        "--auto-approve",
        "--replace",
        "leaky",
    ]))
    .success();
    assert!(
        replaced.stdout.contains("-/+ device.leaky.certificate"),
        "{}",
        replaced.stdout
    );
    let state = aws_check::device(&iot, "leaky").await.unwrap();
    assert_eq!(state.active.len(), 1);
    assert_ne!(state.active[0].0, old_id);
    assert_eq!(
        aws_check::certificate_status(&iot, &old_id).await,
        "REVOKED"
    );
    assert_eq!(
        revocations(shared(), &account.id)
            .get(&serial_of(&old_pem))
            .map(String::as_str),
        Some("KEY_COMPROMISE")
    );
    let new_key = std::fs::read(fleet.path().join("out/leaky/private-key.pem")).unwrap();
    assert_ne!(new_key, old_key, "a leaked key is never reused");
    let settled = run(account
        .fleetcert(fleet.path())
        .args(["plan", "--detailed-exitcode"]))
    .success();
    assert!(settled.stdout.contains("No changes."), "{}", settled.stdout);
}

#[tokio::test]
async fn losing_most_of_the_device_list_is_refused_without_allow_destructive() {
    let account = Account::new(shared());
    let names: Vec<String> = (1..=50).map(|i| format!("unit-{i:02}")).collect();
    let all: Vec<&str> = names.iter().map(String::as_str).collect();
    let fleet = FleetDir::with_spec(&spec(
        "guarded",
        &all,
        "  on_removal: revoke\n  max_destructive_changes: 100\n",
    ));
    run(account
        .fleetcert(fleet.path())
        .args(["apply", "--auto-approve", "--concurrency", "32"]))
    .success();

    // All but one device gone (a lost include, a bad merge).
    std::fs::write(
        fleet.spec_path(),
        spec(
            "guarded",
            &all[..1],
            "  on_removal: revoke\n  max_destructive_changes: 100\n",
        ),
    )
    .unwrap();
    let plan = run(account.fleetcert(fleet.path()).args(["plan"])).success();
    assert!(
        plan.stdout
            .contains("Guard: apply refuses this plan without --allow-destructive"),
        "{}",
        plan.stdout
    );
    let refused = run(account
        .fleetcert(fleet.path())
        .args(["apply", "--auto-approve"]));
    assert_eq!(refused.code, 1);
    assert!(
        refused
            .stderr
            .contains("49 of the fleet's 50 live devices are missing from the spec"),
        "{}",
        refused.stderr
    );

    // Nothing changed, in AWS or on disk.
    let iot = account.iot().await;
    let mut certificates = BTreeMap::new();
    for name in &all {
        let state = aws_check::device(&iot, name).await.unwrap();
        assert_eq!(state.active.len(), 1, "{name} was touched");
        certificates.insert(name.to_string(), state.active[0].0.clone());
    }
    let files = device_files(fleet.path());
    assert_eq!(files.len(), 50 * 5, "five files per device");

    // Too many destructive changes by count trips the guard too.
    let lifecycle = "  on_removal: deactivate\n  max_destructive_changes: 2\n";
    std::fs::write(fleet.spec_path(), spec("guarded", &all[..47], lifecycle)).unwrap();
    let refused = run(account
        .fleetcert(fleet.path())
        .args(["apply", "--auto-approve"]));
    assert_eq!(refused.code, 1);
    assert!(
        refused
            .stderr
            .contains("more than lifecycle.max_destructive_changes (2)"),
        "{}",
        refused.stderr
    );
    for name in &all[47..] {
        assert_eq!(
            aws_check::certificate_status(&iot, &certificates[*name]).await,
            "ACTIVE",
            "{name}: refused, yet changed"
        );
    }
    // With --allow-destructive it goes through: the removed devices' certificates
    // are INACTIVE, the others as they were; no file changed (keys stay).
    run(account
        .fleetcert(fleet.path())
        .args(["apply", "--auto-approve", "--allow-destructive"]))
    .success();
    for (name, id) in &certificates {
        let removed = all[47..].contains(&name.as_str());
        assert_eq!(
            aws_check::certificate_status(&iot, id).await,
            if removed { "INACTIVE" } else { "ACTIVE" },
            "{name}"
        );
    }
    assert_eq!(device_files(fleet.path()), files, "files on disk changed");
    assert!(
        revocations(shared(), &account.id).is_empty(),
        "deactivate never revokes"
    );
    let settled = run(account
        .fleetcert(fleet.path())
        .args(["plan", "--detailed-exitcode"]))
    .success();
    assert!(settled.stdout.contains("No changes."), "{}", settled.stdout);
}

/// Every file under `dir/out`: relative path -> contents.
fn device_files(dir: &std::path::Path) -> BTreeMap<String, Vec<u8>> {
    let mut files = BTreeMap::new();
    for device in std::fs::read_dir(dir.join("out")).unwrap() {
        let device = device.unwrap().path();
        for file in std::fs::read_dir(&device).unwrap() {
            let path = file.unwrap().path();
            let relative = path.strip_prefix(dir).unwrap().display().to_string();
            files.insert(relative, std::fs::read(&path).unwrap());
        }
    }
    files
}
