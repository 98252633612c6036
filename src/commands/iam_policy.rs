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
use crate::spec::{CaSpec, Spec};

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
    let iot = |resource: &str| format!("arn:aws:iot:{region}:{account}:{resource}");
    let ca = match &spec.ca {
        CaSpec::Adopt { arn, .. } => arn.clone(),
        // Created by fleetcert: its id is not known before it exists.
        CaSpec::Create { .. } => {
            format!("arn:aws:acm-pca:{region}:{account}:certificate-authority/*")
        }
    };
    let lock_thing = iot(&format!("thing/{}", crate::lock::thing_name(&spec.fleet)));
    let spec_things: Vec<String> = if list_things {
        spec.devices
            .keys()
            .map(|d| iot(&format!("thing/{d}")))
            .collect()
    } else {
        vec![iot("thing/*")]
    };
    let spec_policies: Vec<String> = spec
        .policies
        .keys()
        .map(|p| iot(&format!("policy/{p}")))
        .collect();

    let mut statements: BTreeMap<&str, (Vec<AwsOp>, Vec<String>)> = BTreeMap::new();
    // ---- plan and drift: read-only ----
    statements.insert(
        "ReadWithoutResourceTypes",
        (
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
        ),
    );
    statements.insert(
        "ReadFleetCa",
        (
            vec![
                AwsOp::DescribeCertificateAuthority,
                AwsOp::GetCertificateAuthorityCertificate,
                AwsOp::ListTags,
            ],
            vec![ca.clone()],
        ),
    );
    statements.insert(
        "ReadIotResources",
        (
            vec![
                AwsOp::DescribeCACertificate,
                AwsOp::DescribeCertificate,
                AwsOp::GetPolicy,
                AwsOp::GetPolicyVersion,
                AwsOp::ListPolicyVersions,
                AwsOp::ListTagsForResource,
            ],
            vec![iot("cacert/*"), iot("cert/*"), iot("policy/*")],
        ),
    );
    statements.insert(
        "ReadLock",
        (vec![AwsOp::DescribeThing], vec![lock_thing.clone()]),
    );

    if mode == IamMode::Apply {
        let mut ca_create = vec![AwsOp::CreateCertificateAuthority];
        if matches!(spec.ca, CaSpec::Adopt { .. }) {
            ca_create.clear();
        }
        let mut no_resource = vec![
            AwsOp::DescribeEndpoint,
            AwsOp::GetRegistrationCode,
            AwsOp::RegisterCACertificate,
            AwsOp::RegisterCertificate,
            // Attach/DetachPolicy name the certificate as the target, which
            // IAM does not narrow by the policy being attached.
            AwsOp::AttachPolicy,
            AwsOp::DetachPolicy,
        ];
        no_resource.extend(ca_create);
        no_resource.sort_unstable_by_key(|op| op.iam_action());
        statements.insert("WriteWithoutResourceTypes", (no_resource, vec!["*".into()]));
        statements.insert(
            "IssueFromFleetCa",
            (
                vec![
                    AwsOp::GetCertificate,
                    AwsOp::GetCertificateAuthorityCsr,
                    AwsOp::ImportCertificateAuthorityCertificate,
                    AwsOp::IssueCertificate,
                    AwsOp::RevokeCertificate,
                    AwsOp::TagCertificateAuthority,
                ],
                vec![ca],
            ),
        );
        statements.insert(
            "ManageCertificates",
            (
                vec![
                    AwsOp::DeleteCertificate,
                    AwsOp::UpdateCACertificate,
                    AwsOp::UpdateCertificate,
                ],
                vec![iot("cacert/*"), iot("cert/*")],
            ),
        );
        let mut things = spec_things.clone();
        things.push(lock_thing.clone());
        statements.insert(
            "CreateAndUpdateSpecThings",
            (
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
            ),
        );
        statements.insert(
            "RetireDepartedThings",
            (
                vec![AwsOp::DeleteThing, AwsOp::DetachThingPrincipal],
                vec![iot("thing/*")],
            ),
        );
        let mut policies = spec_policies.clone();
        policies.sort();
        statements.insert(
            "CreateAndUpdateSpecPolicies",
            (
                vec![
                    AwsOp::CreatePolicy,
                    AwsOp::CreatePolicyVersion,
                    AwsOp::TagResource,
                ],
                policies,
            ),
        );
        statements.insert(
            "RetireDepartedPolicies",
            (
                vec![AwsOp::DeletePolicy, AwsOp::DeletePolicyVersion],
                vec![iot("policy/*")],
            ),
        );
        if !spec.thing_types.is_empty() {
            statements.insert(
                "CreateSpecThingTypes",
                (
                    vec![AwsOp::CreateThingType],
                    spec.thing_types
                        .keys()
                        .map(|t| iot(&format!("thingtype/{t}")))
                        .collect(),
                ),
            );
        }
    }

    let statements: Vec<Value> = statements
        .into_iter()
        .map(|(sid, (actions, resources))| {
            json!({
                "Sid": sid,
                "Effect": "Allow",
                "Action": actions.iter().map(|op| op.iam_action()).collect::<Vec<_>>(),
                "Resource": resources,
            })
        })
        .collect();
    json!({ "Version": "2012-10-17", "Statement": statements })
}
