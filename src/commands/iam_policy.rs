//! `fleetcert iam-policy`: the least-privilege IAM policy a pipeline role
//! needs for this spec, for `plan`/`drift` (read-only) or `apply`.
//!
//! Action names and resource types follow the Service Authorization
//! Reference: "Actions, resources, and condition keys for AWS IoT"
//! (<https://docs.aws.amazon.com/service-authorization/latest/reference/list_awsiot.html>)
//! and "... for AWS Private Certificate Authority"
//! (<https://docs.aws.amazon.com/service-authorization/latest/reference/list_awsprivatecertificateauthority.html>).
//! Actions with no resource type there (List*, Register*, GetRegistrationCode,
//! DescribeEndpoint, CreateCertificateAuthority) must name `*`. The rest are
//! narrowed as far as fleetcert's own behaviour allows: the spec's CA when it
//! names one; the spec's things, policies and thing types for the calls that
//! create or change them. Reads and deletions stay on every thing/policy of
//! the account and region, because fleetcert must read resources it does not
//! own to refuse taking them over, and must clean up devices and policies
//! that left the spec (whose names the spec no longer holds).

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::aws_op::AwsOp;
use crate::cli::{IamMode, IamPolicyArgs};
use crate::exit::ExitStatus;
use crate::printer::Printer;
use crate::spec::{CaSpec, Output, Spec};

use super::common;

/// IAM's limit on a managed policy, in characters (whitespace excluded).
const MANAGED_POLICY_LIMIT: usize = 6_144;

pub fn iam_policy(args: &IamPolicyArgs, printer: &Printer) -> anyhow::Result<ExitStatus> {
    let spec = common::load_spec(&args.spec.file, printer)?;
    let region = args
        .region
        .clone()
        .or_else(|| spec.region.clone())
        .unwrap_or_else(|| "*".into());
    let account = args.account.clone().unwrap_or_else(|| "*".into());
    let mut text =
        serde_json::to_string_pretty(&policy(&spec, args.mode, &region, &account, true))?;
    if compact_len(&text) > MANAGED_POLICY_LIMIT {
        printer.error(&format!(
            "note: listing each of the {} devices' things would exceed IAM's {MANAGED_POLICY_LIMIT}-character \
             managed-policy limit; things are narrowed to the account and region instead",
            spec.devices.len()
        ));
        text = serde_json::to_string_pretty(&policy(&spec, args.mode, &region, &account, false))?;
    }
    text.push('\n');
    printer.out(&text);
    Ok(ExitStatus::Success)
}

fn compact_len(text: &str) -> usize {
    text.chars().filter(|c| !c.is_whitespace()).count()
}

/// The policy document. `list_things`: name each device's thing (else `thing/*`).
pub fn policy(spec: &Spec, mode: IamMode, region: &str, account: &str, list_things: bool) -> Value {
    let mut policy = PolicyBuilder {
        spec,
        region,
        account,
        list_things,
        statements: BTreeMap::new(),
    };
    // ---- plan and drift: read-only ----
    policy.unscoped_reads();
    policy.fleet_ca_reads();
    policy.iot_reads();
    policy.lock_read();
    policy.bundle_reads();
    if mode == IamMode::Apply {
        policy.bundle_writes();
        policy.parameter_writes();
        policy.unscoped_writes();
        policy.fleet_ca_issuance();
        policy.certificate_updates();
        policy.thing_writes();
        policy.policy_writes();
        policy.thing_type_writes();
    }
    policy.document()
}

/// The statements of one policy, by `Sid`, and what their ARNs are made of.
/// Each method adds one group of statements; the document lists them sorted
/// by `Sid`, whatever order they were added in.
struct PolicyBuilder<'a> {
    spec: &'a Spec,
    region: &'a str,
    account: &'a str,
    /// Name each device's thing, rather than `thing/*`.
    list_things: bool,
    statements: BTreeMap<&'static str, Allow>,
}

/// One `Allow` statement's actions and resources.
struct Allow {
    actions: Vec<AwsOp>,
    /// IAM actions fleetcert needs without calling them itself (KMS, which
    /// Secrets Manager calls as the caller).
    implied: Vec<&'static str>,
    resources: Vec<String>,
}

impl PolicyBuilder<'_> {
    fn allow(&mut self, sid: &'static str, actions: Vec<AwsOp>, resources: Vec<String>) {
        self.statements.insert(
            sid,
            Allow {
                actions,
                implied: Vec::new(),
                resources,
            },
        );
    }

    fn iot(&self, resource: &str) -> String {
        format!("arn:aws:iot:{}:{}:{resource}", self.region, self.account)
    }

    fn fleet_ca(&self) -> String {
        match &self.spec.ca {
            CaSpec::Adopt { arn, .. } => arn.clone(),
            // Created by fleetcert: its id is not known before it exists.
            CaSpec::Create { .. } => format!(
                "arn:aws:acm-pca:{}:{}:certificate-authority/*",
                self.region, self.account
            ),
        }
    }

    fn lock_thing(&self) -> String {
        self.iot(&format!(
            "thing/{}",
            crate::lock::thing_name(&self.spec.fleet)
        ))
    }

    /// Reading the live state: the List* calls, which name no resource type.
    fn unscoped_reads(&mut self) {
        self.allow(
            "ReadWithoutResourceTypes",
            vec![
                AwsOp::ListCertificateAuthorities,
                AwsOp::ListAttachedPolicies,
                AwsOp::ListCACertificates,
                AwsOp::ListCertificatesByCA,
                AwsOp::ListPolicies,
                AwsOp::ListPrincipalThings,
                AwsOp::ListThingTypes,
                AwsOp::ListThings,
            ],
            vec!["*".into()],
        );
    }

    fn fleet_ca_reads(&mut self) {
        let ca = self.fleet_ca();
        self.allow(
            "ReadFleetCa",
            vec![
                AwsOp::DescribeCertificateAuthority,
                AwsOp::GetCertificateAuthorityCertificate,
                AwsOp::ListTags,
            ],
            vec![ca],
        );
    }

    /// Every CA certificate, certificate and policy of the account and region:
    /// fleetcert reads what it does not own, to refuse taking it over.
    fn iot_reads(&mut self) {
        let resources = vec![
            self.iot("cacert/*"),
            self.iot("cert/*"),
            self.iot("policy/*"),
        ];
        self.allow(
            "ReadIotResources",
            vec![
                AwsOp::DescribeCACertificate,
                AwsOp::DescribeCertificate,
                AwsOp::GetPolicy,
                AwsOp::GetPolicyVersion,
                AwsOp::ListPolicyVersions,
                AwsOp::ListTagsForResource,
                AwsOp::ListTargetsForPolicy,
            ],
            resources,
        );
        // `drift` and `--refresh full` read each fleet thing's principals
        // (the fleet's departed things too, whose names the spec lacks).
        self.allow(
            "ReadThingPrincipals",
            vec![AwsOp::ListThingPrincipals],
            vec![self.iot("thing/*")],
        );
    }

    /// The apply lock is a thing: drift reads from it the digest the last
    /// full apply recorded, and whether an apply is running now. Spec devices
    /// the fleet's filtered list does not hold are looked up by name.
    fn lock_read(&mut self) {
        let mut things = self.spec_things();
        things.push(self.lock_thing());
        self.allow(
            "DescribeSpecThingsAndLock",
            vec![AwsOp::DescribeThing],
            things,
        );
    }

    /// Each spec device's thing by name, or `thing/*` when not listed.
    fn spec_things(&self) -> Vec<String> {
        if self.list_things {
            self.spec
                .devices
                .keys()
                .map(|d| self.iot(&format!("thing/{d}")))
                .collect()
        } else {
            vec![self.iot("thing/*")]
        }
    }

    /// Registration with IoT, the endpoint, policy attachment and creating
    /// the CA (when the spec creates it): calls that name no resource type.
    fn unscoped_writes(&mut self) {
        let mut actions = vec![
            AwsOp::DescribeEndpoint,
            AwsOp::GetRegistrationCode,
            AwsOp::RegisterCACertificate,
            AwsOp::RegisterCertificate,
            // Attach/DetachPolicy name the certificate as the target, which
            // IAM does not narrow by the policy being attached.
            AwsOp::AttachPolicy,
            AwsOp::DetachPolicy,
        ];
        if matches!(self.spec.ca, CaSpec::Create { .. }) {
            actions.push(AwsOp::CreateCertificateAuthority);
        }
        actions.sort_unstable_by_key(|op| op.iam_action());
        self.allow("WriteWithoutResourceTypes", actions, vec!["*".into()]);
    }

    /// Installing the created CA's certificate, and issuing and revoking
    /// device certificates.
    fn fleet_ca_issuance(&mut self) {
        let ca = self.fleet_ca();
        self.allow(
            "IssueFromFleetCa",
            vec![
                AwsOp::GetCertificate,
                AwsOp::GetCertificateAuthorityCsr,
                AwsOp::ImportCertificateAuthorityCertificate,
                AwsOp::IssueCertificate,
                AwsOp::RevokeCertificate,
                AwsOp::TagCertificateAuthority,
            ],
            vec![ca],
        );
    }

    /// Activating, deactivating and deleting IoT certificates (the CA's too).
    fn certificate_updates(&mut self) {
        let resources = vec![self.iot("cacert/*"), self.iot("cert/*")];
        self.allow(
            "ManageCertificates",
            vec![
                AwsOp::DeleteCertificate,
                AwsOp::UpdateCACertificate,
                AwsOp::UpdateCertificate,
            ],
            resources,
        );
    }

    /// The spec's things (and the lock) are created and changed by name;
    /// departed things, whose names the spec no longer holds, are deleted
    /// anywhere in the account and region.
    fn thing_writes(&mut self) {
        let mut things = self.spec_things();
        things.push(self.lock_thing());
        self.allow(
            "CreateAndUpdateSpecThings",
            // DescribeThing: after a retried UpdateThing meets a version
            // conflict, apply reads the thing back to see whether its own
            // lost attempt landed (cloud/ops/things.rs, thing_has).
            vec![
                AwsOp::AttachThingPrincipal,
                AwsOp::CreateThing,
                AwsOp::DescribeThing,
                AwsOp::UpdateThing,
            ],
            things,
        );
        let all_things = self.iot("thing/*");
        self.allow(
            "RetireDepartedThings",
            vec![AwsOp::DeleteThing, AwsOp::DetachThingPrincipal],
            vec![all_things],
        );
    }

    /// Like things: the spec's policies by name, departed ones anywhere.
    fn policy_writes(&mut self) {
        let mut policies: Vec<String> = self
            .spec
            .policies
            .keys()
            .map(|p| self.iot(&format!("policy/{p}")))
            .collect();
        policies.sort();
        self.allow(
            "CreateAndUpdateSpecPolicies",
            vec![
                AwsOp::CreatePolicy,
                AwsOp::CreatePolicyVersion,
                AwsOp::TagResource,
            ],
            policies,
        );
        let all_policies = self.iot("policy/*");
        self.allow(
            "RetireDepartedPolicies",
            vec![AwsOp::DeletePolicy, AwsOp::DeletePolicyVersion],
            vec![all_policies],
        );
    }

    /// Only when the spec declares thing types: a statement with no
    /// resource would be refused by IAM.
    fn thing_type_writes(&mut self) {
        if self.spec.thing_types.is_empty() {
            return;
        }
        let thing_types = self
            .spec
            .thing_types
            .keys()
            .map(|t| self.iot(&format!("thingtype/{t}")))
            .collect();
        self.allow(
            "CreateSpecThingTypes",
            vec![AwsOp::CreateThingType],
            thing_types,
        );
    }

    /// Plans read the fleet's bundles from one listing (ListSecrets names
    /// no resource type: Service Authorization Reference, Secrets Manager).
    fn bundle_reads(&mut self) {
        match self.spec.output {
            Output::SecretsManager { .. } => {
                self.allow("ListBundles", vec![AwsOp::ListSecrets], vec!["*".into()]);
            }
            // DescribeParameters names no resource type either.
            Output::Ssm { .. } => {
                self.allow(
                    "ListBundles",
                    vec![AwsOp::DescribeParameters],
                    vec!["*".into()],
                );
            }
            Output::Dir { .. } => {}
        }
    }

    /// The fleet's parameters, `/fleetcert/<fleet>/*` (a parameter ARN has
    /// one slash after `parameter`), and the KMS key.
    fn parameter_writes(&mut self) {
        let Output::Ssm { kms_key_id } = &self.spec.output else {
            return;
        };
        let parameters = format!(
            "arn:aws:ssm:{}:{}:parameter{}*",
            self.region,
            self.account,
            crate::spec::parameter_name(&self.spec.fleet, "")
        );
        self.allow(
            "WriteBundles",
            vec![
                AwsOp::DeleteParameter,
                AwsOp::GetParameter,
                AwsOp::PutParameter,
            ],
            vec![parameters],
        );
        let kms_key_id = kms_key_id.clone();
        self.bundle_key(kms_key_id.as_deref());
    }

    /// kms:GenerateDataKey to write and kms:Decrypt to read, on the named key.
    fn bundle_key(&mut self, kms_key_id: Option<&str>) {
        let Some(key) = kms_key_id else { return };
        // An alias or bare id names no ARN IAM can match exactly.
        let resource = if key.starts_with("arn:") {
            key.to_string()
        } else {
            format!("arn:aws:kms:{}:{}:key/*", self.region, self.account)
        };
        self.statements.insert(
            "UseBundleKey",
            Allow {
                actions: Vec::new(),
                implied: vec!["kms:Decrypt", "kms:GenerateDataKey"],
                resources: vec![resource],
            },
        );
    }

    /// The fleet's secrets, `fleetcert/<fleet>/*` (Secrets Manager appends
    /// six random characters to a secret's ARN, which the `*` covers), and
    /// the KMS key that encrypts them: Secrets Manager uses it as the
    /// caller, who needs kms:GenerateDataKey to write and kms:Decrypt to read
    /// ("Secret encryption and decryption in AWS Secrets Manager").
    fn bundle_writes(&mut self) {
        let Output::SecretsManager { kms_key_id, .. } = &self.spec.output else {
            return;
        };
        let secrets = format!(
            "arn:aws:secretsmanager:{}:{}:secret:{}*",
            self.region,
            self.account,
            crate::spec::secret_name(&self.spec.fleet, "")
        );
        self.allow(
            "WriteBundles",
            vec![
                AwsOp::CreateSecret,
                AwsOp::DeleteSecret,
                AwsOp::GetSecretValue,
                AwsOp::PutSecretValue,
                AwsOp::TagSecret,
                AwsOp::UntagSecret,
                AwsOp::UpdateSecretVersionStage,
            ],
            vec![secrets],
        );
        let kms_key_id = kms_key_id.clone();
        self.bundle_key(kms_key_id.as_deref());
    }

    fn document(self) -> Value {
        let statements: Vec<Value> = self
            .statements
            .into_iter()
            // IAM refuses a statement with no resource (a spec without
            // policies names none to create).
            .filter(|(_, allow)| !allow.resources.is_empty())
            .map(|(sid, allow)| {
                json!({
                    "Sid": sid,
                    "Effect": "Allow",
                    "Action": allow
                        .actions
                        .iter()
                        .map(|op| op.iam_action())
                        .chain(allow.implied.iter().copied())
                        .collect::<Vec<_>>(),
                    "Resource": allow.resources,
                })
            })
            .collect();
        json!({ "Version": "2012-10-17", "Statement": statements })
    }
}
