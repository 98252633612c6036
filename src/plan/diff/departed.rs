//! Devices that left the spec: their certificates revoked or deactivated,
//! their things deleted.

use super::{Planner, short};
use crate::live::{CertStatus, LiveCertificate};
use crate::plan::{Action, Address, CertRef, Change, Operation, Phase, Reason, ReasonCode};
use crate::spec::{OnRemoval, Output, Retire, RevocationReason};

impl Planner<'_> {
    /// Certificates and things of devices that left the spec.
    pub(super) fn plan_departed_devices(&mut self) {
        let lifecycle = self.spec.lifecycle;
        let departed: Vec<&LiveCertificate> = self
            .live
            .certificates
            .values()
            .filter(|c| !c.belongs_to(|cn| self.index.wanted(cn)))
            .collect();
        // Certificates IoT registered by itself (JITR/JITP: PENDING_ACTIVATION)
        // or that are mid-transfer belong to another workflow: reported, never
        // revoked by a plan.
        let (pending, departed): (Vec<&LiveCertificate>, Vec<&LiveCertificate>) = departed
            .into_iter()
            .partition(|c| c.status.belongs_to_another_workflow());
        for cert in pending {
            self.warnings.push(format!(
                "certificate {} ({}) from the fleet's CA is {} and belongs to no device in the spec; \
                 fleetcert leaves it to the registration workflow (see `fleetcert drift`)",
                short(&cert.id),
                cert.subject_cn.as_deref().unwrap_or("no CN"),
                cert.status
            ));
        }
        for cert in departed {
            let device = cert
                .subject_cn
                .clone()
                .unwrap_or_else(|| format!("certificate-{}", short(&cert.id)));
            let reason = Reason::new(
                ReasonCode::DeviceRemoved,
                format!(
                    "device {device} is no longer in the spec (lifecycle.on_removal: {})",
                    on_removal_name(lifecycle.on_removal)
                ),
            );
            match (lifecycle.on_removal, cert.status) {
                (OnRemoval::Keep, _) | (_, CertStatus::Revoked) => {}
                (OnRemoval::Revoke, _) => {
                    let change = self.retirement(
                        &device,
                        cert,
                        Retire::Revoke,
                        RevocationReason::CessationOfOperation,
                        reason,
                        false,
                    );
                    self.push(change);
                }
                (OnRemoval::Deactivate, CertStatus::Active) => {
                    let change = self.retirement(
                        &device,
                        cert,
                        Retire::Deactivate,
                        RevocationReason::CessationOfOperation,
                        reason,
                        false,
                    );
                    self.push(change);
                }
                (OnRemoval::Deactivate, _) => {}
            }
        }
        self.plan_departed_things();
        self.plan_departed_bundles();
    }

    /// The things of devices that left the spec, deleted under
    /// `on_removal: revoke` with `delete_things`.
    fn plan_departed_things(&mut self) {
        let lifecycle = self.spec.lifecycle;
        // Only revocation is final enough to delete the thing; `deactivate`
        // is reversible and keeps the thing with its certificate.
        if lifecycle.on_removal != OnRemoval::Revoke || !lifecycle.delete_things {
            return;
        }
        let fleet = self.fleet().to_string();
        let departed_things: Vec<String> = self
            .live
            .things
            .values()
            .filter(|t| t.owner.as_deref() == Some(fleet.as_str()) && !self.index.wanted(&t.name))
            .map(|t| t.name.clone())
            .collect();
        for name in departed_things {
            let mut operations = Vec::new();
            for cert in self
                .live
                .certificates
                .values()
                .filter(|c| c.things.contains(&name))
            {
                operations.push(Operation::DetachThing {
                    thing: name.clone(),
                    cert: CertRef::Existing {
                        id: cert.id.clone(),
                        arn: cert.arn.clone(),
                    },
                });
            }
            operations.push(Operation::DeleteThing { name: name.clone() });
            self.push(Change {
                address: Address::Thing(name.clone()),
                device: Some(name.clone()),
                action: Action::Delete,
                phase: Phase::Cleanup,
                reason: Reason::new(
                    ReasonCode::DeviceRemoved,
                    format!(
                        "device {name} is no longer in the spec (lifecycle.delete_things: true)"
                    ),
                ),
                details: vec![],
                operations,
            });
        }
    }

    /// The bundles of devices that left the spec, in a secret store: deleted
    /// under `on_removal: revoke` (a secret restorable for the recovery
    /// window), kept otherwise.
    fn plan_departed_bundles(&mut self) {
        let recovery_window_days = match self.spec.output {
            Output::Dir { .. } => return,
            Output::SecretsManager {
                recovery_window_days,
                ..
            } => Some(recovery_window_days),
            Output::Ssm { .. } => None,
        };
        if self.spec.lifecycle.on_removal != OnRemoval::Revoke {
            return;
        }
        let departed: Vec<String> = self
            .live
            .bundles
            .iter()
            .filter(|(device, bundle)| !bundle.deleted && !self.index.wanted(device))
            .map(|(device, _)| device.clone())
            .collect();
        for device in departed {
            let destination = self.destination(&device);
            let restorable = match recovery_window_days {
                Some(days) => format!(", restorable for {days} days"),
                None => String::new(),
            };
            self.push(Change {
                address: Address::Files(device.clone()),
                device: Some(device.clone()),
                action: Action::Delete,
                phase: Phase::Cleanup,
                reason: Reason::new(
                    ReasonCode::DeviceRemoved,
                    format!(
                        "device {device} is no longer in the spec (lifecycle.on_removal: revoke): \
                         its bundle in {destination} is deleted{restorable}"
                    ),
                ),
                details: vec![],
                operations: vec![Operation::DeleteBundle {
                    device: device.clone(),
                    destination,
                    recovery_window_days,
                }],
            });
        }
    }
}

fn on_removal_name(on_removal: OnRemoval) -> &'static str {
    match on_removal {
        OnRemoval::Revoke => "revoke",
        OnRemoval::Deactivate => "deactivate",
        OnRemoval::Keep => "keep",
    }
}
