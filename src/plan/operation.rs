//! The operations a plan is made of. Each names every value the executor
//! needs (algorithms, templates, validity, idempotency tokens, the CSR, the
//! key decision, the facts to record), so apply makes no decision of its own.
//! A value known only at run time is a named placeholder, filled by the
//! operation that produces it: the fleet CA's ARN and certificate when the
//! plan creates the CA ([`Slot::Produced`]), the certificate issued earlier in
//! the same change ([`CertRef::Issued`]), the key generated earlier in the
//! same change ([`KeySource::Generated`], [`IdempotencyToken::PerKey`]), and
//! the account's registration code (fetched by [`Operation::RegisterCa`]).

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::live::{CertStatus, CertificateMode, RegistrationStatus};
use crate::marker::Record;
// The vocabulary operations share with the spec (no string round trip).
pub use crate::spec::{CertValidity, KeyAlgorithm, RevocationReason, SigningAlgorithm, UsageMode};

/// A value the planner knows, or one the plan's CA phase produces.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "value", rename_all = "snake_case")]
pub enum Slot {
    Known(String),
    /// Filled by the plan's own CA operations (CreateCa for the ARN,
    /// ActivateRootCa for the certificate).
    Produced,
}

impl Slot {
    pub fn known(&self) -> Option<&str> {
        match self {
            Self::Known(value) => Some(value),
            Self::Produced => None,
        }
    }
}

/// The fleet CA as every operation that needs it takes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanCa {
    pub arn: Slot,
    /// The CA certificate (PEM).
    pub certificate: Slot,
}

/// A PCA certificate template (cloud/ names its ARN).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Template {
    /// `EndEntityClientAuthCertificate/V1`: device certificates.
    EndEntityClientAuth,
    /// `EndEntityCertificate/V1`: IoT's verification certificate.
    EndEntity,
    /// `RootCACertificate/V1`: the root CA's own certificate.
    RootCa,
}

/// Where one device's bundle goes, as apply carries it out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Destination {
    /// Files under `<dir>/<device>/` on the machine that runs apply.
    Dir { dir: PathBuf },
    /// The Secrets Manager secret `name` (`fleetcert/<fleet>/<device>`).
    SecretsManager {
        name: String,
        kms_key_id: Option<String>,
    },
    /// The SSM SecureString parameter `name` (`/fleetcert/<fleet>/<device>`;
    /// a pending key waits in `<name>/pending-key`).
    Ssm {
        name: String,
        kms_key_id: Option<String>,
    },
}

impl std::fmt::Display for Destination {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Destination::Dir { dir } => write!(f, "{}", dir.display()),
            Destination::SecretsManager { name, kms_key_id } => {
                write!(f, "Secrets Manager secret {name}")?;
                key_suffix(f, kms_key_id)
            }
            Destination::Ssm { name, kms_key_id } => {
                write!(f, "SSM parameter {name}")?;
                key_suffix(f, kms_key_id)
            }
        }
    }
}

/// The KMS key a store encrypts with, shown in plans: whoever controls that
/// key can read the bundles, so a reviewer must see which it is.
fn key_suffix(f: &mut std::fmt::Formatter<'_>, kms_key_id: &Option<String>) -> std::fmt::Result {
    match kms_key_id {
        Some(key) => write!(f, " (KMS key {key})"),
        None => Ok(()),
    }
}

/// PCA's IdempotencyToken for an IssueCertificate. ACM PCA keeps a token for
/// about five minutes (API reference, IssueCertificate, IdempotencyToken: "at
/// most 36 characters"; "Idempotency tokens for IssueCertificate time out
/// after five minutes"), so a retried apply that re-sends the same request
/// gets the same certificate instead of a second one; a deliberate reissue
/// changes an input (the replaced certificate, the key) and so the token.
/// Older SDK documentation (JS v2/v3, .NET, Java v1) says "time out after one
/// minute"; nothing relies on the longer window: a re-run after the token
/// has expired gets a second certificate for the same key, which is never
/// registered in IoT and so can never be used (docs/crash-safety.md).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum IdempotencyToken {
    /// Known when planning.
    Fixed { token: String },
    /// Completed with the SHA-256 of the key generated earlier in the same
    /// change (a new key's digest is known only when it exists).
    PerKey { seed: String },
}

/// A token (32 hex characters) derived from `parts` (length-prefixed, so
/// ("ab","c") and ("a","bc") differ).
pub fn derive_token(parts: &[&str]) -> String {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update(part.len().to_be_bytes());
        hasher.update(part.as_bytes());
    }
    hex::encode(hasher.finalize())[..32].to_string()
}

impl IdempotencyToken {
    /// A device certificate's token: fleet, device, the certificate it
    /// replaces, and the key (CSR or public key digest; `None` when the key
    /// is generated at run time).
    pub fn device_certificate(
        fleet: &str,
        device: &str,
        replaces: Option<&str>,
        key_sha256: Option<&str>,
    ) -> Self {
        let seed = derive_token(&["device-certificate", fleet, device, replaces.unwrap_or("")]);
        Self::seeded(seed, key_sha256)
    }

    /// A token seeded by `seed` and completed by the key's digest.
    pub fn seeded(seed: String, key_sha256: Option<&str>) -> Self {
        match key_sha256 {
            Some(key) => Self::Fixed {
                token: derive_token(&[&seed, key]),
            },
            None => Self::PerKey { seed },
        }
    }

    /// The token to send, given the digest of the key in use.
    pub fn resolve(&self, key_sha256: &str) -> String {
        match self {
            Self::Fixed { token } => token.clone(),
            Self::PerKey { seed } => derive_token(&[seed, key_sha256]),
        }
    }
}

/// The certificate an operation acts on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum CertRef {
    /// A certificate that exists now.
    Existing { id: String, arn: String },
    /// The certificate registered (or loaded) earlier in the same change.
    Issued,
}

/// Where an issued certificate's key comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum KeySource {
    /// The CSR in the spec (public; the device holds the key).
    Csr {
        path: String,
        /// The CSR's (DER) SHA-256, part of the idempotency token.
        sha256: String,
        /// The SHA-256 of the CSR's public key: the certificate's.
        public_key_sha256: String,
        pem: String,
    },
    /// The key of the `GenerateKey` operation earlier in the same change.
    Generated,
}

/// The planner's decision about a generated key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum KeyPlan {
    /// Make a new P-256 key and write it as the pending key.
    New,
    /// Reuse the pending key an interrupted apply left, whose public key has
    /// this SHA-256 (apply refuses a pending key with another digest).
    ReusePending { public_key_sha256: String },
}

/// IoT's verification certificate for a DEFAULT-mode CA registration: a
/// certificate whose CN is the account's registration code (fetched at run
/// time), for a key made at run time, issued by the CA being registered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verification {
    pub validity: CertValidity,
    pub template: Template,
    pub signing_algorithm: SigningAlgorithm,
    pub idempotency_token: IdempotencyToken,
}

/// One AWS (or local) step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Operation {
    /// PCA CreateCertificateAuthority (root), tagged as the fleet's; waits
    /// while it is CREATING. Produces the plan CA's ARN.
    CreateCa {
        subject: BTreeMap<String, String>,
        key_algorithm: KeyAlgorithm,
        signing_algorithm: SigningAlgorithm,
        /// Fixed for the CA's life (general purpose unless the spec says).
        #[serde(default)]
        usage_mode: UsageMode,
        idempotency_token: String,
    },
    /// Get the CA's CSR, issue its certificate, import it. Produces the plan
    /// CA's certificate.
    ActivateRootCa {
        validity: CertValidity,
        signing_algorithm: SigningAlgorithm,
        template: Template,
        idempotency_token: String,
    },
    /// Tag an existing CA as the fleet's.
    TagCa {
        arn: String,
    },
    /// Register the CA in IoT; `verification` for DEFAULT mode.
    RegisterCa {
        mode: CertificateMode,
        status: RegistrationStatus,
        auto_registration: bool,
        verification: Option<Verification>,
    },
    UpdateCaRegistration {
        certificate_id: String,
        status: Option<RegistrationStatus>,
        auto_registration: Option<bool>,
    },
    CreateThingType {
        name: String,
        description: Option<String>,
        searchable_attributes: Vec<String>,
    },
    CreatePolicy {
        name: String,
        document: String,
    },
    TagPolicy {
        name: String,
        arn: String,
    },
    DeletePolicyVersion {
        name: String,
        version_id: String,
    },
    CreatePolicyVersion {
        name: String,
        document: String,
    },
    DeletePolicy {
        name: String,
    },
    /// Create a thing marked as the plan's fleet's.
    CreateThing {
        name: String,
        thing_type: Option<String>,
        attributes: BTreeMap<String, String>,
    },
    /// Merge attributes (empty value removes), optionally change the thing type.
    UpdateThing {
        name: String,
        thing_type: Option<Option<String>>,
        attributes: BTreeMap<String, String>,
        expected_version: i64,
    },
    DeleteThing {
        name: String,
    },
    /// The key for the device's next certificate, kept pending at
    /// `destination` until its certificate is written out.
    GenerateKey {
        device: String,
        destination: Destination,
        key: KeyPlan,
    },
    IssueCertificate {
        device: String,
        key: KeySource,
        validity: CertValidity,
        signing_algorithm: SigningAlgorithm,
        template: Template,
        idempotency_token: IdempotencyToken,
        /// The certificate this one replaces (part of the token; shown).
        replaces: Option<String>,
    },
    /// RegisterCertificate with the plan CA's certificate, ACTIVE.
    RegisterCertificate {
        device: String,
    },
    AttachThing {
        thing: String,
        cert: CertRef,
    },
    DetachThing {
        thing: String,
        cert: CertRef,
    },
    AttachPolicy {
        policy: String,
        cert: CertRef,
    },
    DetachPolicy {
        policy: String,
        cert: CertRef,
    },
    SetCertificateStatus {
        cert: CertRef,
        status: CertStatus,
    },
    /// PCA RevokeCertificate by serial, with an RFC 5280 reason.
    RevokeInPca {
        serial: String,
        reason: RevocationReason,
    },
    DeleteCertificate {
        cert: CertRef,
    },
    /// Take a registered certificate as this change's own (its PEM read
    /// with DescribeCertificate), so WriteDeviceFiles writes it: the files of
    /// a certificate an interrupted apply registered but never wrote out.
    LoadCertificate {
        id: String,
        arn: String,
    },
    /// Write the device's bundle (certificate, chain, connection details)
    /// to `destination`; with `generated_key`, promote the pending key into it.
    WriteDeviceFiles {
        device: String,
        destination: Destination,
        generated_key: bool,
    },
    /// Delete a departed device's bundle: a secret restorable for
    /// `recovery_window_days`, or an SSM parameter (none: gone at once).
    DeleteBundle {
        device: String,
        destination: Destination,
        recovery_window_days: Option<u32>,
    },
    /// Record on the thing the facts of its certificates (its `fleetcert`
    /// attribute, see marker.rs), so later plans need no call per certificate.
    RecordFacts(Record),
    /// Hand the certificate registered in this change to the delivery phase
    /// (a [`Delivered::RegisteredFor`] of a rotation job).
    StageDelivery {
        device: String,
    },
    /// CreateJob: a snapshot job targeting each device's thing, whose
    /// document (rotation_job.rs) carries each one's new certificate.
    CreateRotationJob(RotationJob),
    /// DescribeJobExecution: the device's execution of `job_id` is SUCCEEDED
    /// and its statusDetails name `certificate_id`; else the change stops
    /// before the old certificate is touched.
    ConfirmDelivery {
        job_id: String,
        thing: String,
        certificate_id: String,
    },
    /// DeleteJob of a rotation job nothing waits on any more.
    DeleteRotationJob {
        job_id: String,
    },
}

/// A rotation job as CreateJob sends it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RotationJob {
    pub job_id: String,
    pub devices: Vec<Delivery>,
    /// `jobExecutionsRolloutConfig.maximumPerMinute`.
    pub maximum_per_minute: u32,
    /// `abortConfig`: cancel once this percentage of executions failed
    /// (hundredths of a percent, so the plan stays `Eq`) ...
    pub abort_failed_hundredths: u32,
    /// ... after at least this many finished.
    pub abort_min_executed: u32,
    /// `timeoutConfig.inProgressTimeoutInMinutes`.
    pub in_progress_timeout_minutes: u32,
}

/// One device of a rotation job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivery {
    pub thing: String,
    pub certificate: Delivered,
    pub key: crate::rotation_job::KeyLocation,
}

/// The certificate a rotation job delivers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Delivered {
    /// Registered before (its PEM read with DescribeCertificate).
    Existing { id: String },
    /// Registered by this apply's change of the device (StageDelivery);
    /// left out of the job if that change failed.
    RegisteredFor { device: String },
}

impl Operation {
    /// The operation's name, as the JSON contract lists it.
    pub fn name(&self) -> &'static str {
        match self {
            Self::CreateCa { .. } => "create_ca",
            Self::ActivateRootCa { .. } => "activate_root_ca",
            Self::TagCa { .. } => "tag_ca",
            Self::RegisterCa { .. } => "register_ca",
            Self::UpdateCaRegistration { .. } => "update_ca_registration",
            Self::CreateThingType { .. } => "create_thing_type",
            Self::CreatePolicy { .. } => "create_policy",
            Self::TagPolicy { .. } => "tag_policy",
            Self::DeletePolicyVersion { .. } => "delete_policy_version",
            Self::CreatePolicyVersion { .. } => "create_policy_version",
            Self::DeletePolicy { .. } => "delete_policy",
            Self::CreateThing { .. } => "create_thing",
            Self::UpdateThing { .. } => "update_thing",
            Self::DeleteThing { .. } => "delete_thing",
            Self::GenerateKey { .. } => "generate_key",
            Self::IssueCertificate { .. } => "issue_certificate",
            Self::RegisterCertificate { .. } => "register_certificate",
            Self::AttachThing { .. } => "attach_thing",
            Self::DetachThing { .. } => "detach_thing",
            Self::AttachPolicy { .. } => "attach_policy",
            Self::DetachPolicy { .. } => "detach_policy",
            Self::SetCertificateStatus { .. } => "set_certificate_status",
            Self::RevokeInPca { .. } => "revoke_in_pca",
            Self::DeleteCertificate { .. } => "delete_certificate",
            Self::LoadCertificate { .. } => "load_certificate",
            Self::WriteDeviceFiles { .. } => "write_device_files",
            Self::DeleteBundle { .. } => "delete_bundle",
            Self::RecordFacts(_) => "record_facts",
            Self::StageDelivery { .. } => "stage_delivery",
            Self::CreateRotationJob(_) => "create_rotation_job",
            Self::ConfirmDelivery { .. } => "confirm_delivery",
            Self::DeleteRotationJob { .. } => "delete_rotation_job",
        }
    }

    /// The existing certificate this operation acts on, if any.
    pub fn existing_certificate(&self) -> Option<&str> {
        match self {
            Self::AttachThing { cert, .. }
            | Self::DetachThing { cert, .. }
            | Self::AttachPolicy { cert, .. }
            | Self::DetachPolicy { cert, .. }
            | Self::SetCertificateStatus { cert, .. }
            | Self::DeleteCertificate { cert } => match cert {
                CertRef::Existing { id, .. } => Some(id),
                CertRef::Issued => None,
            },
            Self::LoadCertificate { id, .. } => Some(id),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_store_destination_shows_its_kms_key() {
        let secret = Destination::SecretsManager {
            name: "fleetcert/f/d".into(),
            kms_key_id: Some("arn:aws:kms:eu-west-1:999999999999:key/k".into()),
        };
        assert_eq!(
            secret.to_string(),
            "Secrets Manager secret fleetcert/f/d (KMS key arn:aws:kms:eu-west-1:999999999999:key/k)"
        );
        let parameter = Destination::Ssm {
            name: "/fleetcert/f/d".into(),
            kms_key_id: None,
        };
        assert_eq!(parameter.to_string(), "SSM parameter /fleetcert/f/d");
    }

    #[test]
    fn tokens_are_short_stable_and_change_with_every_input() {
        let token = |d: &str, k: &str, r: Option<&str>| {
            IdempotencyToken::device_certificate("f", d, r, Some(k)).resolve("unused")
        };
        let base = token("d", "k", None);
        assert_eq!(base.len(), 32);
        assert_eq!(base, token("d", "k", None));
        assert_ne!(base, token("d", "k", Some("old")));
        assert_ne!(base, token("d", "k2", None));
        assert_ne!(base, token("d2", "k", None));
        assert_ne!(derive_token(&["ab", "c"]), derive_token(&["a", "bc"]));
    }

    #[test]
    fn a_per_key_token_resolves_to_the_fixed_token_of_that_key() {
        // A run that generates a key and one that reuses it after a crash
        // send the same token, so PCA answers with the same certificate.
        let later = IdempotencyToken::device_certificate("f", "d", None, None);
        let reused = IdempotencyToken::device_certificate("f", "d", None, Some("abc"));
        assert!(matches!(later, IdempotencyToken::PerKey { .. }));
        assert_eq!(later.resolve("abc"), reused.resolve("ignored"));
        assert_ne!(later.resolve("abc"), later.resolve("abd"));
    }
}
