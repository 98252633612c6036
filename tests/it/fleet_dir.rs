//! A copy of an example fleet in a temporary directory, and running the
//! fleetcert binary against it.

use std::path::{Path, PathBuf};
use std::process::Command;

use tempfile::TempDir;

use crate::harness::{Account, repo_root};

/// A fleet spec and the files it names, copied to a private directory (its
/// `out/` lands there too).
pub struct FleetDir {
    dir: TempDir,
}

/// Copy the directory tree `from` to `to`.
pub fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

impl FleetDir {
    /// The repository's root `fleet.yaml` with its CSRs and policy files.
    pub fn root_example() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let root = repo_root();
        std::fs::copy(root.join("fleet.yaml"), dir.path().join("fleet.yaml")).unwrap();
        copy_tree(&root.join("csr"), &dir.path().join("csr"));
        copy_tree(&root.join("policies"), &dir.path().join("policies"));
        Self { dir }
    }

    /// A spec written by the test.
    pub fn with_spec(yaml: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("fleet.yaml"), yaml).unwrap();
        Self { dir }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn spec_path(&self) -> PathBuf {
        self.path().join("fleet.yaml")
    }

    pub fn spec_text(&self) -> String {
        std::fs::read_to_string(self.spec_path()).unwrap()
    }

    /// Replace `from` (which must occur exactly once) by `to` in fleet.yaml.
    pub fn edit(&self, from: &str, to: &str) {
        let text = self.spec_text();
        assert_eq!(
            text.matches(from).count(),
            1,
            "fleet.yaml should contain {from:?} exactly once"
        );
        std::fs::write(self.spec_path(), text.replacen(from, to, 1)).unwrap();
    }

    pub fn write(&self, relative: &str, contents: &str) {
        let path = self.path().join(relative);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, contents).unwrap();
    }
}

/// What a finished fleetcert run printed.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    #[track_caller]
    pub fn success(self) -> Self {
        assert_eq!(
            self.code, 0,
            "fleetcert failed:\nstdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        self
    }
}

pub fn run(command: &mut Command) -> Run {
    let output = command.output().expect("run fleetcert");
    let run = Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    };
    assert!(
        !run.stderr.contains("panicked"),
        "fleetcert panicked:\n{}",
        run.stderr
    );
    run
}

/// `fleetcert apply --auto-approve` in `dir` for `account`; it must succeed.
pub fn apply_ok(account: &Account, dir: &Path) -> Run {
    run(account.fleetcert(dir).args(["apply", "--auto-approve"])).success()
}
