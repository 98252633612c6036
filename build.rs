//! What `fleetcert --version` says beyond the crate's version: the git
//! commit it was built from (`unknown` outside a git checkout, or without
//! git) and the AWS SDK crates it was built with, read from Cargo.lock.
//!
//! Emits `FLEETCERT_GIT_COMMIT` and writes `$OUT_DIR/long-version.txt`.
//! Reruns when Cargo.lock changes or HEAD moves: the HEAD file (a checkout
//! of another branch or commit) and the branch's ref, loose or packed (a new
//! commit on the branch).

use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    println!("cargo::rerun-if-changed=Cargo.lock");
    let commit = git(&["rev-parse", "--short", "HEAD"]).unwrap_or_else(|| "unknown".to_owned());
    watch_head();
    println!("cargo::rustc-env=FLEETCERT_GIT_COMMIT={commit}");
    let lock = std::fs::read_to_string("Cargo.lock").unwrap_or_default();
    let mut text = format!("{}\ncommit: {commit}\n", env!("CARGO_PKG_VERSION"));
    for (name, version) in aws_sdk_crates(&lock) {
        text.push_str(&format!("{name} {version}\n"));
    }
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    std::fs::write(out.join("long-version.txt"), text.trim_end()).expect("write long-version.txt");
}

/// `git <args>` in the crate's directory, its output trimmed; `None` when git
/// is missing or this is not a checkout.
fn git(args: &[&str]) -> Option<String> {
    let output = Command::new("git").args(args).output().ok()?;
    let text = String::from_utf8(output.stdout).ok()?;
    let text = text.trim();
    (output.status.success() && !text.is_empty()).then(|| text.to_owned())
}

/// Rerun when HEAD or the ref it names changes. Paths that do not exist are
/// not named: cargo would rerun the script on every build.
fn watch_head() {
    let Some(git_dir) = git(&["rev-parse", "--git-dir"]) else {
        return;
    };
    let common = git(&["rev-parse", "--git-common-dir"]).unwrap_or_else(|| git_dir.clone());
    let mut watched = vec![Path::new(&git_dir).join("HEAD")];
    if let Some(branch) = git(&["symbolic-ref", "-q", "HEAD"]) {
        watched.push(Path::new(&common).join(branch));
    }
    watched.push(Path::new(&common).join("packed-refs"));
    for path in watched.iter().filter(|p| p.exists()) {
        println!("cargo::rerun-if-changed={}", path.display());
    }
}

/// Every `aws-sdk-*` package in Cargo.lock: (name, version), sorted.
fn aws_sdk_crates(lock: &str) -> Vec<(String, String)> {
    let mut crates = Vec::new();
    for package in lock.split("[[package]]").skip(1) {
        let field = |key: &str| {
            package.lines().find_map(|line| {
                let value = line.strip_prefix(key)?.trim().strip_prefix('=')?;
                Some(value.trim().trim_matches('"').to_owned())
            })
        };
        if let (Some(name), Some(version)) = (field("name"), field("version"))
            && name.starts_with("aws-sdk-")
        {
            crates.push((name, version));
        }
    }
    crates.sort();
    crates
}
