//! The corpus of invalid specs (`tests/spec_corpus/<case>/fleet.yaml` and the
//! files it names): `fleetcert validate` must exit 1 without panicking, and
//! its report (snapshotted, one snapshot per case) must name every error's
//! file, line and column.

use std::path::{Path, PathBuf};
use std::process::Command;

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/spec_corpus")
}

fn cases() -> Vec<(String, PathBuf)> {
    let mut cases: Vec<(String, PathBuf)> = std::fs::read_dir(corpus_dir())
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.join("fleet.yaml").is_file())
        .map(|path| {
            (
                path.file_name().unwrap().to_string_lossy().into_owned(),
                path,
            )
        })
        .collect();
    cases.sort();
    cases
}

/// Runs `fleetcert validate -f fleet.yaml` in `dir`: (exit code, stdout, stderr).
pub fn validate_in(dir: &Path) -> (Option<i32>, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_fleetcert"))
        .args(["validate", "-f", "fleet.yaml"])
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env_remove("GITHUB_ACTIONS")
        .output()
        .unwrap();
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn corpus_has_enough_cases() {
    assert!(cases().len() >= 40, "only {} corpus cases", cases().len());
}

#[test]
fn every_invalid_spec_is_reported_with_its_position() {
    let root = env!("CARGO_MANIFEST_DIR");
    for (name, dir) in cases() {
        let (code, stdout, stderr) = validate_in(&dir);
        assert_eq!(
            code,
            Some(1),
            "{name}: expected exit 1\nstdout:\n{stdout}\nstderr:\n{stderr}"
        );
        assert!(!stderr.contains("panicked"), "{name} panicked:\n{stderr}");
        assert!(
            !stderr.contains(root),
            "{name}: absolute path in the report:\n{stderr}"
        );
        assert!(stdout.is_empty(), "{name}: stdout is not empty:\n{stdout}");
        assert!(
            stderr.contains("error: ") && stderr.contains("--> "),
            "{name}:\n{stderr}"
        );
        snapshot!(name.as_str(), stderr);
    }
}
