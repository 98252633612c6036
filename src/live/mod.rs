//! What exists in AWS, as plain sorted data. Read by `cloud::read_live`;
//! planning never sees SDK types. `fingerprint()` digests exactly what the
//! planner relies on, so a saved plan can tell when the world moved.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The tag key that marks a CA (and policies) as a fleet's.
pub const OWNER_TAG: &str = "fleetcert:fleet";
/// The one thing attribute fleetcert reserves: its value names the fleet,
/// followed by the facts of the thing's certificates (marker.rs).
pub const OWNER_ATTRIBUTE: &str = "fleetcert";

/// The name AWS gives a status: its serde form (the enums below serialize
/// exactly as AWS spells them, so plan files and fingerprints keep AWS's text).
fn aws_text<T: Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(text)) => text,
        _ => String::new(),
    }
}

macro_rules! aws_display {
    ($($t:ty),*) => {$(
        impl std::fmt::Display for $t {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&aws_text(self))
            }
        }
    )*};
}

/// An IoT certificate's status (IoT API reference, CertificateDescription.status).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum CertStatus {
    Active,
    Inactive,
    /// Terminal.
    Revoked,
    PendingTransfer,
    /// Auto-registered (JITR/JITP), waiting for its workflow.
    PendingActivation,
    RegisterInactive,
    /// A status this fleetcert does not know (AWS added one): left alone.
    Unknown,
}

impl CertStatus {
    /// ACTIVE or INACTIVE: a certificate fleetcert may still use or retire.
    pub fn is_alive(self) -> bool {
        matches!(self, Self::Active | Self::Inactive)
    }

    /// A status some other workflow owns (registration, transfer): fleetcert
    /// reports such certificates and never retires them.
    pub fn belongs_to_another_workflow(self) -> bool {
        matches!(
            self,
            Self::PendingActivation
                | Self::PendingTransfer
                | Self::RegisterInactive
                | Self::Unknown
        )
    }
}

/// An ACM PCA certificate authority's status (DescribeCertificateAuthority).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum CaStatus {
    Creating,
    PendingCertificate,
    Active,
    Disabled,
    Expired,
    Failed,
    Deleted,
    Unknown,
}

impl CaStatus {
    /// Whether the CA has a certificate to read.
    pub fn has_certificate(self) -> bool {
        matches!(self, Self::Active | Self::Disabled | Self::Expired)
    }
}

/// The status of the CA's registration in IoT.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RegistrationStatus {
    Active,
    Inactive,
}

/// How the CA is registered in IoT (RegisterCACertificate, certificateMode).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum CertificateMode {
    Default,
    SniOnly,
}

/// An IoT job's status (IoT API reference, JobSummary.status).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum JobStatus {
    InProgress,
    Canceled,
    Completed,
    DeletionInProgress,
    Scheduled,
    Unknown,
}

/// A job execution's status (JobExecutionSummary.status). QUEUED and
/// IN_PROGRESS are pending; the rest are terminal ("Jobs and job execution
/// states", https://docs.aws.amazon.com/iot/latest/developerguide/iot-jobs-lifecycle.html).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ExecutionStatus {
    Queued,
    InProgress,
    Succeeded,
    Failed,
    TimedOut,
    Rejected,
    Removed,
    Canceled,
    Unknown,
}

impl ExecutionStatus {
    pub fn is_pending(self) -> bool {
        matches!(self, Self::Queued | Self::InProgress)
    }
}

aws_display!(
    CertStatus,
    CaStatus,
    RegistrationStatus,
    CertificateMode,
    JobStatus,
    ExecutionStatus
);

/// One of the fleet's rotation jobs (job id `fleetcert-<fleet digest>-...`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LiveJob {
    pub id: String,
    pub status: JobStatus,
    pub created_at: i64,
    /// The certificate id the job's document delivers, by thing.
    pub deliveries: BTreeMap<String, String>,
    /// Each thing's execution (ListJobExecutionsForJob).
    pub executions: BTreeMap<String, LiveExecution>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LiveExecution {
    pub status: ExecutionStatus,
    /// When it was queued (unix seconds): a delivery's start.
    pub queued_at: i64,
}

impl From<crate::spec::CaIotStatus> for RegistrationStatus {
    fn from(status: crate::spec::CaIotStatus) -> Self {
        match status {
            crate::spec::CaIotStatus::Active => Self::Active,
            crate::spec::CaIotStatus::Inactive => Self::Inactive,
        }
    }
}

impl From<crate::spec::IotMode> for CertificateMode {
    fn from(mode: crate::spec::IotMode) -> Self {
        match mode {
            crate::spec::IotMode::Default => Self::Default,
            crate::spec::IotMode::SniOnly => Self::SniOnly,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LiveState {
    /// The fleet's private CA, if one was found (by ARN or by ownership tag).
    pub ca: Option<LiveCa>,
    /// The CA's registration in AWS IoT, if any.
    pub iot_ca: Option<LiveIotCa>,
    /// Policies by name: the fleet's, and any other the spec names (unowned).
    pub policies: BTreeMap<String, LivePolicy>,
    /// Things by name: the fleet's, and any other the spec names (unowned).
    pub things: BTreeMap<String, LiveThing>,
    /// Certificates IoT knows from the fleet's CA, by certificate id.
    pub certificates: BTreeMap<String, LiveCertificate>,
    /// Thing types that exist (of those the spec names).
    pub thing_types: BTreeSet<String>,
    /// The `fleetcert` attribute of each of the fleet's things, as read: the
    /// certificate facts fleetcert recorded (marker.rs).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub markers: BTreeMap<String, String>,
    /// Things whose record this fleetcert cannot read (another format
    /// version, a damaged entry): their certificates were read in full.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub unreadable_records: BTreeSet<String>,
    /// The fleet's device bundles in a secret store, by device (read only
    /// when the spec's output is one).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub bundles: BTreeMap<String, LiveBundle>,
    /// The fleet's rotation jobs by id (read only under `delivery: job`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub jobs: BTreeMap<String, LiveJob>,
    /// Jobs IN_PROGRESS in the account, the fleet's and others': all count
    /// towards IoT's active-jobs limit.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub active_jobs: usize,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// A device's bundle in a secret store, as its tags describe it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct LiveBundle {
    /// The certificate in the current version, if one was written.
    pub certificate_id: Option<String>,
    /// The public-key SHA-256 of a generated key waiting for its certificate.
    pub pending_key_sha256: Option<String>,
    /// Scheduled for deletion.
    pub deleted: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LiveCa {
    pub arn: String,
    pub status: CaStatus,
    pub key_algorithm: String,
    pub signing_algorithm: String,
    /// The owner tag's value, if any.
    pub owner: Option<String>,
    /// The CA certificate (PEM), once it has one.
    pub certificate_pem: Option<String>,
    pub not_after: Option<i64>,
    /// PCA's UsageMode, fixed when the CA was created.
    #[serde(default)]
    pub usage_mode: crate::spec::UsageMode,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LiveIotCa {
    pub certificate_id: String,
    pub status: RegistrationStatus,
    pub mode: CertificateMode,
    pub auto_registration: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LivePolicy {
    pub name: String,
    pub arn: String,
    pub owner: Option<String>,
    pub default_version: String,
    /// The default version's document, canonical (sorted keys, pretty).
    pub document: String,
    /// Every version id, oldest first, with whether it is the default.
    pub versions: Vec<PolicyVersion>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PolicyVersion {
    pub id: String,
    pub is_default: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LiveThing {
    pub name: String,
    pub thing_type: Option<String>,
    /// Attributes other than fleetcert's own marker.
    pub attributes: BTreeMap<String, String>,
    /// The marker attribute's value (the owning fleet), if any.
    pub owner: Option<String>,
    pub version: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LiveCertificate {
    pub id: String,
    pub arn: String,
    pub status: CertStatus,
    pub serial: String,
    pub subject_cn: Option<String>,
    pub not_before: i64,
    pub not_after: i64,
    /// When IoT registered it (unix seconds): the start of a rotation overlap.
    pub created_at: i64,
    pub public_key_sha256: String,
    pub things: BTreeSet<String>,
    pub policies: BTreeSet<String>,
}

impl LiveCertificate {
    /// Whether the certificate is of one of the devices `is_device` names
    /// (by its subject CN, the device's name): the planner retires the
    /// others as departed, drift reports them.
    pub fn belongs_to(&self, is_device: impl Fn(&str) -> bool) -> bool {
        self.subject_cn.as_deref().is_some_and(is_device)
    }
}

impl LiveState {
    /// A digest of everything planning relied on (canonical JSON of the
    /// sorted state), to detect a world that moved under a saved plan.
    ///
    /// Job executions are left out: a device's progress between `plan
    /// --out` and `apply` only ever makes the saved plan less complete
    /// (what it decided on terminal executions cannot change), and a fleet
    /// in rotation would otherwise make every saved plan stale.
    pub fn fingerprint(&self) -> String {
        let mut without_progress;
        let state = if self.jobs.is_empty() && self.active_jobs == 0 {
            self
        } else {
            without_progress = self.clone();
            without_progress.active_jobs = 0;
            for job in without_progress.jobs.values_mut() {
                job.executions.clear();
                job.status = JobStatus::Unknown;
            }
            &without_progress
        };
        let json = serde_json::to_vec(state).expect("live state serializes");
        hex::encode(Sha256::digest(json))
    }

    /// The fleet's certificates whose subject CN is `device`, oldest first.
    pub fn certificates_of<'a>(
        &'a self,
        device: &'a str,
    ) -> impl Iterator<Item = &'a LiveCertificate> + 'a {
        let mut certs: Vec<&LiveCertificate> = self
            .certificates
            .values()
            .filter(|c| c.subject_cn.as_deref() == Some(device))
            .collect();
        certs.sort_by(|a, b| {
            (a.created_at, a.not_before, &a.id).cmp(&(b.created_at, b.not_before, &b.id))
        });
        certs.into_iter()
    }
}
