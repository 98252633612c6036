//! Independent checks of AWS state with raw SDK calls: the tests do not take
//! fleetcert's own reading of AWS on trust.

use std::collections::{BTreeMap, BTreeSet};

use x509_parser::oid_registry::{
    OID_EC_P256, OID_KEY_TYPE_EC_PUBLIC_KEY, OID_SIG_ECDSA_WITH_SHA256,
};
use x509_parser::prelude::*;

pub fn der(pem_text: &str) -> Vec<u8> {
    let (_, pem) = x509_parser::pem::parse_x509_pem(pem_text.as_bytes()).expect("PEM");
    pem.contents
}

/// The fleet's CA as AWS reports it: (ARN, status, key algorithm, certificate PEM).
pub async fn fleet_ca(
    pca: &aws_sdk_acmpca::Client,
    fleet: &str,
) -> (String, String, String, String) {
    let listed = pca.list_certificate_authorities().send().await.unwrap();
    for ca in listed.certificate_authorities() {
        let arn = ca.arn().unwrap();
        let tags = pca
            .list_tags()
            .certificate_authority_arn(arn)
            .send()
            .await
            .unwrap();
        if tags
            .tags()
            .iter()
            .any(|t| t.key() == "fleetcert:fleet" && t.value() == Some(fleet))
        {
            let status = ca.status().unwrap().as_str().to_string();
            let key = ca
                .certificate_authority_configuration()
                .unwrap()
                .key_algorithm()
                .as_str()
                .to_string();
            let pem = pca
                .get_certificate_authority_certificate()
                .certificate_authority_arn(arn)
                .send()
                .await
                .unwrap()
                .certificate()
                .unwrap()
                .to_string();
            return (arn.to_string(), status, key, pem);
        }
    }
    panic!("no CA tagged fleetcert:fleet={fleet}");
}

/// The IoT registration of `ca_pem`, from DescribeCACertificate: (status,
/// certificate mode, auto-registration status).
pub async fn iot_ca(iot: &aws_sdk_iot::Client, ca_pem: &str) -> Option<(String, String, String)> {
    let listed = iot.list_ca_certificates().send().await.unwrap();
    for ca in listed.certificates() {
        let described = iot
            .describe_ca_certificate()
            .certificate_id(ca.certificate_id().unwrap())
            .send()
            .await
            .unwrap();
        let desc = described.certificate_description().unwrap();
        if der(desc.certificate_pem().unwrap()) == der(ca_pem) {
            return Some((
                desc.status().unwrap().as_str().to_string(),
                desc.certificate_mode()
                    .map(|m| m.as_str().to_string())
                    .unwrap_or_default(),
                desc.auto_registration_status()
                    .map(|a| a.as_str().to_string())
                    .unwrap_or_default(),
            ));
        }
    }
    None
}

/// One device as AWS reports it.
#[derive(Debug)]
pub struct DeviceState {
    pub attributes: BTreeMap<String, String>,
    /// ACTIVE certificates attached to the thing: (id, PEM, attached policies).
    pub active: Vec<(String, String, BTreeSet<String>)>,
    /// Every certificate attached to the thing, with its status.
    pub statuses: BTreeMap<String, String>,
}

/// A registered certificate's status (DescribeCertificate).
pub async fn certificate_status(iot: &aws_sdk_iot::Client, id: &str) -> String {
    let described = iot
        .describe_certificate()
        .certificate_id(id)
        .send()
        .await
        .unwrap();
    described
        .certificate_description()
        .and_then(|d| d.status())
        .map(|s| s.as_str().to_string())
        .unwrap_or_default()
}

pub async fn device(iot: &aws_sdk_iot::Client, name: &str) -> Option<DeviceState> {
    let thing = iot.describe_thing().thing_name(name).send().await.ok()?;
    let attributes: BTreeMap<String, String> = thing
        .attributes()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .collect();
    let principals = iot
        .list_thing_principals()
        .thing_name(name)
        .send()
        .await
        .unwrap();
    let mut active = Vec::new();
    let mut statuses = BTreeMap::new();
    for arn in principals.principals() {
        let id = arn.rsplit('/').next().unwrap();
        let described = iot
            .describe_certificate()
            .certificate_id(id)
            .send()
            .await
            .unwrap();
        let desc = described.certificate_description().unwrap();
        let status = desc.status().unwrap().as_str().to_string();
        statuses.insert(id.to_string(), status.clone());
        if status == "ACTIVE" {
            let policies = iot
                .list_attached_policies()
                .target(arn)
                .send()
                .await
                .unwrap();
            let policies = policies
                .policies()
                .iter()
                .map(|p| p.policy_name().unwrap().to_string())
                .collect();
            active.push((
                id.to_string(),
                desc.certificate_pem().unwrap().to_string(),
                policies,
            ));
        }
    }
    Some(DeviceState {
        attributes,
        active,
        statuses,
    })
}

/// Check a device certificate with our own X.509 code: CN, P-256 key, an
/// ECDSA-SHA256 signature that verifies against the CA, and its validity in
/// days (within a few minutes of `expected_days` from `issued_after`).
pub fn check_device_certificate(
    pem: &str,
    ca_pem: &str,
    device: &str,
    expected_days: i64,
    issued_after: i64,
) {
    let leaf_der = der(pem);
    let ca_der = der(ca_pem);
    let (_, leaf) = X509Certificate::from_der(&leaf_der).unwrap();
    let (_, ca) = X509Certificate::from_der(&ca_der).unwrap();
    let cn = leaf
        .subject()
        .iter_common_name()
        .next()
        .unwrap()
        .as_str()
        .unwrap();
    assert_eq!(cn, device, "certificate CN");
    let spki = leaf.public_key();
    assert_eq!(
        spki.algorithm.algorithm, OID_KEY_TYPE_EC_PUBLIC_KEY,
        "{device}: key is not EC"
    );
    assert_eq!(
        spki.algorithm
            .parameters
            .as_ref()
            .unwrap()
            .as_oid()
            .unwrap(),
        OID_EC_P256,
        "{device}: key is not P-256"
    );
    assert_eq!(
        leaf.signature_algorithm.algorithm, OID_SIG_ECDSA_WITH_SHA256,
        "{device}: signature algorithm"
    );
    leaf.verify_signature(Some(ca.public_key()))
        .unwrap_or_else(|e| panic!("{device}: signature does not verify: {e}"));
    let not_after = leaf.validity().not_after.timestamp();
    let expected = issued_after + expected_days * 86_400;
    assert!(
        (not_after - expected).abs() < 600,
        "{device}: notAfter {not_after} is not {expected_days} days after issuance ({issued_after})"
    );
}

/// What AWS holds against what `spec` says, read with raw SDK calls (not
/// the attachments fleetcert recorded on each thing): for every device, its
/// thing with the spec's attributes, exactly one ACTIVE certificate attached
/// to it, carrying exactly the spec's policies; for every policy, a default
/// version whose document is the spec's. Returns the differences found.
pub async fn spec_differences(
    iot: &aws_sdk_iot::Client,
    spec: &fleetcert::spec::Spec,
) -> Vec<String> {
    let mut problems = Vec::new();
    for (name, wanted) in &spec.devices {
        let Some(state) = device(iot, name).await else {
            problems.push(format!("{name}: no thing"));
            continue;
        };
        let mut attributes = state.attributes.clone();
        attributes.remove(fleetcert::spec::RESERVED_ATTRIBUTE);
        if attributes != wanted.attributes {
            problems.push(format!(
                "{name}: attributes {attributes:?}, the spec says {:?}",
                wanted.attributes
            ));
        }
        match state.active.as_slice() {
            [(_, _, policies)] if policies == &wanted.policies => {}
            [(id, _, policies)] => problems.push(format!(
                "{name}: certificate {id} carries {policies:?}, the spec says {:?}",
                wanted.policies
            )),
            other => problems.push(format!(
                "{name}: {} ACTIVE certificates attached: {:?}",
                other.len(),
                state.statuses
            )),
        }
    }
    for (name, policy) in &spec.policies {
        let live = iot.get_policy().policy_name(name).send().await;
        let live: Option<serde_json::Value> = live
            .ok()
            .and_then(|p| p.policy_document().map(str::to_string))
            .and_then(|d| serde_json::from_str(&d).ok());
        if live.as_ref() != Some(&policy.document) {
            problems.push(format!(
                "policy {name}: AWS holds {live:?}, the spec says {}",
                policy.document
            ));
        }
    }
    problems
}
