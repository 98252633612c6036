//! The rotation job's contract with devices: its id, its document and what
//! a device reports (examples/device-agent/README.md is the device's side).
//! Pure: the planner sizes jobs with it, apply writes documents with it, the
//! live read parses them back.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The document's `operation`.
pub const OPERATION: &str = "fleetcert:rotate-certificate";
/// The document format this build writes and reads.
pub const FORMAT_VERSION: u32 = 1;
/// CreateJob `document`: "Length Constraints: Maximum length of 32768"
/// (IoT API reference, CreateJob).
pub const MAX_DOCUMENT_CHARS: usize = 32_768;
/// CreateJob `targets`: a job has at most 100 targets (AWS IoT Job Limits,
/// "Targets 1..100"; tests/emulator/fleetcert_emulator/jobs.py).
pub const MAX_TARGETS: usize = 100;
/// Active (IN_PROGRESS) jobs an account may have, snapshot jobs counted
/// apart from continuous ones (AWS IoT Job Limits: "Active snapshot jobs
/// 100"; adjustable, the default is what a plan must not exceed).
pub const MAX_ACTIVE_JOBS: usize = 100;
/// A device's document entry, at most: a PCA certificate for a P-256 key and
/// a CN of up to 64 characters is under 1,000 characters of PEM (1,100 once
/// JSON escapes its newlines); the id, the key's location and the thing name
/// (up to 128) take the rest. Apply refuses a document over the limit.
pub const ENTRY_CHARS: usize = 1_600;
/// The statusDetails key a device names its new certificate with.
pub const DETAIL_CERTIFICATE: &str = "certificateId";
/// The statusDetails key of a failure's reason.
pub const DETAIL_REASON: &str = "reason";

/// The job id prefix of `fleet`'s rotation jobs: `fleetcert-` and 12 hex of
/// the fleet name's SHA-256 (a job id is `[a-zA-Z0-9_-]{1,64}`, and a fleet
/// name alone may be 64 characters).
pub fn job_prefix(fleet: &str) -> String {
    let digest = hex::encode(Sha256::digest(fleet.as_bytes()));
    format!("fleetcert-{}-", &digest[..12])
}

/// A job id: the prefix and 16 hex derived from `seed`.
pub fn job_id(fleet: &str, seed: &str) -> String {
    let digest = hex::encode(Sha256::digest(seed.as_bytes()));
    format!("{}{}", job_prefix(fleet), &digest[..16])
}

/// How many devices one job carries: the document limit less the CA
/// certificate, over the entry bound, and at most the target limit.
pub fn devices_per_job(ca_pem_chars: usize) -> usize {
    let room = MAX_DOCUMENT_CHARS.saturating_sub(1_000 + ca_pem_chars * 11 / 10);
    (room / ENTRY_CHARS).clamp(1, MAX_TARGETS)
}

/// Where a device finds the private key for its new certificate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "source", rename_all = "camelCase")]
pub enum KeyLocation {
    /// The device holds it (it sent the CSR): the key whose public key has
    /// this SHA-256 (of the DER SubjectPublicKeyInfo).
    #[serde(rename_all = "camelCase")]
    Device { public_key_sha256: String },
    /// In the device's bundle, the Secrets Manager secret `secret_id`.
    #[serde(rename_all = "camelCase")]
    SecretsManager { secret_id: String },
    /// In the device's bundle, the SSM parameter `parameter_name`.
    #[serde(rename_all = "camelCase")]
    Ssm { parameter_name: String },
}

/// One device's entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Entry {
    pub certificate_id: String,
    pub certificate_pem: String,
    pub key: KeyLocation,
}

/// A rotation job's document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Document {
    pub operation: String,
    pub format_version: u32,
    pub fleet: String,
    pub ca_certificate_pem: String,
    /// By thing name.
    pub devices: BTreeMap<String, Entry>,
}

impl Document {
    pub fn new(fleet: &str, ca_certificate_pem: &str, devices: BTreeMap<String, Entry>) -> Self {
        Self {
            operation: OPERATION.to_string(),
            format_version: FORMAT_VERSION,
            fleet: fleet.to_string(),
            ca_certificate_pem: ca_certificate_pem.to_string(),
            devices,
        }
    }

    /// The document as sent (compact JSON, keys in a fixed order).
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a job document serializes")
    }

    /// `fleet`'s rotation document in `text`, or `None` (another format,
    /// another fleet, not a rotation).
    pub fn parse(text: &str, fleet: &str) -> Option<Self> {
        let doc: Self = serde_json::from_str(text).ok()?;
        (doc.operation == OPERATION && doc.format_version == FORMAT_VERSION && doc.fleet == fleet)
            .then_some(doc)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn job_ids_fit_iot_and_carry_the_fleet_prefix() {
        let fleet = "f".repeat(64);
        let id = job_id(&fleet, "wave-1");
        assert!(id.len() <= 64, "{id}");
        assert!(id.starts_with(&job_prefix(&fleet)));
        assert!(id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'));
        assert_ne!(job_prefix("a"), job_prefix("b"));
        assert_ne!(job_id("a", "1"), job_id("a", "2"));
    }

    #[test]
    fn a_full_job_stays_within_the_document_limit() {
        let ca = "C".repeat(900);
        let n = devices_per_job(ca.len());
        assert!((10..=MAX_TARGETS).contains(&n), "{n}");
        // Entries at the bound: a real PCA leaf PEM is about 800 characters.
        let pem = format!(
            "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
            "A".repeat(1_000)
        );
        let devices = (0..n)
            .map(|i| {
                let entry = Entry {
                    certificate_id: "a".repeat(64),
                    certificate_pem: pem.clone(),
                    key: KeyLocation::SecretsManager {
                        secret_id: format!("fleetcert/{}/{}", "f".repeat(64), "d".repeat(120)),
                    },
                };
                (format!("{i:0>128}"), entry)
            })
            .collect();
        let doc = Document::new(&"f".repeat(64), &ca, devices);
        assert!(
            doc.to_json().len() <= MAX_DOCUMENT_CHARS,
            "{}",
            doc.to_json().len()
        );
    }

    #[test]
    fn documents_round_trip_and_other_fleets_are_not_read() {
        let entry = Entry {
            certificate_id: "id".into(),
            certificate_pem: "pem".into(),
            key: KeyLocation::Device {
                public_key_sha256: "ab".into(),
            },
        };
        let doc = Document::new("a", "ca", [("d".to_string(), entry)].into());
        let json = doc.to_json();
        assert!(
            json.contains(r#""key":{"source":"device","publicKeySha256":"ab"}"#),
            "{json}"
        );
        assert_eq!(Document::parse(&json, "a"), Some(doc));
        assert_eq!(Document::parse(&json, "b"), None);
        assert_eq!(Document::parse("{}", "a"), None);
    }
}
