//! The commands around the workflow: `show` (a saved plan, from the file
//! alone), `init` (a starter fleet that validates), `completions`, `man`,
//! `--version`, `--color` and NO_COLOR, and GitHub workflow-command
//! annotations of spec errors.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use crate::fleet_dir::{FleetDir, Run, run};
use crate::harness::{Account, repo_root, shared};
use crate::import::files_under;

/// The fleetcert binary in `dir` with no AWS, GitHub or colour settings from
/// the environment the tests run in.
fn fleetcert(dir: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_fleetcert"));
    command.current_dir(dir);
    for name in [
        "GITHUB_ACTIONS",
        "GITHUB_WORKSPACE",
        "NO_COLOR",
        "CLICOLOR",
        "CLICOLOR_FORCE",
    ] {
        command.env_remove(name);
    }
    command
}

const ESC: &str = "\u{1b}[";

// ------------------------------------------------------------------ show

/// `fleetcert show` in `dir` with an empty environment: no AWS credentials,
/// region or endpoint, no home directory with profiles.
fn show(dir: &Path, args: &[&str]) -> Run {
    let mut command = fleetcert(dir);
    command.env_clear().arg("show").args(args);
    run(&mut command)
}

#[test]
fn show_prints_a_saved_plan_as_plan_did_without_the_spec_or_aws() {
    let account = Account::new(shared());
    let fleet = FleetDir::root_example();
    let at = ["--at", "2027-01-03T00:00:00Z"];
    let mut planned = BTreeMap::new();
    for format in ["text", "json", "markdown"] {
        let out = format!("{format}.plan");
        let made = run(account
            .fleetcert(fleet.path())
            .args(["plan", "--format", format, "--out", &out])
            .args(at))
        .success();
        planned.insert(format, (out, made.stdout));
    }
    // The spec and the files it names are gone: show needs only the plan.
    std::fs::remove_file(fleet.spec_path()).unwrap();
    std::fs::remove_dir_all(fleet.path().join("policies")).unwrap();
    for (format, (out, stdout)) in &planned {
        let shown = show(fleet.path(), &[out, "--format", format]).success();
        assert_eq!(&shown.stdout, stdout, "{format}");
        snapshot!(
            format!("show_{format}"),
            shown.stdout,
            [(r"\b[0-9a-f]{10,64}\b", "[id]")]
        );
        assert!(
            shown.stderr.contains("for fleet factory-a"),
            "{}",
            shown.stderr
        );
    }
    // Text is the default format, and `--color` drives its colour.
    let text = &planned["text"];
    assert_eq!(show(fleet.path(), &[&text.0]).stdout, text.1);
    assert!(!text.1.contains(ESC));
    let colored = show(fleet.path(), &["--color", "always", &text.0]).success();
    assert!(colored.stdout.contains(ESC), "{}", colored.stdout);
    refuses_bad_plan_files_as_apply_does(&account, fleet.path(), &text.0);
}

/// Each kind of bad plan file: `show` fails as `apply PLAN` does, with the
/// same message (naming the file) and exit 1.
fn refuses_bad_plan_files_as_apply_does(account: &Account, dir: &Path, good: &str) {
    let text = std::fs::read_to_string(dir.join(good)).unwrap();
    let version = format!("\"format_version\":{}", fleetcert::planfile::FORMAT_VERSION);
    let cases = [
        ("empty.plan", String::new()),
        ("cut.plan", text[..text.len() / 2].to_owned()),
        (
            "version.plan",
            text.replacen(&version, "\"format_version\":99", 1),
        ),
        (
            "edited.plan",
            text.replacen("\"fleet\":\"factory-a\"", "\"fleet\":\"factory-b\"", 1),
        ),
        ("other.plan", "{\"kind\": \"something-else\"}".to_owned()),
    ];
    for (name, contents) in cases {
        assert_ne!(contents, text, "{name} is a changed copy");
        std::fs::write(dir.join(name), contents).unwrap();
        let shown = show(dir, &[name]);
        let applied = run(account.fleetcert(dir).args(["apply", name]));
        assert_eq!((shown.code, applied.code), (1, 1), "{name}");
        assert_eq!(shown.stderr, applied.stderr, "{name}");
        assert!(shown.stderr.contains(name), "{}", shown.stderr);
        assert!(shown.stdout.is_empty(), "{}", shown.stdout);
    }
    let missing = show(dir, &["missing.plan"]);
    assert_eq!(missing.code, 1);
    assert!(
        missing
            .stderr
            .contains("cannot read plan file missing.plan"),
        "{}",
        missing.stderr
    );
}

// ------------------------------------------------------------------ init

#[test]
fn init_writes_a_starter_fleet_that_validates_and_never_overwrites() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("new-fleet");
    let written = run(fleetcert(dir.path()).args([
        "init",
        "--dir",
        "new-fleet",
        "--fleet",
        "factory-b",
        "--region",
        "eu-west-1",
    ]))
    .success();
    assert!(
        written.stdout.contains("new-fleet/fleet.yaml"),
        "{}",
        written.stdout
    );
    let files = files_under(&target);
    let names: Vec<&str> = files.keys().map(String::as_str).collect();
    assert_eq!(
        names,
        [
            ".gitignore",
            "fleet.yaml",
            "policies/device.json",
            "schema/fleet.schema.json"
        ]
    );
    for name in [".gitignore", "fleet.yaml", "policies/device.json"] {
        let text = String::from_utf8(files[name].clone()).unwrap();
        let name = name.trim_start_matches('.').replace(['/', '.'], "_");
        snapshot!(format!("init_{name}"), text);
    }
    let schema = run(fleetcert(dir.path()).arg("schema")).success();
    assert_eq!(files["schema/fleet.schema.json"], schema.stdout.as_bytes());
    let policy: serde_json::Value = serde_json::from_slice(&files["policies/device.json"]).unwrap();
    assert_eq!(policy["Version"], "2012-10-17");

    // The starter policy is least-privilege: no finding, even under --strict.
    let valid = run(fleetcert(&target).args(["validate", "--strict"])).success();
    assert!(valid.stdout.contains("no findings"), "{}", valid.stdout);
    assert!(
        valid.stdout.contains(
            "fleet factory-b is valid: 1 device (1 generated key), 1 policy, CA to create"
        ),
        "{}",
        valid.stdout
    );

    // A second init, and one where only one of its files exists, refuse,
    // name the files and write nothing.
    let again = run(fleetcert(dir.path()).args(["init", "--dir", "new-fleet"]));
    assert_eq!(again.code, 1, "{}{}", again.stdout, again.stderr);
    assert!(
        again.stderr.contains("new-fleet/fleet.yaml"),
        "{}",
        again.stderr
    );
    assert!(
        again.stderr.contains("new-fleet/.gitignore"),
        "{}",
        again.stderr
    );
    assert_eq!(files_under(&target), files);
    let partial = dir.path().join("partial");
    std::fs::create_dir(&partial).unwrap();
    std::fs::write(partial.join(".gitignore"), "mine\n").unwrap();
    let refused = run(fleetcert(&partial).arg("init"));
    assert_eq!(refused.code, 1, "{}{}", refused.stdout, refused.stderr);
    assert!(
        refused
            .stderr
            .contains("refusing to overwrite .gitignore: fleetcert init never replaces a file; nothing was written"),
        "{}",
        refused.stderr
    );
    let left = files_under(&partial);
    assert_eq!(left.keys().collect::<Vec<_>>(), [".gitignore"]);
}

#[test]
fn init_refuses_a_bad_fleet_name_or_region_before_writing() {
    let dir = tempfile::tempdir().unwrap();
    for args in [["--fleet", "my fleet"], ["--region", "Tokyo"]] {
        let refused = run(fleetcert(dir.path()).arg("init").args(args));
        assert_eq!(refused.code, 1, "{args:?}");
        assert!(refused.stderr.contains(args[0]), "{}", refused.stderr);
    }
    assert!(files_under(dir.path()).is_empty());
    // Without --region the spec leaves it to the AWS chain, and validates.
    run(fleetcert(dir.path()).arg("init")).success();
    run(fleetcert(dir.path()).arg("validate")).success();
}

#[test]
fn the_commented_csr_device_of_init_validates_once_uncommented() {
    let dir = tempfile::tempdir().unwrap();
    run(fleetcert(dir.path()).arg("init")).success();
    let spec = dir.path().join("fleet.yaml");
    let text = std::fs::read_to_string(&spec).unwrap();
    let commented = "  # - name: device-002\n  #   csr: csr/device-002.csr\n";
    assert!(text.contains(commented), "{text}");
    let text = text.replace(
        commented,
        "  - name: device-002\n    csr: csr/device-002.csr\n",
    );
    std::fs::write(&spec, text).unwrap();
    std::fs::create_dir(dir.path().join("csr")).unwrap();
    std::fs::write(
        dir.path().join("csr/device-002.csr"),
        crate::emulator_flow::p256_csr("device-002"),
    )
    .unwrap();
    let valid = run(fleetcert(dir.path()).arg("validate")).success();
    assert!(
        valid.stdout.contains("2 devices (1 CSR, 1 generated key)"),
        "{}",
        valid.stdout
    );
}

// --------------------------------------------------- completions and man

fn first_lines(text: &str, n: usize) -> String {
    text.lines().take(n).collect::<Vec<_>>().join("\n")
}

#[test]
fn completions_for_every_shell_and_the_bash_script_loads() {
    let dir = tempfile::tempdir().unwrap();
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let script = run(fleetcert(dir.path()).args(["completions", shell])).success();
        assert!(script.stdout.contains("fleetcert"), "{shell}");
        assert!(script.stdout.contains("force-unlock"), "{shell}");
    }
    let bash = run(fleetcert(dir.path()).args(["completions", "bash"])).success();
    snapshot!("completions_bash_head", first_lines(&bash.stdout, 30));
    // Bash parses it and it registers a completion for fleetcert.
    let script = dir.path().join("fleetcert.bash");
    std::fs::write(&script, &bash.stdout).unwrap();
    let loaded = Command::new("bash")
        .arg("-c")
        .arg(format!(". {} && complete -p fleetcert", script.display()))
        .output()
        .unwrap();
    assert!(
        loaded.status.success(),
        "{}",
        String::from_utf8_lossy(&loaded.stderr)
    );
    assert!(String::from_utf8_lossy(&loaded.stdout).contains("fleetcert"));
    let refused = run(fleetcert(dir.path()).args(["completions", "tcsh"]));
    assert_eq!(refused.code, 1);
}

#[test]
fn man_is_one_roff_stream_with_a_page_per_command() {
    let dir = tempfile::tempdir().unwrap();
    let man = run(fleetcert(dir.path()).arg("man")).success();
    snapshot!(
        "man_head",
        first_lines(&man.stdout, 12),
        [(
            r"\d+\.\d+\.\d+ \([0-9a-f]+\)|\d+\.\d+\.\d+ \(unknown\)",
            "[version]"
        )]
    );
    for page in [
        "fleetcert",
        "fleetcert-plan",
        "fleetcert-show",
        "fleetcert-init",
    ] {
        assert!(
            man.stdout.contains(&format!(".TH {page} 1")),
            "no page {page}"
        );
    }
    assert!(!man.stdout.contains(".TH fleetcert-help"));
}

// ------------------------------------------------------------- --version

#[test]
fn version_names_the_commit_and_the_aws_sdk_crates_of_cargo_lock() {
    let dir = tempfile::tempdir().unwrap();
    let version = run(fleetcert(dir.path()).arg("--version")).success();
    let lines: Vec<&str> = version.stdout.lines().collect();
    assert_eq!(lines[0], format!("fleetcert {}", env!("CARGO_PKG_VERSION")));
    let commit = lines[1].strip_prefix("commit: ").expect("a commit line");
    let git = Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .current_dir(repo_root())
        .output()
        .ok()
        .filter(|o| o.status.success());
    match git {
        Some(out) => assert_eq!(commit, String::from_utf8_lossy(&out.stdout).trim()),
        None => assert_eq!(commit, "unknown"),
    }
    assert!(
        commit == "unknown" || (commit.len() >= 7 && commit.chars().all(|c| c.is_ascii_hexdigit())),
        "{commit}"
    );
    let sdk: Vec<String> = lock_packages()
        .into_iter()
        .filter(|(name, _)| name.starts_with("aws-sdk-"))
        .map(|(name, version)| format!("{name} {version}"))
        .collect();
    assert!(sdk.len() >= 4, "{sdk:?}");
    assert_eq!(
        lines[2..],
        sdk.iter().map(String::as_str).collect::<Vec<_>>()[..]
    );
    // -V is one line: the version and the commit.
    let short = run(fleetcert(dir.path()).arg("-V")).success();
    assert_eq!(
        short.stdout.trim(),
        format!("fleetcert {} ({commit})", env!("CARGO_PKG_VERSION"))
    );
}

/// (name, version) of every `[[package]]` in Cargo.lock, sorted: each
/// `name = "..."` line is followed by its `version = "..."` line.
fn lock_packages() -> Vec<(String, String)> {
    let lock = std::fs::read_to_string(repo_root().join("Cargo.lock")).unwrap();
    let unquote = |line: &str, key: &str| {
        line.strip_prefix(key)
            .map(|value| value.trim_matches('"').to_owned())
    };
    let lines: Vec<&str> = lock.lines().collect();
    let mut packages: Vec<(String, String)> = lines
        .windows(2)
        .filter_map(|pair| {
            Some((
                unquote(pair[0], "name = ")?,
                unquote(pair[1], "version = ")?,
            ))
        })
        .collect();
    packages.sort();
    packages
}

// ------------------------------------------------------- colour, NO_COLOR

#[test]
fn color_flag_and_no_color_drive_the_spec_error_report() {
    let fleet = FleetDir::with_spec(BAD_REGION);
    let validate = |color: Option<&str>, no_color: bool| {
        let mut command = fleetcert(fleet.path());
        command.arg("validate");
        if let Some(when) = color {
            command.args(["--color", when]);
        }
        if no_color {
            command.env("NO_COLOR", "1");
        }
        let out = run(&mut command);
        assert_eq!(out.code, 1, "{}", out.stderr);
        out.stderr
    };
    assert!(validate(Some("always"), false).contains(ESC));
    // `always` wins over NO_COLOR, as a flag given on purpose should.
    assert!(validate(Some("always"), true).contains(ESC));
    assert!(!validate(Some("never"), false).contains(ESC));
    assert!(!validate(None, true).contains(ESC));
    // Not a terminal: no colour by default.
    assert!(!validate(None, false).contains(ESC));
    assert!(!validate(Some("auto"), false).contains(ESC));
}

// ---------------------------------------------------------- annotations

const BAD_REGION: &str =
    "version: 1\nfleet: corpus\nregion: tokyo\nca:\n  subject: {common_name: Corpus Root CA}\n";

#[test]
fn spec_errors_are_github_workflow_commands_in_actions() {
    let fleet = FleetDir::with_spec(BAD_REGION);
    let expected = "::error file=fleet.yaml,line=3,col=9,endLine=3,endColumn=13,title=fleetcert\
                    ::`tokyo` is not an AWS region%0Ahelp: a region looks like `ap-northeast-1`, \
                    `us-east-1` or `us-gov-west-1`\n";
    let actions = run(fleetcert(fleet.path())
        .arg("validate")
        .env("GITHUB_ACTIONS", "true"));
    assert_eq!(actions.code, 1);
    assert_eq!(actions.stdout, expected);
    // The report for people is unchanged, on stderr.
    assert!(
        actions.stderr.contains(" --> fleet.yaml:3:9"),
        "{}",
        actions.stderr
    );
    let asked = run(fleetcert(fleet.path()).args(["validate", "--format", "github"]));
    assert_eq!((asked.code, asked.stdout.as_str()), (1, expected));
    // plan fails on the spec before reaching AWS.
    let plan = run(fleetcert(fleet.path()).args(["plan", "--format", "github"]));
    assert_eq!((plan.code, plan.stdout.as_str()), (1, expected));
    let plain = run(fleetcert(fleet.path()).arg("validate"));
    assert_eq!((plain.code, plain.stdout.as_str()), (1, ""));
    let off = run(fleetcert(fleet.path())
        .arg("validate")
        .env("GITHUB_ACTIONS", "false"));
    assert_eq!(off.stdout, "");
}

#[test]
fn annotation_paths_are_relative_to_the_workspace_and_escaped() {
    let repo = tempfile::tempdir().unwrap();
    let infra = repo.path().join("infra");
    std::fs::create_dir_all(infra.join("policies")).unwrap();
    std::fs::write(
        infra.join("fleet.yaml"),
        "version: 1\nfleet: corpus\nca:\n  subject: {common_name: Corpus Root CA}\n\
         policies:\n  odd:\n    document: \"policies/a,b.json\"\n",
    )
    .unwrap();
    std::fs::write(
        infra.join("policies/a,b.json"),
        "{\"Version\": \"2012-10-17\",}\n",
    )
    .unwrap();
    // A step with `working-directory: infra`: GitHub wants paths from the
    // repository's root.
    let out = run(fleetcert(&infra)
        .arg("validate")
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_WORKSPACE", repo.path()));
    assert_eq!(out.code, 1, "{}", out.stderr);
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.len(), 1, "{}", out.stdout);
    assert!(
        lines[0].starts_with("::error file=infra/policies/a%2Cb.json,line=1,col="),
        "{}",
        lines[0]
    );
    assert!(
        lines[0].contains(
            "title=fleetcert::policy document `policies/a,b.json` is not JSON: trailing comma%0Ahelp: "
        ),
        "{}",
        lines[0]
    );
}
