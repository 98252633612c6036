//! fleet.yaml: the model, loading with positions, and validation that reports
//! every error with file:line:col (DESIGN.md sections 3 and 4).
//!
//! `load` reads the spec and every file it names (includes, policy documents,
//! CSRs), checks all of it, and returns either a resolved [`Spec`] (defaults
//! applied, paths resolved, CSRs parsed) or [`SpecErrors`] with every problem
//! found. It touches no AWS API.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::aws_op::AwsOp;

pub mod annotations;
pub mod delivery;
mod diagnostic;
mod load;
pub mod model;
mod names;
pub mod types;

pub use diagnostic::{Diagnostic, Label, SpecErrors, display_path};
pub use types::{
    CaIotStatus, CertValidity, Delivery, IotMode, KeyAlgorithm, OnRemoval, OnTimeout, Retire,
    RevocationReason, SigningAlgorithm, SpecDuration, UsageMode,
};

pub use crate::pki::csr::CsrInfo;

/// The thing attribute fleetcert reserves for its ownership marker (the fleet
/// name). Users may not set it, and it counts toward IoT's attribute limits.
pub const RESERVED_ATTRIBUTE: &str = "fleetcert";

/// IoT's limit on thing attributes without a thing type (the reserved one included).
pub const MAX_ATTRIBUTES_UNTYPED: usize = 3;
/// IoT's limit on thing attributes with a thing type (the reserved one included).
pub const MAX_ATTRIBUTES_TYPED: usize = 50;

/// IoT's limit on a policy document: "policyDocument must have a minimum length
/// of 1, with a maximum length of 2048, excluding whitespace" (AWS IoT API
/// reference, CreatePolicy / CreatePolicyVersion;
/// <https://docs.aws.amazon.com/cli/v1/reference/iot/create-policy.html>).
pub const MAX_POLICY_CHARS: usize = 2048;

/// Reads and checks the spec at `path` and every file it names.
pub fn load(path: &Path) -> Result<Spec, SpecErrors> {
    load::Loader::new(path).run()
}

/// A checked fleet spec, defaults applied and paths resolved.
#[derive(Debug, Clone)]
pub struct Spec {
    /// The spec file as given.
    pub path: PathBuf,
    /// The fleet's name, `[A-Za-z0-9_-]{1,64}`; marks everything fleetcert owns.
    pub fleet: String,
    /// The AWS region, if the spec names one.
    pub region: Option<String>,
    pub ca: CaSpec,
    /// Policies by name.
    pub policies: BTreeMap<String, PolicySpec>,
    /// Thing types by name.
    pub thing_types: BTreeMap<String, ThingTypeSpec>,
    /// Devices by name, defaults applied.
    pub devices: BTreeMap<String, DeviceSpec>,
    pub lifecycle: Lifecycle,
    /// Where device bundles go.
    pub output: Output,
    /// Requests per second by operation, each above 0 and at most the
    /// operation's AWS default quota.
    pub rate_limits: BTreeMap<AwsOp, f64>,
    /// `strict: true`: policies with unaccepted findings are refused.
    pub strict: bool,
    /// sha256 hex over every file read: the lines `<sha256 of the file>  <path
    /// relative to the spec's directory>\n` in path order. It does not depend
    /// on the directory fleetcert runs in.
    pub digest: String,
    /// Every file read (path as shown in messages) and its sha256 hex.
    pub files: BTreeMap<PathBuf, String>,
}

impl Spec {
    /// The directory paths in the spec are relative to.
    pub fn base_dir(&self) -> &Path {
        self.path.parent().unwrap_or(Path::new(""))
    }
}

/// The private CA.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CaSpec {
    /// An existing CA, by ARN.
    Adopt { arn: String, iot: CaIotSpec },
    /// A root CA fleetcert creates.
    Create {
        subject: Subject,
        key_algorithm: KeyAlgorithm,
        signing_algorithm: SigningAlgorithm,
        validity: CertValidity,
        usage_mode: UsageMode,
        iot: CaIotSpec,
    },
}

impl CaSpec {
    pub fn iot(&self) -> &CaIotSpec {
        match self {
            Self::Adopt { iot, .. } | Self::Create { iot, .. } => iot,
        }
    }
}

/// A CA's distinguished name.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct Subject {
    pub common_name: String,
    pub organization: Option<String>,
    pub organizational_unit: Option<String>,
    pub country: Option<String>,
    pub state: Option<String>,
    pub locality: Option<String>,
}

/// The CA's registration in AWS IoT.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct CaIotSpec {
    pub mode: IotMode,
    pub status: CaIotStatus,
    pub auto_registration: bool,
}

/// An IoT policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicySpec {
    /// The document as written.
    pub document: serde_json::Value,
    /// The document as canonical JSON: keys sorted, 2-space indent. Compare
    /// with the live document in this form.
    pub canonical: String,
    /// The file it came from, if not inline.
    pub source: Option<PathBuf>,
    /// Take over an existing policy of this name that fleetcert does not own.
    pub adopt: bool,
    /// Finding codes reviewed and accepted (`allow_findings`).
    pub allow_findings: BTreeSet<crate::analysis::FindingCode>,
}

/// An IoT thing type.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ThingTypeSpec {
    pub description: Option<String>,
    pub searchable_attributes: Vec<String>,
}

/// A device: a thing and its certificate.
#[derive(Debug, Clone, PartialEq)]
pub struct DeviceSpec {
    /// The IoT thing name, `[a-zA-Z0-9:_-]{1,128}`.
    pub name: String,
    pub key: DeviceKey,
    /// User attributes (defaults merged); never contains [`RESERVED_ATTRIBUTE`].
    pub attributes: BTreeMap<String, String>,
    pub thing_type: Option<String>,
    pub policies: BTreeSet<String>,
    pub validity: CertValidity,
    pub renew_before: SpecDuration,
    /// `Some(reason)` when the certificate is to be revoked.
    pub revoked: Option<RevocationReason>,
    /// Where the device is declared.
    pub source: SourceLocation,
    /// Take over an existing thing of this name that carries no fleetcert marker.
    pub adopt: bool,
}

impl DeviceSpec {
    /// When a certificate that expires at `not_after` is due for renewal
    /// (unix seconds): `renew_before` ahead of its expiry.
    pub fn renew_at(&self, not_after: i64) -> i64 {
        not_after - self.renew_before.as_secs() as i64
    }
}

/// Where a device's key comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeviceKey {
    /// fleetcert makes a P-256 key.
    Generated,
    /// The device made its key and this CSR.
    Csr(CsrInfo),
    /// An existing certificate whose key and CSR fleetcert never saw: it
    /// manages the thing and policies, and never reissues it on its own.
    External { certificate_id: String },
}

/// A place in a spec file.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SourceLocation {
    pub file: PathBuf,
    pub line: u32,
    pub column: u32,
}

impl std::fmt::Display for SourceLocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}:{}:{}",
            display_path(&self.file),
            self.line,
            self.column
        )
    }
}

/// Where device bundles go (`output` in fleet.yaml).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Output {
    /// Files under `<dir>/<device>/`: `output.dir` joined to the spec
    /// file's directory.
    Dir { path: PathBuf },
    /// One Secrets Manager secret per device.
    SecretsManager {
        kms_key_id: Option<String>,
        recovery_window_days: u32,
    },
    /// One SSM Parameter Store SecureString per device.
    Ssm { kms_key_id: Option<String> },
}

impl Output {
    /// The local directory, when bundles are files.
    pub fn dir(&self) -> Option<&Path> {
        match self {
            Output::Dir { path } => Some(path),
            Output::SecretsManager { .. } | Output::Ssm { .. } => None,
        }
    }
}

/// The Secrets Manager name of a device's bundle.
pub fn secret_name(fleet: &str, device: &str) -> String {
    format!("fleetcert/{fleet}/{device}")
}

/// The SSM parameter of a device's bundle.
pub fn parameter_name(fleet: &str, device: &str) -> String {
    format!("/fleetcert/{fleet}/{device}")
}

/// What happens to certificates and things over time.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Lifecycle {
    /// Certificates of devices that left the spec.
    pub on_removal: OnRemoval,
    /// Delete the things of devices that left the spec.
    pub delete_things: bool,
    /// Delete the certificates of devices that left the spec (after revoking
    /// or deactivating them).
    pub delete_certificates: bool,
    /// How long a replaced certificate stays active after its successor.
    pub rotation_overlap: SpecDuration,
    /// What happens to a replaced certificate after the overlap.
    pub retire: Retire,
    /// Plans with more destructive changes need `--allow-destructive`.
    pub max_destructive_changes: u32,
    /// How a rotated certificate reaches its device.
    pub rotation: Rotation,
}

/// `lifecycle.rotation`: delivery by IoT job and its limits.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Rotation {
    pub delivery: Delivery,
    /// How long a device may take to confirm.
    pub max_wait: SpecDuration,
    pub on_timeout: OnTimeout,
    /// The jobs' `jobExecutionsRolloutConfig.maximumPerMinute`.
    pub maximum_per_minute: u32,
    /// The jobs' abort criterion: cancel at this failed percentage...
    pub abort_failed_percent: f64,
    /// ... once this many executions finished.
    pub abort_min_executed: u32,
    /// The jobs' `timeoutConfig.inProgressTimeoutInMinutes`, as a duration.
    pub in_progress_timeout: SpecDuration,
}

impl Default for Rotation {
    fn default() -> Self {
        Self {
            delivery: Delivery::None,
            max_wait: SpecDuration::from_days(14),
            on_timeout: OnTimeout::Keep,
            maximum_per_minute: 100,
            abort_failed_percent: 10.0,
            abort_min_executed: 10,
            in_progress_timeout: SpecDuration::from_secs(3_600),
        }
    }
}

impl Default for Lifecycle {
    fn default() -> Self {
        Self {
            on_removal: OnRemoval::Revoke,
            delete_things: true,
            delete_certificates: false,
            rotation_overlap: SpecDuration::from_days(7),
            retire: Retire::Revoke,
            max_destructive_changes: 10,
            rotation: Rotation::default(),
        }
    }
}

/// The JSON Schema of fleet.yaml, pretty-printed, as `fleetcert schema` prints it.
pub fn json_schema() -> String {
    let schema = schemars::generate::SchemaSettings::draft2020_12()
        .into_generator()
        .into_root_schema_for::<model::FleetFile>();
    let mut text = serde_json::to_string_pretty(&schema).expect("a schema serializes");
    text.push('\n');
    text
}

/// `value` with every object's keys in sorted order, pretty-printed with
/// 2-space indentation: the form policy documents are compared in.
pub fn canonical_json(value: &serde_json::Value) -> String {
    serde_json::to_string_pretty(&sorted(value)).expect("JSON values serialize")
}

fn sorted(value: &serde_json::Value) -> serde_json::Value {
    match value {
        serde_json::Value::Object(map) => {
            let mut entries: Vec<(&String, &serde_json::Value)> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            serde_json::Value::Object(
                entries
                    .into_iter()
                    .map(|(k, v)| (k.clone(), sorted(v)))
                    .collect(),
            )
        }
        serde_json::Value::Array(items) => {
            serde_json::Value::Array(items.iter().map(sorted).collect())
        }
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests;
