//! What AWS (and the output directory) would look like after a plan has
//! been carried out in full: `simulate(world, plan) -> world`. Tests use it
//! to assert that planning again after an apply changes nothing (omicron's
//! reconfigurator simulator plays the same part). Values only AWS can choose
//! (ARNs, certificate ids, serials) are made up deterministically.

use std::collections::{BTreeMap, BTreeSet};

use sha2::{Digest, Sha256};

use super::{CertRef, Destination, KeyPlan, KeySource, Operation, Plan};
use crate::live::{
    CaStatus, CertStatus, LiveCa, LiveCertificate, LiveIotCa, LivePolicy, LiveState, LiveThing,
    OWNER_ATTRIBUTE, PolicyVersion,
};
use crate::marker::CertFacts;
use crate::spec::CertValidity;

/// The state a plan acts on: AWS, and the generated keys waiting on disk
/// (device -> public key SHA-256, as `PlanOptions::pending_keys`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct World {
    pub live: LiveState,
    pub pending_keys: BTreeMap<String, String>,
    /// Certificates staged for delivery in this apply, by device.
    pub staged: BTreeMap<String, String>,
}

fn sha256_hex(parts: &[&str]) -> String {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update(part.len().to_be_bytes());
        hasher.update(part.as_bytes());
    }
    hex::encode(hasher.finalize())
}

/// What one change has produced so far.
#[derive(Default)]
struct Produced {
    key: Option<String>,
    issued: Option<CertFacts>,
    registered: Option<(String, String)>,
}

/// The world after every operation of `plan` succeeded, in order.
pub fn simulate(world: &World, plan: &Plan) -> World {
    let mut world = world.clone();
    for change in &plan.changes {
        let mut produced = Produced::default();
        for operation in &change.operations {
            step(&mut world, plan, &mut produced, operation);
        }
    }
    world
}

fn days(validity: CertValidity) -> i64 {
    let n = i64::from(validity.value());
    match validity {
        CertValidity::Days(_) => n,
        CertValidity::Months(_) => n * 30,
        CertValidity::Years(_) => n * 365,
    }
}

fn cert_id(produced: &Produced, cert: &CertRef) -> Option<String> {
    match cert {
        CertRef::Existing { id, .. } => Some(id.clone()),
        CertRef::Issued => produced.registered.as_ref().map(|(id, _)| id.clone()),
    }
}

fn step(world: &mut World, plan: &Plan, produced: &mut Produced, operation: &Operation) {
    let live = &mut world.live;
    match operation {
        Operation::CreateCa { .. }
        | Operation::ActivateRootCa { .. }
        | Operation::TagCa { .. }
        | Operation::RegisterCa { .. }
        | Operation::UpdateCaRegistration { .. } => ca_step(live, plan, operation),
        Operation::CreateThingType { name, .. } => {
            live.thing_types.insert(name.clone());
        }
        Operation::CreatePolicy { .. }
        | Operation::TagPolicy { .. }
        | Operation::DeletePolicyVersion { .. }
        | Operation::CreatePolicyVersion { .. }
        | Operation::DeletePolicy { .. } => policy_step(live, &plan.fleet, operation),
        Operation::CreateThing { .. }
        | Operation::UpdateThing { .. }
        | Operation::DeleteThing { .. }
        | Operation::RecordFacts(_) => thing_step(live, &plan.fleet, produced, operation),
        Operation::GenerateKey { device, key, .. } => {
            let sha = match key {
                KeyPlan::ReusePending { public_key_sha256 } => public_key_sha256.clone(),
                KeyPlan::New => {
                    let sha = sha256_hex(&["simulated key", device, &plan.at.to_string()]);
                    world.pending_keys.insert(device.clone(), sha.clone());
                    sha
                }
            };
            produced.key = Some(sha);
        }
        Operation::WriteDeviceFiles {
            device,
            generated_key,
            destination,
        } => {
            if *generated_key {
                world.pending_keys.remove(device);
            }
            if !matches!(destination, Destination::Dir { .. }) {
                let bundle = live.bundles.entry(device.clone()).or_default();
                bundle.certificate_id = produced.registered.as_ref().map(|(id, _)| id.clone());
                bundle.pending_key_sha256 = None;
            }
        }
        Operation::StageDelivery { device } => {
            if let Some((id, _)) = &produced.registered {
                world.staged.insert(device.clone(), id.clone());
            }
        }
        Operation::CreateRotationJob(job) => {
            let deliveries: BTreeMap<String, String> = job
                .devices
                .iter()
                .filter_map(|d| {
                    let id = match &d.certificate {
                        crate::plan::Delivered::Existing { id } => Some(id.clone()),
                        crate::plan::Delivered::RegisteredFor { device } => {
                            world.staged.get(device).cloned()
                        }
                    }?;
                    Some((d.thing.clone(), id))
                })
                .collect();
            let queued = crate::live::LiveExecution {
                status: crate::live::ExecutionStatus::Queued,
                queued_at: plan.at,
            };
            let job = crate::live::LiveJob {
                id: job.job_id.clone(),
                status: crate::live::JobStatus::InProgress,
                created_at: plan.at,
                executions: deliveries.keys().map(|t| (t.clone(), queued)).collect(),
                deliveries,
            };
            world.live.active_jobs += 1;
            world.live.jobs.insert(job.id.clone(), job);
        }
        Operation::DeleteRotationJob { job_id } => {
            world.live.jobs.remove(job_id);
        }
        Operation::DeleteBundle { device, .. } => {
            if let Some(bundle) = live.bundles.get_mut(device) {
                bundle.deleted = true;
            }
        }
        _ => certificate_step(live, plan, produced, operation),
    }
}

fn ca_step(live: &mut LiveState, plan: &Plan, operation: &Operation) {
    match operation {
        Operation::CreateCa {
            key_algorithm,
            signing_algorithm,
            usage_mode,
            ..
        } => {
            live.ca = Some(LiveCa {
                arn: format!(
                    "arn:aws:acm-pca:simulated:000000000000:certificate-authority/{}",
                    plan.fleet
                ),
                status: CaStatus::PendingCertificate,
                key_algorithm: key_algorithm.aws_name().to_string(),
                signing_algorithm: signing_algorithm.aws_name().to_string(),
                owner: Some(plan.fleet.clone()),
                certificate_pem: None,
                not_after: None,
                usage_mode: *usage_mode,
            })
        }
        Operation::ActivateRootCa { validity, .. } => {
            if let Some(ca) = live.ca.as_mut() {
                ca.status = CaStatus::Active;
                ca.certificate_pem = Some(format!("simulated CA certificate of {}", plan.fleet));
                ca.not_after = Some(plan.at + days(*validity) * 86_400);
            }
        }
        Operation::TagCa { .. } => {
            if let Some(ca) = live.ca.as_mut() {
                ca.owner = Some(plan.fleet.clone());
            }
        }
        Operation::RegisterCa {
            mode,
            status,
            auto_registration,
            ..
        } => {
            live.iot_ca = Some(LiveIotCa {
                certificate_id: sha256_hex(&["simulated CA registration", &plan.fleet]),
                status: *status,
                mode: *mode,
                auto_registration: *auto_registration,
            })
        }
        Operation::UpdateCaRegistration {
            status,
            auto_registration,
            ..
        } => {
            if let Some(registration) = live.iot_ca.as_mut() {
                registration.status = status.unwrap_or(registration.status);
                registration.auto_registration =
                    auto_registration.unwrap_or(registration.auto_registration);
            }
        }
        _ => unreachable!("a CA operation"),
    }
}

fn policy_step(live: &mut LiveState, fleet: &str, operation: &Operation) {
    match operation {
        Operation::CreatePolicy { name, document } => {
            live.policies.insert(
                name.clone(),
                LivePolicy {
                    name: name.clone(),
                    arn: format!("arn:aws:iot:simulated:000000000000:policy/{name}"),
                    owner: Some(fleet.to_string()),
                    default_version: "1".into(),
                    document: document.clone(),
                    versions: vec![PolicyVersion {
                        id: "1".into(),
                        is_default: true,
                    }],
                },
            );
        }
        Operation::TagPolicy { name, .. } => {
            if let Some(policy) = live.policies.get_mut(name) {
                policy.owner = Some(fleet.to_string());
            }
        }
        Operation::DeletePolicyVersion { name, version_id } => {
            if let Some(policy) = live.policies.get_mut(name) {
                policy.versions.retain(|v| &v.id != version_id);
            }
        }
        Operation::CreatePolicyVersion { name, document } => {
            if let Some(policy) = live.policies.get_mut(name) {
                let next = policy
                    .versions
                    .iter()
                    .filter_map(|v| v.id.parse::<u64>().ok())
                    .max()
                    .unwrap_or(0)
                    + 1;
                for version in &mut policy.versions {
                    version.is_default = false;
                }
                policy.versions.push(PolicyVersion {
                    id: next.to_string(),
                    is_default: true,
                });
                policy.default_version = next.to_string();
                policy.document = document.clone();
            }
        }
        Operation::DeletePolicy { name } => {
            live.policies.remove(name);
        }
        _ => unreachable!("a policy operation"),
    }
}

fn thing_step(live: &mut LiveState, fleet: &str, produced: &Produced, operation: &Operation) {
    match operation {
        Operation::CreateThing {
            name,
            thing_type,
            attributes,
        } => {
            live.things.insert(
                name.clone(),
                LiveThing {
                    name: name.clone(),
                    thing_type: thing_type.clone(),
                    attributes: attributes.clone(),
                    owner: Some(fleet.to_string()),
                    version: 1,
                },
            );
            live.markers.insert(name.clone(), fleet.to_string());
        }
        Operation::UpdateThing {
            name,
            thing_type,
            attributes,
            ..
        } => {
            let Some(thing) = live.things.get_mut(name) else {
                return;
            };
            for (key, value) in attributes {
                if key == OWNER_ATTRIBUTE {
                    thing.owner = Some(crate::marker::fleet_of(value).to_string());
                    live.markers.insert(name.clone(), value.clone());
                } else if value.is_empty() {
                    thing.attributes.remove(key);
                } else {
                    thing.attributes.insert(key.clone(), value.clone());
                }
            }
            if let Some(thing_type) = thing_type {
                thing.thing_type = thing_type.clone();
            }
            thing.version += 1;
        }
        Operation::DeleteThing { name } => {
            live.things.remove(name);
            live.markers.remove(name);
        }
        Operation::RecordFacts(record) => {
            let issued = record.issued_policies.as_ref().and_then(|policies| {
                let mut facts = produced.issued.clone()?;
                facts.policies = policies.clone();
                Some(facts)
            });
            live.markers
                .insert(record.thing.clone(), record.value(fleet, issued));
            if let Some(thing) = live.things.get_mut(&record.thing) {
                thing.version += 1;
            }
        }
        _ => unreachable!("a thing operation"),
    }
}

fn certificate_step(
    live: &mut LiveState,
    plan: &Plan,
    produced: &mut Produced,
    operation: &Operation,
) {
    match operation {
        Operation::IssueCertificate {
            device,
            key,
            validity,
            ..
        } => {
            let key_sha = match key {
                KeySource::Csr {
                    public_key_sha256, ..
                } => public_key_sha256.clone(),
                KeySource::Generated => produced.key.clone().unwrap_or_default(),
            };
            let id = sha256_hex(&[
                "simulated certificate",
                device,
                &key_sha,
                &plan.at.to_string(),
            ]);
            produced.issued = Some(CertFacts {
                serial: id[..16].to_string(),
                id,
                not_before: plan.at,
                not_after: plan.at + days(*validity) * 86_400,
                public_key_sha256: key_sha,
                policies: BTreeSet::new(),
            });
        }
        Operation::RegisterCertificate { device } => {
            let Some(facts) = produced.issued.clone() else {
                return;
            };
            let arn = format!("arn:aws:iot:simulated:000000000000:cert/{}", facts.id);
            live.certificates.insert(
                facts.id.clone(),
                LiveCertificate {
                    id: facts.id.clone(),
                    arn: arn.clone(),
                    status: CertStatus::Active,
                    serial: facts.serial.clone(),
                    subject_cn: Some(device.clone()),
                    not_before: facts.not_before,
                    not_after: facts.not_after,
                    created_at: plan.at,
                    public_key_sha256: facts.public_key_sha256.clone(),
                    things: BTreeSet::new(),
                    policies: BTreeSet::new(),
                },
            );
            produced.registered = Some((facts.id, arn));
        }
        Operation::LoadCertificate { id, arn } => {
            produced.registered = Some((id.clone(), arn.clone()));
        }
        _ => attachment_step(live, produced, operation),
    }
}

fn attachment_step(live: &mut LiveState, produced: &Produced, operation: &Operation) {
    let Some(cert) = operation_cert(operation).and_then(|c| cert_id(produced, c)) else {
        return;
    };
    if let Operation::DeleteCertificate { .. } = operation {
        live.certificates.remove(&cert);
        return;
    }
    let Some(cert) = live.certificates.get_mut(&cert) else {
        return;
    };
    match operation {
        Operation::AttachThing { thing, .. } => {
            cert.things.insert(thing.clone());
        }
        Operation::DetachThing { thing, .. } => {
            cert.things.remove(thing);
        }
        Operation::AttachPolicy { policy, .. } => {
            cert.policies.insert(policy.clone());
        }
        Operation::DetachPolicy { policy, .. } => {
            cert.policies.remove(policy);
        }
        Operation::SetCertificateStatus { status, .. } => cert.status = *status,
        _ => {}
    }
}

fn operation_cert(operation: &Operation) -> Option<&CertRef> {
    match operation {
        Operation::AttachThing { cert, .. }
        | Operation::DetachThing { cert, .. }
        | Operation::AttachPolicy { cert, .. }
        | Operation::DetachPolicy { cert, .. }
        | Operation::SetCertificateStatus { cert, .. }
        | Operation::DeleteCertificate { cert } => Some(cert),
        _ => None,
    }
}
