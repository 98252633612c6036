//! The attack corpus (`tests/attacks/<case>/`): what a pull request author
//! controls (fleet.yaml, every file beside it, what lands in `out/`) and the
//! pipeline's environment (the endpoint), each aimed at the pipeline's
//! secrets or at hanging it. Every case must exit 1 with its refusal, within
//! seconds, leak no canary secret from the environment or from a file
//! outside the repository, and change nothing in AWS or on disk.
//!
//! Each case is copied to `<tmp>/repo/` (a git work tree: it has `.git`),
//! beside `<tmp>/outside-secret.txt`; the symlinks, FIFOs, oversized files
//! and planted keys are made here at run time.

use std::io::Read;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use fleetcert::pki::keys::DeviceKey;
use fleetcert::safe_fs::Dir;

use crate::fleet_dir::copy_tree;
use crate::harness::{Account, repo_root, shared};

/// The most a case may take: a hang fails the test instead of blocking it.
const TIMEOUT: Duration = Duration::from_secs(10);

fn canary() -> String {
    format!("s3cr3t-canary-{}", std::process::id())
}

struct Case {
    name: &'static str,
    /// What stderr must contain (the refusal and where it was written).
    expect: &'static [&'static str],
    /// The fleetcert command lines that must each refuse it, in the repo.
    runs: &'static [&'static [&'static str]],
    /// Run (and required to succeed) before the "nothing changed" snapshot:
    /// what an honest pipeline did before the attack.
    prepare: &'static [&'static [&'static str]],
    setup: fn(&Path, &Path),
    env: &'static [(&'static str, &'static str)],
}

/// A spec case: `validate` refuses it as well as `plan`.
const SPEC: &[&[&str]] = &[&["validate"], &["plan"]];
/// A case only a command that reads AWS or `out/` sees.
const PLAN: &[&[&str]] = &[&["plan"]];

fn none(_: &Path, _: &Path) {}

fn mkfifo(path: &Path) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let status = Command::new("mkfifo").arg(path).status().unwrap();
    assert!(status.success(), "mkfifo {}", path.display());
}

fn link(target: &Path, at: &Path) {
    std::fs::create_dir_all(at.parent().unwrap()).unwrap();
    symlink(target, at).unwrap();
}

fn big(path: &Path, bytes: usize, head: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let mut text = String::with_capacity(bytes + 100);
    text.push_str(head);
    text.push_str(&"a".repeat(bytes));
    text.push_str(&canary());
    std::fs::write(path, text).unwrap();
}

fn cases() -> Vec<Case> {
    vec![
        Case {
            name: "absolute-policy",
            expect: &[
                "policy document `/proc/self/environ` is an absolute path",
                "--> fleet.yaml:7:15",
            ],
            runs: SPEC,
            prepare: &[],
            setup: none,
            env: &[],
        },
        Case {
            name: "absolute-include",
            expect: &[
                "include pattern `/proc/self/environ` is an absolute path",
                "--> fleet.yaml:5:11",
            ],
            runs: SPEC,
            prepare: &[],
            setup: none,
            env: &[],
        },
        Case {
            name: "absolute-dev-zero-csr",
            expect: &["CSR `/dev/zero` is an absolute path", "--> fleet.yaml:7:10"],
            runs: SPEC,
            prepare: &[],
            setup: none,
            env: &[],
        },
        Case {
            name: "dotdot-policy",
            expect: &[
                "policy document `policies/../../outside-secret.txt` leaves the repository with `..`",
                "--> fleet.yaml:7:15",
            ],
            runs: SPEC,
            prepare: &[],
            setup: none,
            env: &[],
        },
        Case {
            name: "dotdot-csr",
            expect: &[
                "CSR `../outside-secret.txt` leaves the repository with `..`",
                "--> fleet.yaml:7:10",
            ],
            runs: SPEC,
            prepare: &[],
            setup: none,
            env: &[],
        },
        Case {
            name: "dotdot-include",
            expect: &[
                "include pattern `../*.txt` leaves the repository with `..`",
                "--> fleet.yaml:5:11",
            ],
            runs: SPEC,
            prepare: &[],
            setup: none,
            env: &[],
        },
        Case {
            name: "symlink-policy",
            expect: &[
                "policy document `policies/environ.json` resolves to `/proc/",
                "outside the repository",
                "--> fleet.yaml:7:15",
            ],
            runs: SPEC,
            prepare: &[],
            setup: |repo, _| {
                link(
                    Path::new("/proc/self/environ"),
                    &repo.join("policies/environ.json"),
                )
            },
            env: &[],
        },
        Case {
            name: "symlink-spec",
            expect: &[
                "the spec `fleet.yaml` resolves to `/proc/",
                "outside the repository",
            ],
            runs: SPEC,
            prepare: &[],
            setup: |repo, _| {
                std::fs::remove_file(repo.join("fleet.yaml")).unwrap();
                link(Path::new("/proc/self/environ"), &repo.join("fleet.yaml"));
            },
            env: &[],
        },
        Case {
            name: "symlink-include",
            expect: &[
                "include pattern `devices/*.yaml` matches `devices/leak.yaml`, which resolves outside the repository",
                "--> fleet.yaml:5:11",
            ],
            runs: SPEC,
            prepare: &[],
            setup: |repo, _| {
                link(
                    Path::new("../../outside-secret.txt"),
                    &repo.join("devices/leak.yaml"),
                )
            },
            env: &[],
        },
        Case {
            name: "symlink-dev-zero-csr",
            expect: &[
                "CSR `csr/dev-1.csr` resolves to `/dev/zero`, outside the repository",
                "--> fleet.yaml:7:10",
            ],
            runs: SPEC,
            prepare: &[],
            setup: |repo, _| link(Path::new("/dev/zero"), &repo.join("csr/dev-1.csr")),
            env: &[],
        },
        Case {
            name: "output-dir-outside",
            expect: &[
                "`output.dir` `../out` leaves the repository with `..`",
                "--> fleet.yaml:5:15",
            ],
            runs: SPEC,
            prepare: &[],
            setup: none,
            env: &[],
        },
        Case {
            name: "output-dir-symlink",
            expect: &[
                "`output.dir` `out-link/fleet` resolves to",
                "outside the repository",
                "--> fleet.yaml:5:15",
            ],
            runs: SPEC,
            prepare: &[],
            setup: |repo, outside| {
                std::fs::create_dir_all(outside.join("elsewhere")).unwrap();
                link(&outside.join("elsewhere"), &repo.join("out-link"));
            },
            env: &[],
        },
        Case {
            name: "fifo-policy",
            expect: &[
                "cannot read policy document `policies/fifo.json`: it is not a regular file",
                "--> fleet.yaml:7:15",
            ],
            runs: SPEC,
            prepare: &[],
            setup: |repo, _| mkfifo(&repo.join("policies/fifo.json")),
            env: &[],
        },
        Case {
            name: "fifo-csr",
            expect: &[
                "cannot read CSR `csr/dev-1.csr`: it is not a regular file",
                "--> fleet.yaml:7:10",
            ],
            runs: SPEC,
            prepare: &[],
            setup: |repo, _| mkfifo(&repo.join("csr/dev-1.csr")),
            env: &[],
        },
        Case {
            name: "fifo-include",
            // A FIFO is not a file an include pattern matches.
            expect: &[
                "include pattern `devices/*.yaml` matches no file",
                "--> fleet.yaml:5:11",
            ],
            runs: SPEC,
            prepare: &[],
            setup: |repo, _| mkfifo(&repo.join("devices/fifo.yaml")),
            env: &[],
        },
        Case {
            name: "oversized-policy",
            expect: &[
                "cannot read policy document `policies/huge.json`: it is larger than 64 KiB",
                "--> fleet.yaml:7:15",
            ],
            runs: SPEC,
            prepare: &[],
            setup: |repo, _| {
                big(
                    &repo.join("policies/huge.json"),
                    10 << 20,
                    "{\"Version\": \"",
                )
            },
            env: &[],
        },
        Case {
            name: "oversized-include",
            expect: &["cannot read included file `devices/huge.yaml`: it is larger than 8192 KiB"],
            runs: SPEC,
            prepare: &[],
            setup: |repo, _| big(&repo.join("devices/huge.yaml"), 9 << 20, "# "),
            env: &[],
        },
        Case {
            name: "policy-long-line-not-json",
            expect: &[
                "policy document `policies/long.json` is not JSON",
                "--> policies/long.json:1:12",
                // the 60 KiB line is cut around the caret, rustc style
                "aaaa...\n",
            ],
            runs: SPEC,
            prepare: &[],
            setup: |repo, _| {
                big(
                    &repo.join("policies/long.json"),
                    60 << 10,
                    "{\"Version\" \"2012-10-17\", \"x\": \"",
                )
            },
            env: &[],
        },
        Case {
            name: "csr-long-pem-label",
            // The label comes from the file; the message quotes only its start.
            expect: &[
                "CSR `csr/dev-1.csr` holds a PEM `AAAA",
                "…",
                "--> fleet.yaml:7:10",
            ],
            runs: SPEC,
            prepare: &[],
            setup: |repo, _| {
                let label = format!("{}{}", "A".repeat(5000), canary());
                let pem = format!("-----BEGIN {label}-----\nAAAA\n-----END {label}-----\n");
                std::fs::create_dir_all(repo.join("csr")).unwrap();
                std::fs::write(repo.join("csr/dev-1.csr"), pem).unwrap();
            },
            env: &[],
        },
        Case {
            name: "pending-key-wrong-mode",
            expect: &["pending-key.pem: refusing to use this private key: its mode is 0644"],
            runs: PLAN,
            prepare: &[],
            setup: |repo, _| {
                let path = repo.join("out/dev-1/pending-key.pem");
                DeviceKey::generate().write(&path).unwrap();
                std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
            },
            env: &[],
        },
        Case {
            name: "pending-key-symlink",
            expect: &["pending-key.pem: refusing to use this private key: it is a symlink"],
            runs: PLAN,
            prepare: &[],
            setup: |repo, outside| {
                let planted = outside.join("keys/planted.pem");
                DeviceKey::generate().write(&planted).unwrap();
                Dir::create_all(&repo.join("out/dev-1")).unwrap();
                symlink(&planted, repo.join("out/dev-1/pending-key.pem")).unwrap();
            },
            env: &[],
        },
        Case {
            name: "rate-limit-over-quota",
            // A pull request must not spend the account's shared quota.
            expect: &[
                "rate_limits may not exceed AWS's default quota of 10/s for iot:RegisterCertificate",
                "--> fleet.yaml:8:28",
            ],
            runs: SPEC,
            prepare: &[],
            setup: none,
            env: &[],
        },
        Case {
            name: "rate-limit-misspelt",
            expect: &[
                "`iot:RegisterCertficate` is not an AWS operation fleetcert calls",
                "did you mean `iot:RegisterCertificate`?",
                "--> fleet.yaml:8:3",
            ],
            runs: SPEC,
            prepare: &[],
            setup: none,
            env: &[],
        },
        Case {
            name: "pending-key-wrong-owner",
            // Another user's key in a directory fleetcert trusts (the suite
            // runs as root, which may give a file away).
            expect: &["pending-key.pem: refusing to use this private key: it is owned by uid 4242"],
            runs: PLAN,
            prepare: &[],
            setup: |repo, _| {
                let path = repo.join("out/dev-1/pending-key.pem");
                DeviceKey::generate().write(&path).unwrap();
                std::os::unix::fs::chown(&path, Some(4242), None)
                    .expect("the attack corpus runs as root, to give a key to another user");
            },
            env: &[],
        },
        Case {
            name: "device-dir-symlink",
            // A committed `out/dev-1` link would take the certificate (and
            // for a generated key, the key) outside; refused before the
            // lock or any AWS call.
            expect: &[
                "out/dev-1: is a symlink; fleetcert writes into real files and directories only",
            ],
            runs: &[&["plan"], &["apply", "--auto-approve"]],
            prepare: &[],
            setup: |repo, outside| {
                std::fs::create_dir_all(outside.join("elsewhere")).unwrap();
                link(&outside.join("elsewhere"), &repo.join("out/dev-1"));
            },
            env: &[],
        },
        Case {
            name: "plan-file-symlink",
            expect: &[
                "cannot write plan file plan.json: is a symlink; fleetcert writes a plan only to a regular file",
            ],
            runs: &[&["plan", "--out", "plan.json"]],
            prepare: &[],
            setup: |repo, _| link(Path::new("../outside-secret.txt"), &repo.join("plan.json")),
            env: &[],
        },
        Case {
            name: "plan-from-another-spec",
            expect: &[
                "saved plan plan.json is stale: the spec changed since the plan was made (fleet.yaml)",
            ],
            runs: &[&["apply", "-f", "fleet.yaml", "plan.json"]],
            prepare: &[&["plan", "-f", "other.yaml", "--out", "plan.json"]],
            setup: none,
            env: &[],
        },
        Case {
            name: "edited-plan",
            expect: &[
                "saved plan plan.json is not the plan fleetcert derives from the spec and AWS",
                "the operations of policy.connect differ",
                "nothing was applied",
            ],
            runs: &[&["apply", "plan.json"]],
            prepare: &[&["plan", "--out", "plan.json"], &["edit-plan"]],
            setup: none,
            env: &[],
        },
        Case {
            name: "plain-http-endpoint",
            expect: &[
                "refusing the AWS endpoint `http://192.0.2.1:4566`",
                "--allow-insecure-endpoint",
            ],
            runs: PLAN,
            prepare: &[],
            setup: none,
            env: &[("AWS_ENDPOINT_URL", "http://192.0.2.1:4566")],
        },
        Case {
            name: "plain-http-endpoint",
            expect: &[
                "refusing the AWS endpoint `http://192.0.2.1:4566` (from AWS_ENDPOINT_URL_IOT)",
            ],
            runs: PLAN,
            prepare: &[],
            setup: none,
            env: &[("AWS_ENDPOINT_URL_IOT", "http://192.0.2.1:4566")],
        },
        Case {
            name: "plain-http-endpoint-profile",
            // The pipeline's AWS profile, not the flags or variables, names
            // a plain-http endpoint.
            expect: &[
                "refusing the AWS endpoint `http://192.0.2.1:4566` (from the AWS profile's endpoint_url)",
            ],
            runs: PLAN,
            prepare: &[],
            setup: none,
            env: &[
                ("AWS_ENDPOINT_URL", ""),
                ("AWS_CONFIG_FILE", "aws-config"),
                ("AWS_PROFILE", "attack"),
            ],
        },
    ]
}

/// Edit a saved plan as an attacker with write access to the artefact
/// would: widen the policy it creates to all of IoT, and recompute the
/// checksum (it is not keyed).
pub fn widen_the_policy(path: &Path) {
    use fleetcert::plan::Operation;
    let mut file = fleetcert::planfile::read(path).unwrap();
    let document = file
        .plan
        .changes
        .iter_mut()
        .flat_map(|c| c.operations.iter_mut())
        .find_map(|op| match op {
            Operation::CreatePolicy { document, .. } => Some(document),
            _ => None,
        })
        .expect("the plan creates a policy");
    *document =
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:*","Resource":"*"}]}"#
            .into();
    fleetcert::planfile::write(path, &file).unwrap();
}

/// Every path under `dir` with its length, or a symlink's target: what
/// "nothing changed on disk" compares.
fn snapshot_tree(dir: &Path) -> Vec<(PathBuf, String)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(next) = stack.pop() {
        for entry in std::fs::read_dir(&next).unwrap() {
            let entry = entry.unwrap();
            let kind = entry.file_type().unwrap();
            let what = if kind.is_symlink() {
                format!("-> {}", std::fs::read_link(entry.path()).unwrap().display())
            } else if kind.is_dir() {
                stack.push(entry.path());
                "dir".to_owned()
            } else {
                let meta = std::fs::symlink_metadata(entry.path()).unwrap();
                format!("{} bytes {:o}", meta.len(), meta.permissions().mode())
            };
            out.push((entry.path(), what));
        }
    }
    out.sort();
    out
}

/// Runs `command`, killing it after [`TIMEOUT`]: (exit code, stdout, stderr).
fn run_bounded(command: &mut Command, what: &str) -> (Option<i32>, String, String) {
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pipe = |mut reader: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            let _ = reader.read_to_end(&mut bytes);
            String::from_utf8_lossy(&bytes).into_owned()
        })
    };
    let stdout = pipe(Box::new(child.stdout.take().unwrap()));
    let stderr = pipe(Box::new(child.stderr.take().unwrap()));
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what}: still running after {TIMEOUT:?} (a hang)");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    (
        status.code(),
        stdout.join().unwrap(),
        stderr.join().unwrap(),
    )
}

fn run_case(case: &Case, account: &Account<'_>) {
    let tmp = tempfile::tempdir().unwrap();
    let outside = tmp.path();
    std::fs::write(
        outside.join("outside-secret.txt"),
        format!("{}\n", canary()),
    )
    .unwrap();
    let repo = outside.join("repo");
    copy_tree(&repo_root().join("tests/attacks").join(case.name), &repo);
    std::fs::create_dir(repo.join(".git")).unwrap();
    (case.setup)(&repo, outside);
    for command in case.prepare {
        if command == &["edit-plan"] {
            widen_the_policy(&repo.join("plan.json"));
            continue;
        }
        let (code, stdout, stderr) =
            run_bounded(account.fleetcert(&repo).args(*command), case.name);
        assert_eq!(
            code,
            Some(0),
            "{command:?}\nstdout:\n{stdout}\nstderr:\n{stderr}"
        );
    }
    let writes_before = account.writes();
    let before = snapshot_tree(outside);
    let had_out = repo.join("out").exists();
    for command in case.runs {
        let what = format!("{} ({})", case.name, command.join(" "));
        let mut child = account.fleetcert(&repo);
        child.args(*command).env("FLEETCERT_CANARY", canary());
        for (name, value) in case.env {
            match *value {
                "" => child.env_remove(name),
                value => child.env(name, value),
            };
        }
        let (code, stdout, stderr) = run_bounded(&mut child, &what);
        assert_eq!(
            code,
            Some(1),
            "{what}: exit code\nstdout:\n{stdout}\nstderr:\n{stderr}"
        );
        for expected in case.expect {
            assert!(
                stderr.contains(expected),
                "{what}: no `{expected}` in:\n{stderr}"
            );
        }
        for (name, text) in [("stdout", &stdout), ("stderr", &stderr)] {
            assert!(
                !text.contains(&canary()),
                "{what}: the canary secret is in {name}:\n{text}"
            );
            assert!(
                !text.contains("AWS_SECRET_ACCESS_KEY"),
                "{what}: the environment is in {name}"
            );
            assert!(
                text.len() < 8 << 10,
                "{what}: {} bytes of {name}",
                text.len()
            );
        }
    }
    assert_eq!(
        account.writes(),
        writes_before,
        "{}: AWS was changed",
        case.name
    );
    assert_eq!(
        snapshot_tree(outside),
        before,
        "{}: files changed",
        case.name
    );
    assert_eq!(
        repo.join("out").exists(),
        had_out,
        "{}: out/ was made",
        case.name
    );
}

#[test]
fn every_attack_is_refused_quickly_without_leaking_or_changing_anything() {
    let emulator = shared();
    let mut names: Vec<&str> = cases().iter().map(|c| c.name).collect();
    names.dedup();
    let on_disk: Vec<String> = {
        let mut dirs: Vec<String> = std::fs::read_dir(repo_root().join("tests/attacks"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        dirs.sort();
        dirs
    };
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(
        sorted, on_disk,
        "every case directory has its expectations here"
    );
    for case in cases() {
        let account = Account::new(emulator);
        let started = Instant::now();
        run_case(&case, &account);
        assert!(
            started.elapsed() < TIMEOUT,
            "{} took {:?}",
            case.name,
            started.elapsed()
        );
    }
}

/// The attacks' specs differ from a valid spec only in the attack: with the
/// attack undone, the same fleet plans (so each refusal is the attack's).
#[test]
fn the_attack_fleet_without_its_attack_plans() {
    let account = Account::new(shared());
    let tmp = tempfile::tempdir().unwrap();
    let repo = tmp.path().join("repo");
    copy_tree(
        &repo_root().join("tests/attacks/plain-http-endpoint"),
        &repo,
    );
    let (code, stdout, stderr) = run_bounded(account.fleetcert(&repo).arg("plan"), "plan");
    assert_eq!(code, Some(0), "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(stdout.contains("dev-1"), "{stdout}");
    assert_eq!(account.writes(), Vec::new());
}
