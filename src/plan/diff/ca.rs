//! The fleet's CA: created or adopted in PCA, registered in IoT; and the
//! thing types devices use.

use std::collections::BTreeMap;

use super::{PlanError, Planner, field};
use crate::live::LiveCa;
use crate::live::{CaStatus, CertificateMode, RegistrationStatus};
use crate::plan::{
    Action, Address, Change, IdempotencyToken, Operation, Phase, Reason, ReasonCode, Template,
    Verification, derive_token,
};
use crate::spec::{CaSpec, CertValidity, KeyAlgorithm, SigningAlgorithm, Subject, UsageMode};

/// The spec's word for a usage mode.
fn usage_mode_name(mode: UsageMode) -> &'static str {
    match mode {
        UsageMode::GeneralPurpose => "general_purpose",
        UsageMode::ShortLived => "short_lived",
    }
}

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
                    usage_mode,
                    ..
                },
                None,
            ) => self.plan_new_ca(
                &fleet,
                subject,
                (*key_algorithm, *signing_algorithm, *usage_mode),
                *validity,
            ),
            (
                CaSpec::Create {
                    key_algorithm,
                    signing_algorithm,
                    validity,
                    usage_mode,
                    ..
                },
                Some(ca),
            ) => {
                if !self.usage_mode_holds(&fleet, ca, *usage_mode) {
                    return;
                }
                self.plan_created_ca(&fleet, ca, *key_algorithm, *signing_algorithm, *validity)
            }
            (CaSpec::Adopt { arn, .. }, Some(ca)) => self.plan_adopted_ca(fleet, arn, ca),
            (CaSpec::Adopt { arn, .. }, None) => self.errors.push(PlanError::UnusableCa {
                arn: arn.clone(),
                fleet,
                reason: "it was not found".into(),
            }),
        }
    }

    /// No CA yet: create the root CA and activate it.
    fn plan_new_ca(
        &mut self,
        fleet: &str,
        subject: &Subject,
        (key_algorithm, signing_algorithm, usage_mode): (KeyAlgorithm, SigningAlgorithm, UsageMode),
        validity: CertValidity,
    ) {
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
        let token = derive_token(&["ca", fleet, &subject.common_name, key_algorithm.aws_name()]);
        let root_token = derive_token(&["root-ca-certificate", &token]);
        self.push(Change {
            address: Address::Ca,
            device: None,
            action: Action::Create,
            phase: Phase::Ca,
            reason: Reason::new(
                ReasonCode::CaMissing,
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
                field("usage_mode", None, Some(usage_mode_name(usage_mode).into())),
            ],
            operations: vec![
                Operation::CreateCa {
                    subject: fields,
                    key_algorithm,
                    signing_algorithm,
                    usage_mode,
                    idempotency_token: token,
                },
                Operation::ActivateRootCa {
                    validity,
                    signing_algorithm,
                    template: Template::RootCa,
                    idempotency_token: root_token,
                },
            ],
        });
    }

    /// The CA fleetcert created: usable once ACTIVE, activated if it never was.
    /// A CA's usage mode is fixed at creation ("The CA mode cannot be
    /// changed for an existing CA", AWS Security Blog, "How to use AWS
    /// Private Certificate Authority short-lived certificate mode").
    fn usage_mode_holds(&mut self, fleet: &str, ca: &LiveCa, wanted: UsageMode) -> bool {
        if ca.usage_mode == wanted {
            return true;
        }
        self.errors.push(PlanError::UnusableCa {
            arn: ca.arn.clone(),
            fleet: fleet.to_string(),
            reason: format!(
                "its usage mode is {} but the spec asks for {}; a CA's usage mode cannot change",
                usage_mode_name(ca.usage_mode),
                usage_mode_name(wanted)
            ),
        });
        false
    }

    fn plan_created_ca(
        &mut self,
        fleet: &str,
        ca: &LiveCa,
        key_algorithm: KeyAlgorithm,
        signing_algorithm: SigningAlgorithm,
        validity: CertValidity,
    ) {
        if ca.key_algorithm != key_algorithm.aws_name() {
            self.errors.push(PlanError::UnusableCa {
                arn: ca.arn.clone(),
                fleet: fleet.to_string(),
                reason: format!(
                    "its key algorithm is {} but the spec asks for {}; a CA's key cannot change",
                    ca.key_algorithm,
                    key_algorithm.aws_name()
                ),
            });
            return;
        }
        match ca.status {
            CaStatus::Active => {}
            CaStatus::Creating | CaStatus::PendingCertificate => self.push(Change {
                address: Address::Ca,
                device: None,
                action: Action::Update,
                phase: Phase::Ca,
                reason: Reason::new(
                    ReasonCode::CaNotActivated,
                    format!(
                        "CA {} was created but never activated (status {})",
                        ca.arn, ca.status
                    ),
                ),
                details: vec![field(
                    "status",
                    Some(ca.status.to_string()),
                    Some(CaStatus::Active.to_string()),
                )],
                operations: vec![Operation::ActivateRootCa {
                    validity,
                    signing_algorithm,
                    template: Template::RootCa,
                    idempotency_token: derive_token(&["root-ca-certificate", &ca.arn]),
                }],
            }),
            other => self.errors.push(PlanError::UnusableCa {
                arn: ca.arn.clone(),
                fleet: fleet.to_string(),
                reason: format!("its status is {other}, not ACTIVE"),
            }),
        }
    }

    /// The CA the spec names: usable if ACTIVE, EC P-256 and nobody else's;
    /// tagged as the fleet's if it carries no tag.
    fn plan_adopted_ca(&mut self, fleet: String, arn: &str, ca: &LiveCa) {
        let mut reasons = Vec::new();
        if ca.status != CaStatus::Active {
            reasons.push(format!("its status is {}, not ACTIVE", ca.status));
        }
        if ca.key_algorithm != KeyAlgorithm::EcPrime256v1.aws_name() {
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
                arn: arn.to_string(),
                fleet: fleet.to_string(),
                reason: reasons.join("; "),
            });
        } else if ca.owner.is_none() {
            self.push(Change {
                address: Address::Ca,
                device: None,
                action: Action::Adopt,
                phase: Phase::Ca,
                reason: Reason::new(ReasonCode::CaAdopted, format!("the spec adopts CA {arn}")),
                details: vec![field("tag fleetcert:fleet", None, Some(fleet.clone()))],
                operations: vec![Operation::TagCa {
                    arn: arn.to_string(),
                }],
            });
        }
    }

    pub(super) fn plan_ca_registration(&mut self) {
        let wanted = self.spec.ca.iot();
        let mode = CertificateMode::from(wanted.mode);
        let status = RegistrationStatus::from(wanted.status);
        match &self.live.iot_ca {
            None => self.push(Change {
                address: Address::CaRegistration,
                device: None,
                action: Action::Create,
                phase: Phase::CaRegistration,
                reason: Reason::new(
                    ReasonCode::CaNotRegistered,
                    "the fleet CA is not registered in AWS IoT",
                ),
                details: vec![
                    field("mode", None, Some(mode.to_string())),
                    field("status", None, Some(status.to_string())),
                    field(
                        "auto_registration",
                        None,
                        Some(wanted.auto_registration.to_string()),
                    ),
                ],
                operations: vec![Operation::RegisterCa {
                    mode,
                    status,
                    auto_registration: wanted.auto_registration,
                    verification: (mode == CertificateMode::Default).then(|| self.verification()),
                }],
            }),
            Some(registered) => {
                if registered.mode != mode {
                    self.errors.push(PlanError::CaModeChange {
                        live: registered.mode.to_string(),
                        wanted: mode.to_string(),
                    });
                    return;
                }
                let status_differs = registered.status != status;
                let auto_differs = registered.auto_registration != wanted.auto_registration;
                if !status_differs && !auto_differs {
                    return;
                }
                let mut details = Vec::new();
                if status_differs {
                    details.push(field(
                        "status",
                        Some(registered.status.to_string()),
                        Some(status.to_string()),
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
                    address: Address::CaRegistration,
                    device: None,
                    action: Action::Update,
                    phase: Phase::CaRegistration,
                    reason: Reason::new(
                        ReasonCode::CaRegistrationDiffers,
                        "the CA's IoT registration differs from the spec",
                    ),
                    details,
                    operations: vec![Operation::UpdateCaRegistration {
                        certificate_id: registered.certificate_id.clone(),
                        status: status_differs.then_some(status),
                        auto_registration: auto_differs.then_some(wanted.auto_registration),
                    }],
                });
            }
        }
    }

    /// DEFAULT mode's verification certificate: a day is all IoT needs (it
    /// checks the certificate once, at registration; AWS IoT Developer Guide,
    /// "Register a CA certificate"). Its key is made at run time, so the
    /// token is completed with that key's digest.
    fn verification(&self) -> Verification {
        Verification {
            validity: CertValidity::Days(1),
            template: Template::EndEntity,
            signing_algorithm: self.signing_algorithm,
            idempotency_token: IdempotencyToken::seeded(
                derive_token(&["verification-certificate", self.fleet()]),
                None,
            ),
        }
    }

    pub(super) fn plan_thing_types(&mut self) {
        for (name, thing_type) in &self.spec.thing_types {
            if self.live.thing_types.contains(name) {
                continue;
            }
            self.changes.push(Change {
                address: Address::ThingType(name.clone()),
                device: None,
                action: Action::Create,
                phase: Phase::Policies,
                reason: Reason::new(
                    ReasonCode::ThingTypeMissing,
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
