//! The plan checker: every plan is checked before it is carried out (and
//! every saved plan before it is applied), like omicron's blippy. Each broken
//! invariant is a typed violation naming the change it is about.

use std::collections::{BTreeMap, BTreeSet};

use super::{Address, CertRef, KeySource, Operation, Phase, Plan, Slot};
use crate::live::LiveState;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Violation {
    #[error(
        "{address}: phase {phase:?} comes after a later phase; changes must run in phase order"
    )]
    PhaseOrder { address: Address, phase: Phase },
    #[error(
        "{address}: {operation} needs {placeholder}, which no earlier operation of the change produces"
    )]
    Unfilled {
        address: Address,
        operation: &'static str,
        placeholder: &'static str,
    },
    #[error(
        "{address}: the plan's CA {what} is to be produced by the plan, but no CA change produces it"
    )]
    CaNotProduced {
        address: Address,
        what: &'static str,
    },
    #[error("{address}: {operation} creates a CA although the plan's CA already exists")]
    CaExists {
        address: Address,
        operation: &'static str,
    },
    #[error("{address}: the facts of device {device} are recorded before its last operation")]
    RecordNotLast { address: Address, device: String },
    #[error("{address}: {operation} on {resource}, which fleet {fleet} does not own")]
    NotOwned {
        address: Address,
        operation: &'static str,
        resource: String,
        fleet: String,
    },
}

/// Check `plan` against the live state it was made from (or read now).
pub fn check(plan: &Plan, live: &LiveState) -> Result<(), Vec<Violation>> {
    let mut violations = Vec::new();
    check_phases(plan, &mut violations);
    check_ca(plan, &mut violations);
    for change in &plan.changes {
        check_placeholders(&change.address, &change.operations, &mut violations);
        check_ownership(
            plan,
            live,
            &change.address,
            &change.operations,
            &mut violations,
        );
    }
    check_records_last(plan, &mut violations);
    if violations.is_empty() {
        Ok(())
    } else {
        Err(violations)
    }
}

fn check_phases(plan: &Plan, violations: &mut Vec<Violation>) {
    let mut latest = Phase::Ca;
    for change in &plan.changes {
        if change.phase < latest {
            violations.push(Violation::PhaseOrder {
                address: change.address.clone(),
                phase: change.phase,
            });
        }
        latest = latest.max(change.phase);
    }
}

/// A CA value the plan produces must be produced in the CA phase, and only then.
fn check_ca(plan: &Plan, violations: &mut Vec<Violation>) {
    let in_ca_phase = |wanted: fn(&Operation) -> bool| {
        plan.changes
            .iter()
            .filter(|c| c.phase == Phase::Ca)
            .flat_map(|c| &c.operations)
            .any(wanted)
    };
    let creates = in_ca_phase(|op| matches!(op, Operation::CreateCa { .. }));
    let activates = in_ca_phase(|op| matches!(op, Operation::ActivateRootCa { .. }));
    let first = plan
        .changes
        .first()
        .map_or(Address::Ca, |c| c.address.clone());
    if plan.ca.arn == Slot::Produced && !creates && !plan.changes.is_empty() {
        violations.push(Violation::CaNotProduced {
            address: first.clone(),
            what: "ARN",
        });
    }
    if plan.ca.certificate == Slot::Produced && !activates && !plan.changes.is_empty() {
        violations.push(Violation::CaNotProduced {
            address: first,
            what: "certificate",
        });
    }
    if plan.ca.arn != Slot::Produced && creates {
        violations.push(Violation::CaExists {
            address: Address::Ca,
            operation: "create_ca",
        });
    }
}

/// Every placeholder is filled by an earlier operation of the same change:
/// a key before its issue, an issue before its registration, a registration
/// before the certificate is attached, written out or recorded.
fn check_placeholders(address: &Address, operations: &[Operation], out: &mut Vec<Violation>) {
    let (mut key, mut issued, mut registered) = (false, false, false);
    let mut need = |have: bool, operation: &Operation, placeholder: &'static str| {
        if !have {
            out.push(Violation::Unfilled {
                address: address.clone(),
                operation: operation.name(),
                placeholder,
            });
        }
    };
    for operation in operations {
        let uses_issued = match operation {
            Operation::AttachThing { cert, .. }
            | Operation::DetachThing { cert, .. }
            | Operation::AttachPolicy { cert, .. }
            | Operation::DetachPolicy { cert, .. }
            | Operation::SetCertificateStatus { cert, .. }
            | Operation::DeleteCertificate { cert } => *cert == CertRef::Issued,
            _ => false,
        };
        if uses_issued {
            need(
                registered,
                operation,
                "the certificate registered in this change",
            );
        }
        match operation {
            Operation::GenerateKey { .. } => key = true,
            Operation::IssueCertificate {
                key: KeySource::Generated,
                ..
            } => {
                need(key, operation, "the key generated in this change");
                issued = true;
            }
            Operation::IssueCertificate { .. } => issued = true,
            Operation::RegisterCertificate { .. } => {
                need(issued, operation, "the certificate issued in this change");
                registered = true;
            }
            Operation::LoadCertificate { .. } => (issued, registered) = (true, true),
            Operation::WriteDeviceFiles { .. } => need(
                registered,
                operation,
                "the certificate registered in this change",
            ),
            Operation::RecordFacts(record) if record.issued_policies.is_some() => need(
                registered,
                operation,
                "the certificate registered in this change",
            ),
            _ => {}
        }
    }
}

/// Nothing destructive touches what the fleet does not own: things and
/// policies without the fleet's marker, certificates not from the fleet's
/// CA. (No operation can delete or revoke the CA itself: the set of
/// operations has none, and a revocation must name a fleet certificate.)
fn check_ownership(
    plan: &Plan,
    live: &LiveState,
    address: &Address,
    operations: &[Operation],
    out: &mut Vec<Violation>,
) {
    let fleet = plan.fleet.as_str();
    let serials: BTreeSet<&str> = if operations
        .iter()
        .any(|op| matches!(op, Operation::RevokeInPca { .. }))
    {
        live.certificates
            .values()
            .map(|c| c.serial.as_str())
            .collect()
    } else {
        BTreeSet::new()
    };
    for operation in operations {
        let unowned = match operation {
            Operation::DeleteThing { name } => live
                .things
                .get(name)
                .is_some_and(|t| t.owner.as_deref() != Some(fleet))
                .then(|| format!("thing {name}")),
            Operation::DeletePolicy { name } | Operation::DeletePolicyVersion { name, .. } => live
                .policies
                .get(name)
                .is_some_and(|p| p.owner.as_deref() != Some(fleet))
                .then(|| format!("policy {name}")),
            Operation::RevokeInPca { serial, .. } => {
                (!serials.contains(serial.as_str())).then(|| format!("serial {serial}"))
            }
            Operation::SetCertificateStatus { cert, .. }
            | Operation::DeleteCertificate { cert }
            | Operation::DetachThing { cert, .. } => match cert {
                CertRef::Existing { id, .. } if !live.certificates.contains_key(id) => {
                    Some(format!("certificate {id}"))
                }
                _ => None,
            },
            _ => None,
        };
        if let Some(resource) = unowned {
            out.push(Violation::NotOwned {
                address: address.clone(),
                operation: operation.name(),
                resource,
                fleet: fleet.to_string(),
            });
        }
    }
}

/// A device's facts are recorded by the last operation of its last change
/// before clean-up, so they are written only once all of it succeeded.
fn check_records_last(plan: &Plan, out: &mut Vec<Violation>) {
    let mut last: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    for (i, change) in plan.changes.iter().enumerate() {
        if let Some(device) = change.device.as_deref()
            && change.phase != Phase::Cleanup
        {
            last.insert(device, (i, change.operations.len().saturating_sub(1)));
        }
    }
    for (i, change) in plan.changes.iter().enumerate() {
        for (j, operation) in change.operations.iter().enumerate() {
            let Operation::RecordFacts(record) = operation else {
                continue;
            };
            if last.get(record.thing.as_str()) != Some(&(i, j)) {
                out.push(Violation::RecordNotLast {
                    address: change.address.clone(),
                    device: record.thing.clone(),
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::live::CertificateMode;
    use crate::plan::{Action, Change, PlanCa, Reason, ReasonCode};
    use crate::testkit::LiveBuilder;

    const NOW: i64 = 1_800_000_000;

    fn change(address: Address, phase: Phase, operations: Vec<Operation>) -> Change {
        Change {
            device: address.device().map(str::to_string),
            address,
            action: Action::Update,
            phase,
            reason: Reason::new(ReasonCode::ThingAttributesDiffer, "test"),
            details: vec![],
            operations,
        }
    }

    fn plan(changes: Vec<Change>) -> Plan {
        Plan {
            fleet: "f".into(),
            at: NOW,
            ca: PlanCa {
                arn: Slot::Known("arn:ca".into()),
                certificate: Slot::Known("pem".into()),
            },
            changes,
            warnings: vec![],
            max_destructive_changes: 10,
            guard: vec![],
            policy_reviews: vec![],
            rotation: Default::default(),
        }
    }

    fn live() -> LiveState {
        LiveBuilder::empty("f")
            .with_ca(NOW, CertificateMode::SniOnly)
            .with_thing("mine", &BTreeMap::new(), Some("f"))
            .with_thing("theirs", &BTreeMap::new(), Some("other"))
            .build()
    }

    fn record(thing: &str) -> Operation {
        Operation::RecordFacts(crate::marker::Record {
            thing: thing.into(),
            issued_policies: None,
            certificates: vec![],
        })
    }

    #[test]
    fn every_broken_invariant_is_named_with_its_change() {
        let thing = |name: &str| Address::Thing(name.into());
        let broken = plan(vec![
            change(
                Address::Certificate("mine".into()),
                Phase::Devices,
                vec![
                    Operation::RegisterCertificate {
                        device: "mine".into(),
                    },
                    record("mine"),
                ],
            ),
            change(thing("mine"), Phase::Devices, vec![]),
            change(
                thing("theirs"),
                Phase::Cleanup,
                vec![Operation::DeleteThing {
                    name: "theirs".into(),
                }],
            ),
            change(Address::Policy("p".into()), Phase::Policies, vec![]),
        ]);
        let violations = check(&broken, &live()).unwrap_err();
        let unfilled = Violation::Unfilled {
            address: Address::Certificate("mine".into()),
            operation: "register_certificate",
            placeholder: "the certificate issued in this change",
        };
        assert!(violations.contains(&unfilled), "{violations:#?}");
        assert!(violations.contains(&Violation::RecordNotLast {
            address: Address::Certificate("mine".into()),
            device: "mine".into(),
        }));
        assert!(violations.contains(&Violation::NotOwned {
            address: thing("theirs"),
            operation: "delete_thing",
            resource: "thing theirs".into(),
            fleet: "f".into(),
        }));
        assert!(violations.contains(&Violation::PhaseOrder {
            address: Address::Policy("p".into()),
            phase: Phase::Policies,
        }));
        assert_eq!(violations.len(), 4, "{violations:#?}");
        assert!(
            unfilled
                .to_string()
                .starts_with("device.mine.certificate: register_certificate needs")
        );
    }

    #[test]
    fn a_ca_the_plan_must_produce_needs_its_ca_change() {
        let mut without = plan(vec![change(
            Address::Thing("mine".into()),
            Phase::Devices,
            vec![],
        )]);
        without.ca.arn = Slot::Produced;
        let violations = check(&without, &live()).unwrap_err();
        assert!(matches!(
            violations.as_slice(),
            [Violation::CaNotProduced { what: "ARN", .. }]
        ));
        assert!(check(&plan(vec![]), &live()).is_ok());
    }
}
