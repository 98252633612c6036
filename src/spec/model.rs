//! fleet.yaml as written: the serde model that the YAML is read into and the
//! JSON Schema is generated from (doc comments become descriptions).
//!
//! Values that need checking beyond their YAML type (names, durations,
//! validities, enum-like words) are read as text with their position
//! (`Sp<String>`) and checked in `validate`, so that one bad value does not
//! hide the others; the schema still shows their real shape (`schemars(with)`).

use std::collections::BTreeMap;
use std::fmt;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};

use super::types::{
    CaIotStatus, Delivery, IotMode, KeyAlgorithm, OnRemoval, OnTimeout, Retire, RevocationReason,
    SigningAlgorithm,
};
use crate::aws_op::AwsOp;

/// A position in a YAML file: 1-based line and column (characters), and the
/// length of the marked text in characters. Line 0 means unknown.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Loc {
    pub line: u32,
    pub column: u32,
    pub len: u32,
}

impl Loc {
    fn from_saphyr(location: serde_saphyr::Location) -> Self {
        let clamp = |n: u64| u32::try_from(n).unwrap_or(u32::MAX);
        Self {
            line: clamp(location.line()),
            column: clamp(location.column()),
            len: clamp(location.span().len()),
        }
    }

    pub fn is_known(self) -> bool {
        self.line > 0
    }
}

/// A value with the position it was written at. Compares and orders by value
/// only, so it can key a map. In the schema it is just `T`.
#[derive(Debug, Clone)]
pub struct Sp<T> {
    pub value: T,
    pub loc: Loc,
}

impl<T> Sp<T> {
    pub fn new(value: T, loc: Loc) -> Self {
        Self { value, loc }
    }
}

impl<T: PartialEq> PartialEq for Sp<T> {
    fn eq(&self, other: &Self) -> bool {
        self.value == other.value
    }
}
impl<T: Eq> Eq for Sp<T> {}
impl<T: Ord> PartialOrd for Sp<T> {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl<T: Ord> Ord for Sp<T> {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.value.cmp(&other.value)
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Sp<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let spanned = serde_saphyr::Spanned::<T>::deserialize(deserializer)?;
        Ok(Self {
            value: spanned.value,
            loc: Loc::from_saphyr(spanned.referenced),
        })
    }
}

impl<T: JsonSchema> JsonSchema for Sp<T> {
    fn inline_schema() -> bool {
        T::inline_schema()
    }
    fn schema_name() -> std::borrow::Cow<'static, str> {
        T::schema_name()
    }
    fn schema_id() -> std::borrow::Cow<'static, str> {
        T::schema_id()
    }
    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        T::json_schema(generator)
    }
}

type Text = Sp<String>;

/// A fleet of AWS IoT devices with certificates from an ACM Private CA
/// (ECDSA P-256), managed by fleetcert.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "fleetcert fleet.yaml")]
pub struct FleetFile {
    /// The format version of this file; must be 1.
    #[schemars(schema_with = "version_schema")]
    pub version: Text,
    /// The fleet's name. Marks every resource fleetcert manages (a tag on the
    /// CA, an attribute on things), so two fleets can share an account.
    #[schemars(regex(pattern = r"^[A-Za-z0-9_-]{1,64}$"))]
    pub fleet: Text,
    /// The AWS region (e.g. `ap-northeast-1`); when absent, the AWS chain's region.
    #[serde(default)]
    #[schemars(regex(pattern = r"^[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-[0-9]$"))]
    pub region: Option<Text>,
    /// The private CA: adopt an existing one (`arn`) or let fleetcert create
    /// one (`subject`).
    pub ca: Sp<CaFile>,
    /// What every device inherits unless it says otherwise.
    #[serde(default)]
    pub defaults: Option<Sp<DefaultsFile>>,
    /// IoT policies by name.
    #[serde(default)]
    #[schemars(with = "BTreeMap<PolicyName, PolicyFile>")]
    pub policies: BTreeMap<Text, Sp<PolicyFile>>,
    /// IoT thing types by name (optional). A thing with a type may carry up
    /// to 50 attributes instead of 3.
    #[serde(default)]
    #[schemars(with = "BTreeMap<ThingName, ThingTypeFile>")]
    pub thing_types: BTreeMap<Text, Sp<ThingTypeFile>>,
    /// The devices (IoT things), each with one certificate.
    #[serde(default)]
    pub devices: Vec<Sp<DeviceFile>>,
    /// Further device lists: glob patterns relative to this file (a string or
    /// a list). Each matched file is a YAML mapping with a `devices:` list.
    /// Files are read in sorted order; a pattern that matches nothing is an error.
    #[serde(default)]
    pub include: Option<Sp<IncludeList>>,
    /// What happens to certificates and things over time.
    #[serde(default)]
    pub lifecycle: Option<Sp<LifecycleFile>>,
    /// Where device files (certificates, generated keys) are written.
    #[serde(default)]
    pub output: Option<Sp<OutputFile>>,
    /// Requests per second for AWS operations fleetcert calls, e.g.
    /// `iot:RegisterCertificate: 5`: above 0 and at most AWS's default quota
    /// for the operation (the pipeline's `--rate-limit` may go higher).
    #[serde(default)]
    #[schemars(schema_with = "rate_limits_schema")]
    pub rate_limits: BTreeMap<Text, Sp<f64>>,
    /// Refuse policies with findings: `validate`, `plan` and `apply` exit 1
    /// while any policy has a finding its `allow_findings` does not accept
    /// (as `validate --strict` does). Default false.
    #[serde(default)]
    pub strict: Option<bool>,
}

fn version_schema(_: &mut SchemaGenerator) -> Schema {
    json_schema!({ "description": "Must be 1.", "const": 1 })
}

/// `rate_limits`: the operations are exactly [`AwsOp::ALL`], each rate
/// capped at the operation's default quota (the loader's rule).
fn rate_limits_schema(_: &mut SchemaGenerator) -> Schema {
    let properties: serde_json::Map<String, serde_json::Value> = AwsOp::ALL
        .iter()
        .map(|op| {
            let rate = serde_json::json!({
                "type": "number",
                "exclusiveMinimum": 0,
                "maximum": op.default_quota(),
            });
            (op.name().to_string(), rate)
        })
        .collect();
    json_schema!({
        "type": "object",
        "additionalProperties": false,
        "properties": properties,
    })
}

/// An IoT policy name: `[\w+=,.@-]{1,128}`.
#[derive(JsonSchema)]
#[schemars(transparent)]
#[allow(dead_code)]
struct PolicyName(#[schemars(regex(pattern = r"^[A-Za-z0-9_+=,.@-]{1,128}$"))] String);

/// An IoT thing or thing type name: `[a-zA-Z0-9:_-]{1,128}`.
#[derive(JsonSchema)]
#[schemars(transparent)]
#[allow(dead_code)]
struct ThingName(#[schemars(regex(pattern = r"^[a-zA-Z0-9:_-]{1,128}$"))] String);

/// A span of time: a whole number and a unit s, m, h, d, w or y (365 days),
/// e.g. `30d`, `12h`.
#[derive(JsonSchema)]
#[schemars(transparent)]
#[allow(dead_code)]
struct Duration(#[schemars(regex(pattern = r"^[0-9]+(s|m|h|d|w|y)$"))] String);

/// A certificate validity: whole days, months or years (PCA's Validity
/// types), e.g. `365d`, `12mo`, `10y`.
#[derive(JsonSchema)]
#[schemars(transparent)]
#[allow(dead_code)]
struct Validity(#[schemars(regex(pattern = r"^[1-9][0-9]*(d|mo|y)$"))] String);

/// IoT thing attributes: name `[a-zA-Z0-9_.,@/:#-]{1,128}`, value
/// `[a-zA-Z0-9_.,@/:#=\[\]-]{1,800}` (no spaces). `fleetcert` is reserved.
#[derive(JsonSchema)]
#[schemars(transparent)]
#[allow(dead_code)]
struct Attributes(BTreeMap<String, String>);

/// The private CA. Give `arn` to adopt an existing CA, or `subject` to let
/// fleetcert create one, not both.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CaFile {
    /// The ARN of an existing ACM PCA CA to adopt
    /// (`arn:aws:acm-pca:<region>:<account>:certificate-authority/<id>`).
    #[serde(default)]
    pub arn: Option<Text>,
    /// The subject of the CA fleetcert creates.
    #[serde(default)]
    pub subject: Option<Sp<SubjectFile>>,
    /// The CA key algorithm (created CAs only). fleetcert creates P-256 CAs.
    #[serde(default)]
    #[schemars(with = "Option<KeyAlgorithm>")]
    pub key_algorithm: Option<Text>,
    /// The CA signing algorithm (created CAs only); must fit the key algorithm.
    #[serde(default)]
    #[schemars(with = "Option<SigningAlgorithm>")]
    pub signing_algorithm: Option<Text>,
    /// The CA certificate's validity (created CAs only), default `10y`.
    #[serde(default)]
    #[schemars(with = "Option<Validity>")]
    pub validity: Option<Text>,
    /// `general_purpose` (default) or `short_lived` (created CAs only; fixed
    /// once the CA exists): a short-lived certificate mode CA issues
    /// certificates valid for at most 7 days, at a lower monthly price.
    #[serde(default)]
    #[schemars(with = "Option<crate::spec::UsageMode>")]
    pub usage_mode: Option<Text>,
    /// How the CA is registered in AWS IoT.
    #[serde(default)]
    pub iot: Option<Sp<CaIotFile>>,
}

/// The distinguished name of a CA fleetcert creates.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SubjectFile {
    /// CN, e.g. `Factory A Root CA` (at most 64 characters).
    pub common_name: Text,
    /// O.
    #[serde(default)]
    pub organization: Option<Text>,
    /// OU.
    #[serde(default)]
    pub organizational_unit: Option<Text>,
    /// C: two capital letters (ISO 3166), e.g. `JP`.
    #[serde(default)]
    #[schemars(regex(pattern = r"^[A-Z]{2}$"))]
    pub country: Option<Text>,
    /// ST.
    #[serde(default)]
    pub state: Option<Text>,
    /// L.
    #[serde(default)]
    pub locality: Option<Text>,
}

/// The CA's registration in AWS IoT.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CaIotFile {
    /// `default` (registered with a verification certificate) or `sni_only`
    /// (no verification certificate; what AWS recommends). Default `default`.
    #[serde(default)]
    #[schemars(with = "Option<IotMode>")]
    pub mode: Option<Text>,
    /// `active` or `inactive`. Default `active`.
    #[serde(default)]
    #[schemars(with = "Option<CaIotStatus>")]
    pub status: Option<Text>,
    /// Allow just-in-time registration (JITR/JITP). Default false.
    #[serde(default)]
    pub auto_registration: Option<bool>,
}

/// What every device inherits unless it says otherwise.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DefaultsFile {
    /// Certificate validity, default `365d`.
    #[serde(default)]
    #[schemars(with = "Option<Validity>")]
    pub validity: Option<Text>,
    /// Renew a certificate this long before it expires, default `30d`.
    #[serde(default)]
    #[schemars(with = "Option<Duration>")]
    pub renew_before: Option<Text>,
    /// Policies attached to each device's certificate (a device's own list
    /// replaces this one).
    #[serde(default)]
    #[schemars(with = "Option<Vec<PolicyName>>")]
    pub policies: Option<Vec<Text>>,
    /// The thing type of each device.
    #[serde(default)]
    #[schemars(with = "Option<ThingName>")]
    pub thing_type: Option<Text>,
    /// Attributes of each thing (a device's own attributes are merged over these).
    #[serde(default)]
    #[schemars(with = "Option<Attributes>")]
    pub attributes: Option<BTreeMap<Text, Text>>,
}

/// An IoT policy.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PolicyFile {
    /// The policy document: a path to a JSON file (relative to fleet.yaml) or
    /// the document inline as a mapping.
    pub document: Sp<PolicyDocument>,
    /// Take over an existing IoT policy of this name that fleetcert does not
    /// own yet (as `fleetcert import` writes). Without it, such a policy is
    /// left alone and the plan refuses. Default false.
    #[serde(default)]
    pub adopt: Option<bool>,
    /// Finding codes of the policy analysis that were reviewed and are
    /// accepted (e.g. `TOPIC_NOT_BOUND` for a topic every device shares);
    /// the plan shows them as accepted and `--strict` lets them pass.
    #[serde(default)]
    #[schemars(with = "Option<Vec<FindingCodeName>>")]
    pub allow_findings: Option<Vec<Text>>,
}

/// A finding code of the policy analysis.
#[derive(JsonSchema)]
#[allow(dead_code)]
#[schemars(schema_with = "finding_code_schema")]
struct FindingCodeName(String);

fn finding_code_schema(_: &mut SchemaGenerator) -> Schema {
    let codes: Vec<&str> = crate::analysis::FindingCode::ALL
        .iter()
        .map(|c| c.as_str())
        .collect();
    json_schema!({ "type": "string", "enum": codes })
}

/// A policy document: where it comes from.
#[derive(Debug)]
pub enum PolicyDocument {
    Path(String),
    Inline(serde_json::Value),
}

impl<'de> Deserialize<'de> for PolicyDocument {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct DocumentVisitor;
        impl<'de> Visitor<'de> for DocumentVisitor {
            type Value = PolicyDocument;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a path to a JSON policy file or an inline policy mapping")
            }
            fn visit_str<E: de::Error>(self, path: &str) -> Result<Self::Value, E> {
                Ok(PolicyDocument::Path(path.to_owned()))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                let value =
                    serde_json::Value::deserialize(de::value::MapAccessDeserializer::new(map))?;
                Ok(PolicyDocument::Inline(value))
            }
        }
        deserializer.deserialize_any(DocumentVisitor)
    }
}

impl JsonSchema for PolicyDocument {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "PolicyDocument".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "A path to a JSON policy file (relative to fleet.yaml), or the policy inline: {Version, Statement: [{Effect, Action, Resource}]}. At most 2048 characters without whitespace.",
            "oneOf": [
                { "type": "string", "minLength": 1 },
                {
                    "type": "object",
                    "required": ["Version", "Statement"],
                    "properties": {
                        "Version": { "type": "string" },
                        "Statement": { "type": "array", "minItems": 1, "items": { "type": "object" } }
                    }
                }
            ]
        })
    }
}

/// An IoT thing type.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ThingTypeFile {
    /// A description (at most 2028 characters).
    #[serde(default)]
    pub description: Option<Text>,
    /// Attribute names that can be searched (at most 3).
    #[serde(default)]
    #[schemars(length(max = 3))]
    pub searchable_attributes: Option<Vec<Text>>,
}

/// A device: an IoT thing and its certificate.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DeviceFile {
    /// The IoT thing name (`[a-zA-Z0-9:_-]{1,128}`), unique in the fleet.
    #[schemars(regex(pattern = r"^[a-zA-Z0-9:_-]{1,128}$"))]
    pub name: Text,
    /// A PEM CSR (relative to fleet.yaml) made on the device, whose CN is the
    /// device name and whose key is P-256. Without `csr` or `certificate_id`,
    /// fleetcert makes a P-256 key.
    #[serde(default)]
    pub csr: Option<Text>,
    /// An existing IoT certificate (64 hex digits) whose key and CSR fleetcert
    /// never saw (adopted fleets). fleetcert manages the thing and policies,
    /// and never reissues it on its own.
    #[serde(default)]
    #[schemars(regex(pattern = r"^[0-9a-f]{64}$"))]
    pub certificate_id: Option<Text>,
    /// Thing attributes, merged over the defaults' attributes.
    #[serde(default)]
    #[schemars(with = "Option<Attributes>")]
    pub attributes: Option<BTreeMap<Text, Text>>,
    /// The thing type (declared under `thing_types`).
    #[serde(default)]
    #[schemars(with = "Option<ThingName>")]
    pub thing_type: Option<Text>,
    /// Policies attached to the certificate; replaces the defaults' list.
    #[serde(default)]
    #[schemars(with = "Option<Vec<PolicyName>>")]
    pub policies: Option<Vec<Text>>,
    /// Certificate validity, e.g. `90d`.
    #[serde(default)]
    #[schemars(with = "Option<Validity>")]
    pub validity: Option<Text>,
    /// Renew this long before expiry, e.g. `30d`.
    #[serde(default)]
    #[schemars(with = "Option<Duration>")]
    pub renew_before: Option<Text>,
    /// Revoke the device's certificate (the thing stays).
    #[serde(default)]
    pub revoked: Option<Sp<bool>>,
    /// Why it is revoked (with `revoked: true`), default `unspecified`.
    #[serde(default)]
    #[schemars(with = "Option<RevocationReason>")]
    pub revocation_reason: Option<Text>,
    /// Take over an existing thing of this name that carries no fleetcert
    /// marker (as `fleetcert import` writes). Without it, such a thing is left
    /// alone and the plan refuses. Default false.
    #[serde(default)]
    pub adopt: Option<bool>,
}

/// A file named by `include`: a mapping with a `devices:` list.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct IncludeFile {
    /// The devices, as in fleet.yaml.
    pub devices: Vec<Sp<DeviceFile>>,
}

/// Glob patterns: one string or a list.
#[derive(Debug)]
pub struct IncludeList(pub Vec<Text>);

impl<'de> Deserialize<'de> for IncludeList {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct IncludeVisitor;
        impl<'de> Visitor<'de> for IncludeVisitor {
            type Value = IncludeList;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a glob pattern or a list of glob patterns")
            }
            fn visit_str<E: de::Error>(self, pattern: &str) -> Result<Self::Value, E> {
                Ok(IncludeList(vec![Sp::new(
                    pattern.to_owned(),
                    Loc::default(),
                )]))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut patterns = Vec::new();
                while let Some(pattern) = seq.next_element::<Text>()? {
                    patterns.push(pattern);
                }
                Ok(IncludeList(patterns))
            }
        }
        deserializer.deserialize_any(IncludeVisitor)
    }
}

impl JsonSchema for IncludeList {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "IncludeList".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "Glob patterns relative to fleet.yaml, e.g. `devices/*.yaml`.",
            "oneOf": [
                { "type": "string" },
                { "type": "array", "items": { "type": "string" } }
            ]
        })
    }
}

/// What happens to certificates and things over time.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LifecycleFile {
    /// What happens to the certificates of devices that left the spec:
    /// `revoke` (default), `deactivate` or `keep`.
    #[serde(default)]
    #[schemars(with = "Option<OnRemoval>")]
    pub on_removal: Option<Text>,
    /// Delete the things of devices that left the spec. Default true.
    #[serde(default)]
    pub delete_things: Option<bool>,
    /// Delete the (revoked or inactive) certificates of devices that left the
    /// spec. Default false.
    #[serde(default)]
    pub delete_certificates: Option<Sp<bool>>,
    /// How long a certificate replaced by rotation stays active. Default `7d`.
    #[serde(default)]
    #[schemars(with = "Option<Duration>")]
    pub rotation_overlap: Option<Text>,
    /// What happens to a replaced certificate after the overlap: `revoke`
    /// (default) or `deactivate`.
    #[serde(default)]
    #[schemars(with = "Option<Retire>")]
    pub retire: Option<Text>,
    /// Plans with more destructive changes need `--allow-destructive`. Default 10.
    #[serde(default)]
    pub max_destructive_changes: Option<u32>,
    /// How a rotated certificate reaches its device.
    #[serde(default)]
    pub rotation: Option<Sp<RotationFile>>,
}

/// How a rotated certificate reaches its device, and when the old one retires.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RotationFile {
    /// `none` (default): the bundle is written and the old certificate
    /// retires after `rotation_overlap`. `job`: an AWS IoT job carries the
    /// new certificate to the device, and the old one retires only after the
    /// device reports the job SUCCEEDED naming the new certificate.
    #[serde(default)]
    #[schemars(with = "Option<Delivery>")]
    pub delivery: Option<Text>,
    /// How long a device may take to confirm before `on_timeout` decides.
    /// Default `14d`.
    #[serde(default)]
    #[schemars(with = "Option<Duration>")]
    pub max_wait: Option<Text>,
    /// `keep` (default: the old certificate stays ACTIVE and the plan warns)
    /// or `retire` (it retires as if confirmed).
    #[serde(default)]
    #[schemars(with = "Option<OnTimeout>")]
    pub on_timeout: Option<Text>,
    /// Job executions started per minute (1 to 1000). Default 100.
    #[serde(default)]
    pub maximum_per_minute: Option<Sp<u32>>,
    /// Cancel a job once this percentage of its executions failed (FAILED,
    /// REJECTED or TIMED_OUT), 1 to 100. Default 10.
    #[serde(default)]
    pub abort_failed_percent: Option<Sp<f64>>,
    /// ... but only after this many executions finished. Default 10.
    #[serde(default)]
    pub abort_min_executed: Option<Sp<u32>>,
    /// An execution IN_PROGRESS for longer is TIMED_OUT (1m to 7d). Default `1h`.
    #[serde(default)]
    #[schemars(with = "Option<Duration>")]
    pub in_progress_timeout: Option<Text>,
}

/// Where each device's bundle (certificate, chain, connection details and,
/// for a key fleetcert generated, the private key) goes: a directory, or a
/// secret store. At most one of `dir`, `secrets_manager` and `ssm`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OutputFile {
    /// A directory relative to fleet.yaml. Default `out`.
    #[serde(default)]
    pub dir: Option<Text>,
    /// AWS Secrets Manager: one secret per device, `fleetcert/<fleet>/<device>`.
    #[serde(default)]
    pub secrets_manager: Option<Sp<SecretsManagerFile>>,
    /// SSM Parameter Store: one SecureString per device, `/fleetcert/<fleet>/<device>`.
    #[serde(default)]
    pub ssm: Option<Sp<SsmFile>>,
}

/// Device bundles in SSM Parameter Store.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SsmFile {
    /// The KMS key that encrypts the parameters (id, ARN or `alias/...`).
    /// Default: Parameter Store's own key, `aws/ssm`.
    #[serde(default)]
    pub kms_key_id: Option<Text>,
}

/// Device bundles in AWS Secrets Manager.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SecretsManagerFile {
    /// The KMS key that encrypts the secrets (id, ARN or `alias/...`).
    /// Default: Secrets Manager's own key, `aws/secretsmanager`.
    #[serde(default)]
    pub kms_key_id: Option<Text>,
    /// Days a removed device's secret can still be restored (7 to 30,
    /// Secrets Manager's DeleteSecret RecoveryWindowInDays). Default 30.
    #[serde(default)]
    pub recovery_window_days: Option<Sp<u32>>,
}
