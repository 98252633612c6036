//! The fleet's CA: created or adopted in PCA, registered in IoT; and the
//! thing types devices use.

use std::collections::BTreeMap;

use super::{PlanError, Planner, field};
use crate::plan::{Action, Change, Operation, Phase, Reason, token};
use crate::spec::CaSpec;

impl Planner<'_> {
    pub(super) fn plan_ca(&mut self) {
        let fleet = self.fleet().to_string();
        match (&self.spec.ca, &self.live.ca) {
            (
                CaSpec::Create {
                    subject,
                    key_algorithm,
                    signing_algorithm,
                    validity,
                    ..
                },
                None,
            ) => {
                let mut fields = BTreeMap::new();
                fields.insert("common_name".to_string(), subject.common_name.clone());
                for (name, value) in [
                    ("organization", &subject.organization),
                    ("organizational_unit", &subject.organizational_unit),
                    ("country", &subject.country),
                    ("state", &subject.state),
                    ("locality", &subject.locality),
                ] {
                    if let Some(value) = value {
                        fields.insert(name.to_string(), value.clone());
                    }
                }
                let token =
                    token::derive(&["ca", &fleet, &subject.common_name, key_algorithm.aws_name()]);
                self.push(Change {
                    address: "ca".into(),
                    device: None,
                    action: Action::Create,
                    phase: Phase::Ca,
                    reason: Reason::new(
                        "ca_missing",
                        format!("no private CA tagged fleetcert:fleet={fleet} exists"),
                    ),
                    details: vec![
                        field("subject", None, Some(format!("CN={}", subject.common_name))),
                        field("key_algorithm", None, Some(key_algorithm.aws_name().into())),
                        field(
                            "signing_algorithm",
                            None,
                            Some(signing_algorithm.aws_name().into()),
                        ),
                        field("validity", None, Some(validity.to_string())),
                    ],
                    operations: vec![
                        Operation::CreateCa {
                            subject: fields,
                            key_algorithm: key_algorithm.aws_name().into(),
                            signing_algorithm: signing_algorithm.aws_name().into(),
                            idempotency_token: token,
                        },
                        Operation::ActivateRootCa {
                            validity_type: validity.aws_type().into(),
                            validity_value: validity.value(),
                            signing_algorithm: signing_algorithm.aws_name().into(),
                        },
                    ],
                });
            }
            (
                CaSpec::Create {
                    key_algorithm,
                    signing_algorithm,
                    validity,
                    ..
                },
                Some(ca),
            ) => {
                if ca.key_algorithm != key_algorithm.aws_name() {
                    self.errors.push(PlanError::UnusableCa {
                        arn: ca.arn.clone(),
                        fleet,
                        reason: format!(
                            "its key algorithm is {} but the spec asks for {}; a CA's key cannot change",
                            ca.key_algorithm,
                            key_algorithm.aws_name()
                        ),
                    });
                    return;
                }
                match ca.status.as_str() {
                    "ACTIVE" => {}
                    "CREATING" | "PENDING_CERTIFICATE" => self.push(Change {
                        address: "ca".into(),
                        device: None,
                        action: Action::Update,
                        phase: Phase::Ca,
                        reason: Reason::new(
                            "ca_not_activated",
                            format!(
                                "CA {} was created but never activated (status {})",
                                ca.arn, ca.status
                            ),
                        ),
                        details: vec![field(
                            "status",
                            Some(ca.status.clone()),
                            Some("ACTIVE".into()),
                        )],
                        operations: vec![Operation::ActivateRootCa {
                            validity_type: validity.aws_type().into(),
                            validity_value: validity.value(),
                            signing_algorithm: signing_algorithm.aws_name().into(),
                        }],
                    }),
                    other => self.errors.push(PlanError::UnusableCa {
                        arn: ca.arn.clone(),
                        fleet,
                        reason: format!("its status is {other}, not ACTIVE"),
                    }),
                }
            }
            (CaSpec::Adopt { arn, .. }, Some(ca)) => {
                let mut reasons = Vec::new();
                if ca.status != "ACTIVE" {
                    reasons.push(format!("its status is {}, not ACTIVE", ca.status));
                }
                if ca.key_algorithm != "EC_prime256v1" {
                    reasons.push(format!(
                        "its key algorithm is {}; fleetcert's fleets use EC_prime256v1",
                        ca.key_algorithm
                    ));
                }
                if let Some(other) = ca.owner.as_ref().filter(|o| *o != &fleet) {
                    reasons.push(format!("it is tagged as fleet {other}'s"));
                }
                if !reasons.is_empty() {
                    self.errors.push(PlanError::UnusableCa {
                        arn: arn.clone(),
                        fleet,
                        reason: reasons.join("; "),
                    });
                } else if ca.owner.is_none() {
                    self.push(Change {
                        address: "ca".into(),
                        device: None,
                        action: Action::Adopt,
                        phase: Phase::Ca,
                        reason: Reason::new("ca_adopted", format!("the spec adopts CA {arn}")),
                        details: vec![field("tag fleetcert:fleet", None, Some(fleet.clone()))],
                        operations: vec![Operation::TagCa { arn: arn.clone() }],
                    });
                }
            }
            (CaSpec::Adopt { arn, .. }, None) => self.errors.push(PlanError::UnusableCa {
                arn: arn.clone(),
                fleet,
                reason: "it was not found".into(),
            }),
        }
    }

    pub(super) fn plan_ca_registration(&mut self) {
        let wanted = self.spec.ca.iot();
        let sni_only = wanted.mode.aws_name() == "SNI_ONLY";
        let active = wanted.status.aws_name() == "ACTIVE";
        match &self.live.iot_ca {
            None => self.push(Change {
                address: "ca.iot".into(),
                device: None,
                action: Action::Create,
                phase: Phase::CaRegistration,
                reason: Reason::new(
                    "ca_not_registered",
                    "the fleet CA is not registered in AWS IoT",
                ),
                details: vec![
                    field("mode", None, Some(wanted.mode.aws_name().into())),
                    field("status", None, Some(wanted.status.aws_name().into())),
                    field(
                        "auto_registration",
                        None,
                        Some(wanted.auto_registration.to_string()),
                    ),
                ],
                operations: vec![Operation::RegisterCa {
                    sni_only,
                    active,
                    auto_registration: wanted.auto_registration,
                }],
            }),
            Some(registered) => {
                if registered.mode != wanted.mode.aws_name() {
                    self.errors.push(PlanError::CaModeChange {
                        live: registered.mode.clone(),
                        wanted: wanted.mode.aws_name().into(),
                    });
                    return;
                }
                let status_differs = registered.status != wanted.status.aws_name();
                let auto_differs = registered.auto_registration != wanted.auto_registration;
                if !status_differs && !auto_differs {
                    return;
                }
                let mut details = Vec::new();
                if status_differs {
                    details.push(field(
                        "status",
                        Some(registered.status.clone()),
                        Some(wanted.status.aws_name().into()),
                    ));
                }
                if auto_differs {
                    details.push(field(
                        "auto_registration",
                        Some(registered.auto_registration.to_string()),
                        Some(wanted.auto_registration.to_string()),
                    ));
                }
                self.push(Change {
                    address: "ca.iot".into(),
                    device: None,
                    action: Action::Update,
                    phase: Phase::CaRegistration,
                    reason: Reason::new(
                        "ca_registration_differs",
                        "the CA's IoT registration differs from the spec",
                    ),
                    details,
                    operations: vec![Operation::UpdateCaRegistration {
                        certificate_id: registered.certificate_id.clone(),
                        active: status_differs.then_some(active),
                        auto_registration: auto_differs.then_some(wanted.auto_registration),
                    }],
                });
            }
        }
    }

    pub(super) fn plan_thing_types(&mut self) {
        for (name, thing_type) in &self.spec.thing_types {
            if self.live.thing_types.contains(name) {
                continue;
            }
            self.changes.push(Change {
                address: format!("thing_type.{name}"),
                device: None,
                action: Action::Create,
                phase: Phase::Policies,
                reason: Reason::new(
                    "thing_type_missing",
                    format!("thing type {name} does not exist"),
                ),
                details: vec![],
                operations: vec![Operation::CreateThingType {
                    name: name.clone(),
                    description: thing_type.description.clone(),
                    searchable_attributes: thing_type.searchable_attributes.clone(),
                }],
            });
        }
    }
}
