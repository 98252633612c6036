//! Every AWS operation fleetcert calls, as one closed type.
//!
//! An operation's name (`iot:RegisterCertificate`) keys the pacer's buckets,
//! the spec's `rate_limits` and `--rate-limit`, names the failing call in an
//! error, and (as its IAM action) fills the policy `iam-policy` prints. With
//! one enum, a misspelt name is refused where it is written instead of
//! being silently ignored, and AWS's default quota for each operation lives
//! next to its name.
//!
//! Quotas are AWS's default request rates (requests per second, per account
//! and region; adjustable, and AWS changes them, so approximate): DESIGN.md
//! section 5, from "AWS Private CA endpoints and quotas"
//! (<https://docs.aws.amazon.com/general/latest/gr/pca.html#limits_pca>) and
//! "AWS IoT Core endpoints and quotas", API throttling limits
//! (<https://docs.aws.amazon.com/general/latest/gr/iot-core.html#throttling-limits>).
//! The emulator's table (`tests/emulator/fleetcert_emulator/quotas.py`)
//! holds the same figures; `tests/it/aws_ops.rs` checks that it does.

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The AWS services fleetcert calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Service {
    /// AWS Private Certificate Authority.
    AcmPca,
    /// AWS IoT Core.
    Iot,
    /// AWS Secrets Manager (device bundles, `output.secrets_manager`).
    SecretsManager,
    /// AWS Systems Manager Parameter Store (device bundles, `output.ssm`).
    Ssm,
}

impl Service {
    /// The service's IAM prefix ("Actions, resources, and condition keys"
    /// in the Service Authorization Reference: `acm-pca` and `iot`).
    /// fleetcert names operations with the same prefixes.
    pub const fn iam_prefix(self) -> &'static str {
        match self {
            Service::AcmPca => "acm-pca",
            Service::Iot => "iot",
            Service::SecretsManager => "secretsmanager",
            Service::Ssm => "ssm",
        }
    }
}

/// Declares [`AwsOp`] and its tables from one list: variant, service,
/// default quota. The name and the IAM action are built from the service's
/// prefix and the variant's identifier, so they cannot drift apart.
macro_rules! aws_ops {
    ($( $service:ident $variant:ident = $quota:literal $(=> $op:literal)?, )*) => {
        /// One AWS operation fleetcert calls. Serialized, parsed and shown
        /// as its name, e.g. `iot:RegisterCertificate`.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum AwsOp {
            $( $variant, )*
        }

        impl AwsOp {
            /// Every operation, in declaration order (PCA first).
            pub const ALL: &'static [AwsOp] = &[ $( AwsOp::$variant, )* ];

            /// The service the operation belongs to.
            pub const fn service(self) -> Service {
                match self {
                    $( AwsOp::$variant => Service::$service, )*
                }
            }

            /// `service:Operation`, e.g. `iot:RegisterCertificate`.
            pub const fn name(self) -> &'static str {
                match self {
                    $( AwsOp::$variant => aws_ops!(@name $service $variant $($op)?), )*
                }
            }

            /// AWS's default request-rate quota, requests per second.
            pub const fn default_quota(self) -> f64 {
                match self {
                    $( AwsOp::$variant => $quota as f64, )*
                }
            }
        }
    };
    (@name AcmPca $variant:ident) => { concat!("acm-pca:", stringify!($variant)) };
    (@name Iot $variant:ident) => { concat!("iot:", stringify!($variant)) };
    (@name SecretsManager $variant:ident) => { concat!("secretsmanager:", stringify!($variant)) };
    (@name Ssm $variant:ident) => { concat!("ssm:", stringify!($variant)) };
    // An operation whose name another service's variant already has.
    (@name SecretsManager $variant:ident $op:literal) => { concat!("secretsmanager:", $op) };
}

aws_ops! {
    // ---- AWS Private CA ("AWS Private CA endpoints and quotas") ----
    AcmPca IssueCertificate = 25,
    AcmPca GetCertificate = 75,
    AcmPca RevokeCertificate = 20,
    AcmPca CreateCertificateAuthority = 1,
    AcmPca DescribeCertificateAuthority = 20,
    AcmPca GetCertificateAuthorityCertificate = 20,
    AcmPca GetCertificateAuthorityCsr = 10,
    AcmPca ImportCertificateAuthorityCertificate = 10,
    AcmPca ListCertificateAuthorities = 20,
    AcmPca ListTags = 20,
    AcmPca TagCertificateAuthority = 10,
    // ---- AWS IoT Core: the DESIGN.md section 5 figures ----
    Iot RegisterCertificate = 10,
    Iot DescribeCertificate = 10,
    Iot ListThings = 10,
    Iot ListThingPrincipals = 10,
    Iot GetPolicy = 10,
    Iot AttachPolicy = 15,
    Iot AttachThingPrincipal = 100,
    Iot CreateThing = 100,
    Iot UpdateThing = 100,
    Iot DeleteThing = 100,
    // ---- AWS IoT Core: the rest of "AWS IoT Core API throttling limits" ----
    Iot DescribeThing = 350,
    Iot DetachThingPrincipal = 100,
    Iot DetachPolicy = 15,
    Iot ListAttachedPolicies = 15,
    Iot ListPrincipalThings = 10,
    // Not in the published table; taken as its List* peers.
    Iot ListTargetsForPolicy = 10,
    Iot ListCertificatesByCA = 10,
    Iot UpdateCertificate = 10,
    Iot DeleteCertificate = 10,
    Iot RegisterCACertificate = 10,
    Iot DescribeCACertificate = 10,
    Iot ListCACertificates = 10,
    Iot UpdateCACertificate = 10,
    Iot GetRegistrationCode = 10,
    Iot CreatePolicy = 10,
    Iot CreatePolicyVersion = 10,
    Iot DeletePolicy = 10,
    Iot DeletePolicyVersion = 10,
    Iot GetPolicyVersion = 15,
    Iot ListPolicies = 10,
    Iot ListPolicyVersions = 10,
    Iot DescribeEndpoint = 10,
    Iot ListThingTypes = 10,
    Iot CreateThingType = 15,
    Iot TagResource = 10,
    Iot ListTagsForResource = 10,
    // ---- AWS IoT thing groups and jobs (certificate rotation by job): the
    // "AWS IoT Throttling Limits" table as of 2019 (now "AWS IoT Device
    // Management endpoints and quotas",
    // https://docs.aws.amazon.com/general/latest/gr/iot_device_management.html) ----
    Iot CreateThingGroup = 25,
    Iot DescribeThingGroup = 100,
    Iot DeleteThingGroup = 15,
    Iot AddThingToThingGroup = 60,
    Iot RemoveThingFromThingGroup = 15,
    Iot ListThingsInThingGroup = 25,
    Iot ListThingGroups = 10,
    Iot CreateJob = 10,
    Iot DescribeJob = 10,
    Iot GetJobDocument = 10,
    Iot ListJobs = 10,
    Iot ListJobExecutionsForJob = 10,
    Iot ListJobExecutionsForThing = 10,
    Iot DescribeJobExecution = 10,
    Iot CancelJob = 10,
    Iot CancelJobExecution = 10,
    Iot DeleteJob = 10,
    // ---- AWS Secrets Manager ("AWS Secrets Manager quotas",
    // https://docs.aws.amazon.com/secretsmanager/latest/userguide/reference_limits.html:
    // DescribeSecret and GetSecretValue 10,000 combined; the other calls here 50) ----
    SecretsManager CreateSecret = 50,
    SecretsManager PutSecretValue = 50,
    SecretsManager GetSecretValue = 10000,
    SecretsManager UpdateSecretVersionStage = 50,
    SecretsManager DeleteSecret = 50,
    SecretsManager ListSecrets = 50,
    SecretsManager TagSecret = 50 => "TagResource",
    SecretsManager UntagSecret = 50 => "UntagResource",
    // ---- SSM Parameter Store ("AWS Systems Manager endpoints and quotas"):
    // GetParameter 40/s default throughput (shared with GetParameters and
    // GetParametersByPath); the others are not published per operation and
    // are taken low ----
    Ssm GetParameter = 40,
    Ssm PutParameter = 3,
    Ssm DeleteParameter = 3,
    Ssm DescribeParameters = 10,
}

impl AwsOp {
    /// The IAM action that allows the operation, e.g. `acm-pca:IssueCertificate`
    /// (Service Authorization Reference). Each of these operations has an
    /// action of the same name under the service's IAM prefix, which is
    /// also the prefix of [`AwsOp::name`]; the two are kept apart because
    /// they answer different questions (what to pace, what to allow).
    pub fn iam_action(self) -> &'static str {
        // `name()` is `<IAM prefix>:<Operation>` by construction (aws_ops!).
        self.name()
    }

    /// The operation part of the name, e.g. `RegisterCertificate`.
    pub fn operation(self) -> &'static str {
        let name = self.name();
        &name[self.service().iam_prefix().len() + 1..]
    }

    /// The known operation closest to `text` (edit distance, ignoring case),
    /// if it is close enough to be a plausible misspelling. The operation
    /// part is also compared on its own, so a missing or wrong service
    /// prefix (`IssueCertificate`, `iot:IssueCertificate`) still finds it.
    pub fn closest(text: &str) -> Option<AwsOp> {
        let wanted = text.to_ascii_lowercase();
        let wanted_op = wanted.rsplit(':').next().unwrap_or(&wanted);
        let (op, distance) = AwsOp::ALL
            .iter()
            .map(|op| {
                let whole = edit_distance(&wanted, &op.name().to_ascii_lowercase());
                let part = edit_distance(wanted_op, &op.operation().to_ascii_lowercase()) + 1;
                (*op, whole.min(part))
            })
            .min_by_key(|(_, distance)| *distance)?;
        // A third of the operation's length: catches dropped, doubled or
        // swapped letters, not unrelated names.
        (distance <= (wanted_op.chars().count() / 3).max(2)).then_some(op)
    }
}

/// Levenshtein distance between `a` and `b`, by characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let substitute = previous[j] + usize::from(ca != *cb);
            current[j + 1] = substitute.min(previous[j + 1] + 1).min(current[j] + 1);
        }
        previous = current;
    }
    previous[b.len()]
}

impl fmt::Display for AwsOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A name that is not one of [`AwsOp::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{given}` is not an AWS operation fleetcert calls{}", did_you_mean(.suggestion))]
pub struct UnknownAwsOp {
    /// The name as written.
    pub given: String,
    /// The closest known name, when one is close.
    pub suggestion: Option<AwsOp>,
}

fn did_you_mean(suggestion: &Option<AwsOp>) -> String {
    suggestion
        .map(|op| format!(" (did you mean `{op}`?)"))
        .unwrap_or_default()
}

impl UnknownAwsOp {
    /// What to write instead, for a diagnostic's help line.
    pub fn hint(&self) -> String {
        match self.suggestion {
            Some(op) => format!("did you mean `{op}`?"),
            None => "name an operation fleetcert calls, e.g. `iot:RegisterCertificate` \
                     (schema/fleet.schema.json lists them all)"
                .to_string(),
        }
    }
}

impl FromStr for AwsOp {
    type Err = UnknownAwsOp;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        AwsOp::ALL
            .iter()
            .copied()
            .find(|op| op.name() == text)
            .ok_or_else(|| UnknownAwsOp {
                given: text.to_string(),
                suggestion: AwsOp::closest(text),
            })
    }
}

impl Serialize for AwsOp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.name())
    }
}

impl<'de> Deserialize<'de> for AwsOp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = Cow::<'de, str>::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_parses_back_to_its_operation() {
        for op in AwsOp::ALL {
            assert_eq!(op.name().parse::<AwsOp>(), Ok(*op));
            assert_eq!(op.to_string(), op.name());
            let json = serde_json::to_string(op).unwrap();
            assert_eq!(json, format!("\"{}\"", op.name()));
            assert_eq!(serde_json::from_str::<AwsOp>(&json).unwrap(), *op);
        }
    }

    #[test]
    fn names_are_unique_and_prefixed_by_their_service() {
        let mut names: Vec<&str> = AwsOp::ALL.iter().map(|op| op.name()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), AwsOp::ALL.len());
        for op in AwsOp::ALL {
            let (prefix, operation) = op.name().split_once(':').unwrap();
            assert_eq!(prefix, op.service().iam_prefix(), "{op}");
            assert_eq!(operation, op.operation(), "{op}");
            assert_eq!(op.iam_action(), format!("{prefix}:{operation}"));
            assert!(op.default_quota() >= 1.0, "{op}");
        }
        assert_eq!(AwsOp::IssueCertificate.name(), "acm-pca:IssueCertificate");
        assert_eq!(
            AwsOp::IssueCertificate.iam_action(),
            "acm-pca:IssueCertificate"
        );
        assert_eq!(AwsOp::RegisterCertificate.default_quota(), 10.0);
        assert_eq!(AwsOp::DescribeThing.default_quota(), 350.0);
    }

    #[test]
    fn an_unknown_name_is_refused_with_the_closest_known_one() {
        let typo = "iot:RegisterCertficate".parse::<AwsOp>().unwrap_err();
        assert_eq!(typo.given, "iot:RegisterCertficate");
        assert_eq!(typo.suggestion, Some(AwsOp::RegisterCertificate));
        assert_eq!(
            typo.to_string(),
            "`iot:RegisterCertficate` is not an AWS operation fleetcert calls \
             (did you mean `iot:RegisterCertificate`?)"
        );
        assert_eq!(typo.hint(), "did you mean `iot:RegisterCertificate`?");
        // Case and a missing prefix are plausible slips too.
        assert_eq!(
            AwsOp::closest("iot:registercertificate"),
            Some(AwsOp::RegisterCertificate)
        );
        assert_eq!(
            AwsOp::closest("IssueCertificate"),
            Some(AwsOp::IssueCertificate)
        );
        assert_eq!(
            AwsOp::closest("iot:IssueCertificate"),
            Some(AwsOp::IssueCertificate)
        );
        assert_eq!(AwsOp::closest("iot:UpdateThings"), Some(AwsOp::UpdateThing));
        // Names are exact: the right letters in the wrong case do not parse.
        assert!("iot:registerCertificate".parse::<AwsOp>().is_err());
        // Nothing near: no suggestion, and the hint says where to look.
        let far = "s3:PutObject".parse::<AwsOp>().unwrap_err();
        assert_eq!(far.suggestion, None);
        assert!(
            far.hint().contains("schema/fleet.schema.json"),
            "{}",
            far.hint()
        );
        assert!(serde_json::from_str::<AwsOp>("\"iot:Nope\"").is_err());
    }

    #[test]
    fn edit_distance_counts_single_character_edits() {
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("same", "same"), 0);
    }
}
