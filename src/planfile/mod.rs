//! Saved plans (`fleetcert plan --out PLAN`, `fleetcert apply PLAN`).
//!
//! A plan file is what the reviewers saw plus what it was made from: the
//! plan's operations, the spec's digest (and the digest of every file it read:
//! policies, CSRs, includes), and the live state the planner relied on, both
//! as a fingerprint and as a snapshot, so that a stale plan can be refused
//! with a message that says *what* changed. It never holds a private key:
//! plans carry only public data (CSR digests, certificate ids, documents).
//!
//! On disk it is one JSON object, an envelope around the body:
//!
//! ```json
//! {"kind": "fleetcert-plan", "format_version": 1, "sha256": "<hex>", "body": {...}}
//! ```
//!
//! `sha256` digests the body's JSON text as written, so a file that was cut
//! short or edited by hand is refused rather than half-applied. It catches
//! accidents, not attackers (it is not keyed): `apply PLAN` re-derives the
//! plan and applies it only if it equals the file's (commands/apply.rs).

mod stale;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::cli::ReadMode;
use crate::live::LiveState;
use crate::plan::Plan;
use crate::safe_fs::Dir;
use crate::spec::Spec;

pub use stale::{
    Difference, Happened, LiveChange, SpecChange, Subject, live_changes, spec_changes,
};

/// What the envelope's `kind` says.
pub const KIND: &str = "fleetcert-plan";
/// The plan file format this build writes and reads. Bump it whenever the
/// body changes incompatibly; an older fleetcert then refuses the file
/// instead of misreading it.
pub const FORMAT_VERSION: u64 = 3;

/// The body of a plan file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlanFile {
    /// The fleetcert that wrote it (for messages only).
    pub fleetcert_version: String,
    /// When it was written (unix seconds).
    pub created_at: i64,
    pub spec: SpecRecord,
    pub live: LiveRecord,
    /// How live state was read; `apply PLAN` reads it the same way.
    pub refresh: ReadMode,
    pub plan: Plan,
}

/// The spec a plan was made from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpecRecord {
    /// The spec file as given on the command line (apply uses it unless `-f`).
    pub path: PathBuf,
    /// `Spec::digest`: every file read, independent of the working directory.
    pub digest: String,
    /// Every file read and its sha256, to name the ones that changed.
    pub files: BTreeMap<String, String>,
}

/// The live state a plan relied on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LiveRecord {
    /// `LiveState::fingerprint()`.
    pub fingerprint: String,
    /// The state itself, to say what changed when the fingerprint differs.
    pub snapshot: LiveState,
}

impl PlanFile {
    pub fn new(
        spec: &Spec,
        live: &LiveState,
        plan: &Plan,
        refresh: ReadMode,
        created_at: i64,
    ) -> Self {
        Self {
            fleetcert_version: env!("CARGO_PKG_VERSION").to_string(),
            created_at,
            spec: SpecRecord {
                path: spec.path.clone(),
                digest: spec.digest.clone(),
                files: spec_files(spec),
            },
            live: LiveRecord {
                fingerprint: live.fingerprint(),
                snapshot: live.clone(),
            },
            refresh,
            plan: plan.clone(),
        }
    }
}

/// The spec's files as `path -> sha256`, paths as text.
pub fn spec_files(spec: &Spec) -> BTreeMap<String, String> {
    spec.files
        .iter()
        .map(|(path, sha)| (path.display().to_string(), sha.clone()))
        .collect()
}

/// Why a file cannot be used as a plan. Every message names the file.
#[derive(Debug, thiserror::Error)]
pub enum PlanFileError {
    #[error("cannot read plan file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write plan file {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "{path} is not a fleetcert plan file ({why}); make one with `fleetcert plan --out {path}`"
    )]
    NotAPlan { path: PathBuf, why: String },
    #[error(
        "plan file {path} is truncated (it ends after {len} bytes, in the middle of the plan); \
         make the plan again with `fleetcert plan --out`"
    )]
    Truncated { path: PathBuf, len: usize },
    #[error(
        "plan file {path} has format version {found}, which this fleetcert ({ours}) does not know \
         (it reads version {FORMAT_VERSION}); make the plan again with this fleetcert"
    )]
    UnknownVersion {
        path: PathBuf,
        found: String,
        ours: &'static str,
    },
    #[error(
        "plan file {path} is damaged or was edited: its checksum does not match its contents; \
         make the plan again with `fleetcert plan --out`"
    )]
    Checksum { path: PathBuf },
    #[error("plan file {path} is not readable as a version {FORMAT_VERSION} plan: {message}")]
    Malformed { path: PathBuf, message: String },
}

fn digest(body: &serde_json::Value) -> String {
    let text = serde_json::to_vec(body).expect("JSON values serialize");
    hex::encode(Sha256::digest(text))
}

/// The plan file's bytes. The envelope's fields come first, so that the
/// head of a file (or of a cut-short one) says what it is.
pub fn to_bytes(file: &PlanFile) -> Vec<u8> {
    let body = serde_json::to_value(file).expect("plans serialize");
    let mut bytes = format!(
        "{{\"kind\":\"{KIND}\",\"format_version\":{FORMAT_VERSION},\"sha256\":\"{}\",\"body\":",
        digest(&body)
    )
    .into_bytes();
    serde_json::to_writer(&mut bytes, &body).expect("JSON values serialize");
    bytes.extend_from_slice(b"}\n");
    bytes
}

/// Write `file` to `path`: to a temporary file beside it first (created
/// exclusively, never through a symlink), synced and renamed, so a crash
/// never leaves half a plan behind. A symlink at `path` is refused: a
/// pull request may have committed `plan.json` pointing at a file of the
/// runner's.
pub fn write(path: &Path, file: &PlanFile) -> Result<(), PlanFileError> {
    let err = |source| PlanFileError::Write {
        path: path.to_path_buf(),
        source,
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .ok_or_else(|| err(std::io::Error::other("names no file")))?;
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let dir = Dir::open(dir).map_err(err)?;
    if dir.entry(&name).map_err(err)? == Some(rustix::fs::FileType::Symlink) {
        return Err(err(std::io::Error::other(
            "is a symlink; fleetcert writes a plan only to a regular file",
        )));
    }
    dir.write_file(&name, &to_bytes(file), 0o644).map_err(err)
}

/// Read and check the plan file at `path`.
pub fn read(path: &Path) -> Result<PlanFile, PlanFileError> {
    let bytes = std::fs::read(path).map_err(|source| PlanFileError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    parse(path, &bytes)
}

/// Check and decode a plan file's bytes (`path` is for messages).
pub fn parse(path: &Path, bytes: &[u8]) -> Result<PlanFile, PlanFileError> {
    let envelope = envelope(path, bytes)?;
    let path = path.to_path_buf();
    let not_a_plan = |why: &str| PlanFileError::NotAPlan {
        path: path.clone(),
        why: why.to_string(),
    };
    if envelope.get("kind").and_then(|k| k.as_str()) != Some(KIND) {
        return Err(not_a_plan(&format!("it has no \"kind\": \"{KIND}\"")));
    }
    match envelope.get("format_version") {
        Some(serde_json::Value::Number(n)) if n.as_u64() == Some(FORMAT_VERSION) => {}
        Some(other) => {
            return Err(PlanFileError::UnknownVersion {
                path,
                found: other.to_string(),
                ours: env!("CARGO_PKG_VERSION"),
            });
        }
        None => return Err(not_a_plan("it has no format_version")),
    }
    let body = envelope
        .get("body")
        .ok_or_else(|| not_a_plan("it has no body"))?;
    if envelope.get("sha256").and_then(|s| s.as_str()) != Some(digest(body).as_str()) {
        return Err(PlanFileError::Checksum { path });
    }
    serde_json::from_value(body.clone()).map_err(|e| PlanFileError::Malformed {
        path,
        message: e.to_string(),
    })
}

/// The file as a JSON object, not yet checked to be a plan; a cut-short plan
/// file is told apart from text that was never one.
fn envelope(path: &Path, bytes: &[u8]) -> Result<serde_json::Value, PlanFileError> {
    let not_a_plan = |why: &str| PlanFileError::NotAPlan {
        path: path.to_path_buf(),
        why: why.to_string(),
    };
    let trimmed = bytes.trim_ascii();
    if trimmed.is_empty() {
        return Err(not_a_plan("it is empty"));
    }
    if !trimmed.starts_with(b"{") {
        return Err(not_a_plan("it is not a JSON object"));
    }
    match serde_json::from_slice(bytes) {
        Ok(value) => Ok(value),
        Err(e) if e.is_eof() && looks_like_plan(trimmed) => Err(PlanFileError::Truncated {
            path: path.to_path_buf(),
            len: bytes.len(),
        }),
        Err(e) if e.is_eof() || e.is_syntax() => {
            Err(not_a_plan(&format!("it is not valid JSON: {e}")))
        }
        Err(e) => Err(not_a_plan(&e.to_string())),
    }
}

/// A cut-short file still starts like a plan file: tell "truncated" from
/// "some other JSON".
fn looks_like_plan(bytes: &[u8]) -> bool {
    let head = &bytes[..bytes.len().min(200)];
    String::from_utf8_lossy(head).contains(KIND)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::Plan;

    fn sample() -> PlanFile {
        PlanFile {
            fleetcert_version: "0.1.0".into(),
            created_at: 1_700_000_000,
            spec: SpecRecord {
                path: "fleet.yaml".into(),
                digest: "ab".repeat(32),
                files: BTreeMap::from([("fleet.yaml".into(), "cd".repeat(32))]),
            },
            live: LiveRecord {
                fingerprint: LiveState::default().fingerprint(),
                snapshot: LiveState::default(),
            },
            refresh: ReadMode::Recorded,
            plan: Plan {
                fleet: "f".into(),
                at: 1_700_000_000,
                ca: crate::plan::PlanCa {
                    arn: crate::plan::Slot::Produced,
                    certificate: crate::plan::Slot::Produced,
                },
                changes: vec![],
                warnings: vec![],
                max_destructive_changes: 10,
                guard: vec![],
                policy_reviews: vec![],
                rotation: Default::default(),
            },
        }
    }

    #[test]
    fn round_trips() {
        let bytes = to_bytes(&sample());
        assert_eq!(parse(Path::new("p"), &bytes).unwrap(), sample());
    }

    #[test]
    fn refuses_truncated_files() {
        let bytes = to_bytes(&sample());
        let cut = &bytes[..bytes.len() / 2];
        let err = parse(Path::new("p"), cut).unwrap_err();
        assert!(matches!(err, PlanFileError::Truncated { .. }), "{err}");
    }

    #[test]
    fn refuses_other_json_and_text() {
        for text in ["{\"a\": 1}", "hello", "", "[1]"] {
            let err = parse(Path::new("p"), text.as_bytes()).unwrap_err();
            assert!(
                matches!(err, PlanFileError::NotAPlan { .. }),
                "{text}: {err}"
            );
        }
    }

    #[test]
    fn refuses_unknown_versions_and_edits() {
        let bytes = to_bytes(&sample());
        let text = String::from_utf8(bytes).unwrap();
        let ours = format!("\"format_version\":{FORMAT_VERSION}");
        let other = text.replacen(&ours, "\"format_version\":2", 1);
        assert_ne!(other, text);
        assert!(matches!(
            parse(Path::new("p"), other.as_bytes()).unwrap_err(),
            PlanFileError::UnknownVersion { .. }
        ));
        let edited = text.replacen("\"fleet\":\"f\"", "\"fleet\":\"g\"", 1);
        assert_ne!(edited, text);
        assert!(matches!(
            parse(Path::new("p"), edited.as_bytes()).unwrap_err(),
            PlanFileError::Checksum { .. }
        ));
    }
}
