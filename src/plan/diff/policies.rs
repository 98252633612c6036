//! IoT policies: created, adopted or updated to the spec's document, and
//! deleted once they leave the spec.

use super::{PlanError, Planner, field, owner_text};
use crate::plan::{Action, Address, CertRef, Change, Detail, Operation, Phase, Reason, ReasonCode};

impl Planner<'_> {
    pub(super) fn plan_policies(&mut self) {
        let fleet = self.fleet().to_string();
        for (name, wanted) in &self.spec.policies {
            let address = Address::Policy(name.clone());
            match self.live.policies.get(name) {
                None => self.changes.push(Change {
                    address,
                    device: None,
                    action: Action::Create,
                    phase: Phase::Policies,
                    reason: Reason::new(
                        ReasonCode::PolicyMissing,
                        format!("policy {name} does not exist"),
                    ),
                    details: vec![Detail::PolicyDocument {
                        before: None,
                        after: wanted.canonical.clone(),
                    }],
                    operations: vec![Operation::CreatePolicy {
                        name: name.clone(),
                        document: wanted.canonical.clone(),
                    }],
                }),
                Some(live) if live.owner.is_none() && wanted.adopt => {
                    let mut operations = vec![Operation::TagPolicy {
                        name: name.clone(),
                        arn: live.arn.clone(),
                    }];
                    let mut details = vec![field("tag fleetcert:fleet", None, Some(fleet.clone()))];
                    if live.document != wanted.canonical {
                        operations.push(Operation::CreatePolicyVersion {
                            name: name.clone(),
                            document: wanted.canonical.clone(),
                        });
                        details.push(Detail::PolicyDocument {
                            before: Some(live.document.clone()),
                            after: wanted.canonical.clone(),
                        });
                    }
                    self.changes.push(Change {
                        address,
                        device: None,
                        action: Action::Adopt,
                        phase: Phase::Policies,
                        reason: Reason::new(ReasonCode::PolicyAdopted,
                            format!("the spec adopts the existing policy {name}, which carries no fleetcert tag"),
                        ),
                        details,
                        operations,
                    });
                }
                Some(live) if live.owner.as_deref() != Some(fleet.as_str()) => {
                    self.errors.push(PlanError::UnownedPolicy {
                        name: name.clone(),
                        fleet: fleet.clone(),
                        owner: owner_text(&live.owner),
                    });
                }
                Some(live) if live.document != wanted.canonical => {
                    let mut operations = Vec::new();
                    // IoT keeps at most five versions (CreatePolicyVersion:
                    // VersionsLimitExceededException): drop the oldest
                    // non-default one first.
                    let oldest = live.versions.iter().find(|v| !v.is_default);
                    if let (true, Some(oldest)) = (live.versions.len() >= 5, oldest) {
                        operations.push(Operation::DeletePolicyVersion {
                            name: name.clone(),
                            version_id: oldest.id.clone(),
                        });
                    }
                    operations.push(Operation::CreatePolicyVersion {
                        name: name.clone(),
                        document: wanted.canonical.clone(),
                    });
                    self.changes.push(Change {
                        address,
                        device: None,
                        action: Action::Update,
                        phase: Phase::Policies,
                        reason: Reason::new(ReasonCode::PolicyDocumentChanged,
                            format!(
                                "the document of policy {name} (default version {}) differs from the spec",
                                live.default_version
                            ),
                        ),
                        details: vec![Detail::PolicyDocument {
                            before: Some(live.document.clone()),
                            after: wanted.canonical.clone(),
                        }],
                        operations,
                    });
                }
                Some(_) => {}
            }
        }
    }

    /// The fleet's policies that left the spec: detached from the fleet's
    /// certificates, old versions deleted, then the policy.
    pub(super) fn plan_departed_policies(&mut self) {
        let fleet = self.fleet().to_string();
        let departed: Vec<_> = self
            .live
            .policies
            .values()
            .filter(|p| {
                p.owner.as_deref() == Some(fleet.as_str())
                    && !self.spec.policies.contains_key(&p.name)
            })
            .cloned()
            .collect();
        for policy in departed {
            let mut operations = Vec::new();
            for cert in self
                .live
                .certificates
                .values()
                .filter(|c| c.policies.contains(&policy.name))
            {
                operations.push(Operation::DetachPolicy {
                    policy: policy.name.clone(),
                    cert: CertRef::Existing {
                        id: cert.id.clone(),
                        arn: cert.arn.clone(),
                    },
                });
            }
            // DeletePolicy refuses a policy with non-default versions.
            for version in policy.versions.iter().filter(|v| !v.is_default) {
                operations.push(Operation::DeletePolicyVersion {
                    name: policy.name.clone(),
                    version_id: version.id.clone(),
                });
            }
            operations.push(Operation::DeletePolicy {
                name: policy.name.clone(),
            });
            self.push(Change {
                address: Address::Policy(policy.name.clone()),
                device: None,
                action: Action::Delete,
                phase: Phase::Cleanup,
                reason: Reason::new(
                    ReasonCode::PolicyRemoved,
                    format!("policy {} is no longer in the spec", policy.name),
                ),
                details: vec![Detail::PolicyDocument {
                    before: Some(policy.document.clone()),
                    after: String::new(),
                }],
                operations,
            });
        }
    }
}
