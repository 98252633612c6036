//! The planner's part of the recorded facts (the format is crate::marker's):
//! after the plan is made, work out what each device's record will be once
//! the plan has been carried out and, where that differs from what the thing
//! carries now, add a `RecordFacts` operation after the device's last change,
//! so it is written only when everything before it succeeded.

use std::collections::{BTreeMap, BTreeSet};

use foldhash::{HashMap, HashMapExt};

use super::index::Index;
use super::{Action, Address, CertRef, Change, Detail, Operation, Phase, Reason, ReasonCode};
use crate::live::{CertStatus, LiveCertificate};
use crate::marker::{FactsRef, Record, encode_into};
use crate::spec::Spec;

/// A device's certificates as the plan will leave them.
#[derive(Default)]
struct Outcome<'a> {
    /// Attached certificates, by id (a device has a few: a list is enough).
    attached: Vec<&'a LiveCertificate>,
    policies: BTreeMap<&'a str, BTreeSet<String>>,
    issued: Option<BTreeSet<String>>,
}

impl<'a> Outcome<'a> {
    fn apply(&mut self, device: &str, operation: &Operation, certs: &[&'a LiveCertificate]) {
        let existing = |cert: &CertRef| match cert {
            CertRef::Existing { id, .. } => certs.iter().find(|c| &c.id == id).copied(),
            CertRef::Issued => None,
        };
        match operation {
            Operation::AttachThing { thing, cert } if thing == device => match cert {
                CertRef::Issued => {
                    self.issued.get_or_insert_with(BTreeSet::new);
                }
                CertRef::Existing { .. } => {
                    if let Some(c) = existing(cert) {
                        self.attach(c);
                    }
                }
            },
            Operation::DetachThing { thing, cert } if thing == device => {
                if let Some(c) = existing(cert) {
                    self.attached.retain(|a| a.id != c.id);
                }
            }
            Operation::AttachPolicy { policy, cert } => match cert {
                CertRef::Issued => {
                    self.issued
                        .get_or_insert_with(BTreeSet::new)
                        .insert(policy.clone());
                }
                CertRef::Existing { .. } => {
                    if let Some(c) = existing(cert) {
                        self.policies
                            .entry(c.id.as_str())
                            .or_insert_with(|| c.policies.clone())
                            .insert(policy.clone());
                    }
                }
            },
            Operation::DetachPolicy { policy, cert } => {
                if let Some(c) = existing(cert) {
                    self.policies
                        .entry(c.id.as_str())
                        .or_insert_with(|| c.policies.clone())
                        .remove(policy);
                }
            }
            Operation::SetCertificateStatus {
                cert,
                status: CertStatus::Revoked,
            } => {
                if let Some(c) = existing(cert) {
                    self.attached.retain(|a| a.id != c.id);
                }
            }
            Operation::DeleteCertificate { cert } => {
                if let Some(c) = existing(cert) {
                    self.attached.retain(|a| a.id != c.id);
                }
            }
            _ => {}
        }
    }

    fn attach(&mut self, cert: &'a LiveCertificate) {
        if !self.attached.iter().any(|a| a.id == cert.id) {
            self.attached.push(cert);
        }
    }

    /// The attached certificates' facts, newest first: when the value is
    /// full, the oldest are left out.
    fn facts(&mut self) -> impl Iterator<Item = FactsRef<'_>> {
        self.attached.sort_by(|a, b| {
            (b.created_at, b.not_before, &b.id).cmp(&(a.created_at, a.not_before, &a.id))
        });
        self.attached.iter().map(|c| {
            let policies = self.policies.get(c.id.as_str()).unwrap_or(&c.policies);
            FactsRef::of_certificate(c, policies)
        })
    }
}

/// Add `RecordFacts` operations to `changes` (sorted by phase) wherever a
/// device's record after the plan differs from the one its thing carries.
pub fn record(spec: &Spec, index: &Index, changes: &mut Vec<Change>) {
    let fleet = spec.fleet.as_str();
    let mut changes_of: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, change) in changes.iter().enumerate() {
        if let Some(device) = change.device.as_deref()
            && change.phase != Phase::Cleanup
            && index.wanted(device)
        {
            changes_of.entry(device).or_default().push(i);
        }
    }
    let mut appended: Vec<(usize, Operation)> = Vec::new();
    let mut added: Vec<Change> = Vec::new();
    // One buffer for every device's value: most devices need no record.
    let mut value = String::new();
    for device in index.devices() {
        let name = device.spec.name.as_str();
        let owned = device
            .thing
            .is_some_and(|t| t.owner.as_deref() == Some(fleet));
        let indices = changes_of.get(name).map(Vec::as_slice).unwrap_or(&[]);
        let creates_thing = indices.iter().any(|&i| {
            changes[i]
                .operations
                .iter()
                .any(|op| matches!(op, Operation::CreateThing { name: n, .. } if n == name))
        });
        // A thing the plan adopts is the fleet's from then on.
        let adopts_thing = indices.iter().any(|&i| {
            changes[i].action == Action::Adopt && changes[i].address == Address::Thing(name.into())
        });
        if !owned && !creates_thing && !adopts_thing {
            continue;
        }
        let certs = index.certificates_of(name);
        let mut outcome = Outcome::default();
        for cert in certs {
            if cert.status != CertStatus::Revoked && cert.things.contains(name) {
                outcome.attach(cert);
            }
        }
        for &i in indices {
            for operation in &changes[i].operations {
                outcome.apply(name, operation, certs);
            }
        }
        let now = if creates_thing { fleet } else { device.marker };
        let issued = outcome.issued.take();
        encode_into(&mut value, fleet, outcome.facts());
        if issued.is_none() && value == now {
            continue;
        }
        let record = Record {
            thing: name.to_string(),
            issued_policies: issued,
            certificates: outcome.facts().map(FactsRef::owned).collect(),
        };
        let operation = Operation::RecordFacts(record);
        match indices.last() {
            Some(&last) => appended.push((last, operation)),
            None => added.push(Change {
                address: Address::Thing(name.to_string()),
                device: Some(name.to_string()),
                action: Action::Update,
                phase: Phase::Devices,
                reason: Reason::new(
                    ReasonCode::RecordOutdated,
                    format!(
                        "the certificate facts fleetcert keeps on thing {name} (its `fleetcert` attribute) are out of date"
                    ),
                ),
                details: vec![Detail::Field {
                    name: "fleetcert".to_string(),
                    before: Some(now.to_string()),
                    after: Some(value.clone()),
                }],
                operations: vec![operation],
            }),
        }
    }
    for (index, operation) in appended {
        changes[index].operations.push(operation);
    }
    if !added.is_empty() {
        changes.extend(added);
        // Stable: the order within each phase stays.
        changes.sort_by_key(|c| c.phase);
    }
}
