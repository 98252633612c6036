//! Desired (spec) x live -> changes. Pure: no I/O, no clock; `now` is an input.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use super::index::Index;
use super::{Action, CertRef, Change, Detail, KeySource, Operation, Phase, Plan, Reason, token};
use crate::live::{LiveCertificate, LiveState};
use crate::spec::{CaSpec, DeviceKey, DeviceSpec, OnRemoval, Retire, Spec};

/// Inputs to planning besides the spec and the live state.
#[derive(Debug, Clone, Default)]
pub struct PlanOptions {
    /// The moment to plan for (unix seconds).
    pub now: i64,
    /// Devices whose certificate must be reissued now (`apply --replace`).
    pub replace: BTreeSet<String>,
    /// Generated keys waiting in `out/<device>/pending-key.pem` (written
    /// before a certificate is requested, promoted when its files are
    /// written): the SHA-256 of each one's public key, by device.
    pub pending_keys: BTreeMap<String, String>,
}

/// Something the plan cannot do; the whole plan is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    #[error(
        "device {device}: the name is fleetcert's own lock thing for this fleet; rename the device"
    )]
    ReservedName { device: String },
    #[error(
        "thing {name} already exists and is not managed by fleet {fleet} ({owner}); fleetcert never takes over \
         a resource silently: rename the device, delete the thing, or set its `fleetcert` attribute to {fleet}"
    )]
    UnownedThing {
        name: String,
        fleet: String,
        owner: String,
    },
    #[error(
        "policy {name} already exists and is not managed by fleet {fleet} ({owner}); rename the policy in the \
         spec, delete it, or tag it fleetcert:fleet={fleet}"
    )]
    UnownedPolicy {
        name: String,
        fleet: String,
        owner: String,
    },
    #[error("CA {arn} cannot serve fleet {fleet}: {reason}")]
    UnusableCa {
        arn: String,
        fleet: String,
        reason: String,
    },
    #[error(
        "the fleet CA is registered in IoT in {live} mode but the spec asks for {wanted}; IoT cannot change a CA's \
         mode: deregister it by hand first"
    )]
    CaModeChange { live: String, wanted: String },
    #[error(
        "device {device}: certificate {certificate_id} (certificate_id in the spec) is not registered in IoT under the fleet's CA"
    )]
    ExternalCertificateMissing {
        device: String,
        certificate_id: String,
    },
}

fn owner_text(owner: &Option<String>) -> String {
    match owner {
        Some(other) => format!("it belongs to fleet {other}"),
        None => "it carries no fleetcert marker".to_string(),
    }
}

fn date(unix: i64) -> String {
    jiff::Timestamp::from_second(unix)
        .map(|t| t.strftime("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_else(|_| unix.to_string())
}

fn short(id: &str) -> &str {
    &id[..id.len().min(10)]
}

fn field(name: &str, before: Option<String>, after: Option<String>) -> Detail {
    Detail::Field {
        name: name.to_string(),
        before,
        after,
    }
}

/// Plan the changes that make `live` match `spec` at `options.now`.
pub fn diff(spec: &Spec, live: &LiveState, options: &PlanOptions) -> Result<Plan, Vec<PlanError>> {
    let index = Index::new(spec, live);
    let mut planner = Planner {
        spec,
        live,
        options,
        changes: Vec::new(),
        warnings: Vec::new(),
        errors: Vec::new(),
        index: &index,
    };
    planner.plan_ca();
    planner.plan_ca_registration();
    planner.plan_thing_types();
    planner.plan_policies();
    let lock_thing = crate::lock::thing_name(&spec.fleet);
    for device in spec.devices.values() {
        if device.name == lock_thing {
            planner.errors.push(PlanError::ReservedName {
                device: device.name.clone(),
            });
            continue;
        }
        planner.plan_device(device);
    }
    planner.plan_departed_devices();
    planner.plan_departed_policies();
    if !planner.errors.is_empty() {
        return Err(planner.errors);
    }
    let Planner {
        mut changes,
        warnings,
        ..
    } = planner;
    // Stable: within a phase, the order the planner chose stays.
    changes.sort_by_key(|c| c.phase);
    super::marker::record(spec, &index, &mut changes);
    let guard = guard(spec, live, &index, &changes);
    Ok(Plan {
        fleet: spec.fleet.clone(),
        at: options.now,
        changes,
        warnings,
        max_destructive_changes: spec.lifecycle.max_destructive_changes,
        guard,
    })
}

/// The blast-radius guard: too many destructive changes, or a spec that
/// looks like it lost its device list (most of the fleet's live devices
/// gone from it), must not go through silently.
fn guard(spec: &Spec, live: &LiveState, index: &Index, changes: &[Change]) -> Vec<String> {
    let mut reasons = Vec::new();
    let destructive = changes.iter().filter(|c| c.action.is_destructive()).count();
    let limit = spec.lifecycle.max_destructive_changes as usize;
    if destructive > limit {
        reasons.push(format!(
            "it revokes, deactivates or deletes {destructive} resources, more than lifecycle.max_destructive_changes ({limit})"
        ));
    }
    let departs = changes
        .iter()
        .any(|c| c.action.is_destructive() && c.reason.code == "device_removed");
    if !departs {
        return reasons;
    }
    let live_devices: HashSet<&str> = live
        .things
        .values()
        .filter(|t| t.owner.as_deref() == Some(spec.fleet.as_str()))
        .map(|t| t.name.as_str())
        .chain(
            live.certificates
                .values()
                .filter(|c| matches!(c.status.as_str(), "ACTIVE" | "INACTIVE"))
                .filter_map(|c| c.subject_cn.as_deref()),
        )
        .collect();
    let departing = live_devices.iter().filter(|d| !index.wanted(d)).count();
    if departing >= 2 && departing * 2 > live_devices.len() {
        reasons.push(format!(
            "{departing} of the fleet's {} live devices are missing from the spec (did a device list or include go missing?)",
            live_devices.len()
        ));
    }
    reasons
}

struct Planner<'a> {
    spec: &'a Spec,
    live: &'a LiveState,
    options: &'a PlanOptions,
    changes: Vec<Change>,
    warnings: Vec<String>,
    errors: Vec<PlanError>,
    /// Certificates by device, things and records by name, the spec's
    /// devices: built once, so planning stays linear in the fleet.
    index: &'a Index<'a>,
}

impl<'a> Planner<'a> {
    /// The device's certificates, oldest first (`LiveState::certificates_of`).
    fn certificates_of(&self, device: &str) -> &'a [&'a LiveCertificate] {
        self.index.certificates_of(device)
    }
}

impl Planner<'_> {
    fn fleet(&self) -> &str {
        &self.spec.fleet
    }

    fn push(&mut self, change: Change) {
        self.changes.push(change);
    }

    fn plan_ca(&mut self) {
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

    fn plan_ca_registration(&mut self) {
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

    fn plan_thing_types(&mut self) {
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

    fn plan_policies(&mut self) {
        let fleet = self.fleet().to_string();
        for (name, wanted) in &self.spec.policies {
            let address = format!("policy.{name}");
            match self.live.policies.get(name) {
                None => self.changes.push(Change {
                    address,
                    device: None,
                    action: Action::Create,
                    phase: Phase::Policies,
                    reason: Reason::new("policy_missing", format!("policy {name} does not exist")),
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
                        reason: Reason::new(
                            "policy_adopted",
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
                        reason: Reason::new(
                            "policy_document_changed",
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

    fn plan_device(&mut self, device: &DeviceSpec) {
        let spec = self.spec;
        let fleet = spec.fleet.as_str();
        let name = device.name.as_str();
        // The thing.
        match self.index.thing(name) {
            None => {
                let mut details: Vec<Detail> = device
                    .attributes
                    .iter()
                    .map(|(k, v)| field(&format!("attributes.{k}"), None, Some(v.clone())))
                    .collect();
                if let Some(thing_type) = &device.thing_type {
                    details.insert(0, field("thing_type", None, Some(thing_type.clone())));
                }
                self.push(Change {
                    address: format!("device.{name}.thing"),
                    device: Some(name.to_string()),
                    action: Action::Create,
                    phase: Phase::Devices,
                    reason: Reason::new("thing_missing", format!("thing {name} does not exist")),
                    details,
                    operations: vec![Operation::CreateThing {
                        name: name.to_string(),
                        thing_type: device.thing_type.clone(),
                        attributes: device.attributes.clone(),
                    }],
                });
            }
            Some(thing)
                if thing.owner.as_deref() != Some(fleet)
                    && !(device.adopt && thing.owner.is_none()) =>
            {
                self.errors.push(PlanError::UnownedThing {
                    name: name.to_string(),
                    fleet: fleet.to_string(),
                    owner: owner_text(&thing.owner),
                });
                return;
            }
            Some(thing) => {
                let adopting = thing.owner.is_none();
                let mut merged = BTreeMap::new();
                let mut details = Vec::new();
                for (key, value) in &device.attributes {
                    if thing.attributes.get(key) != Some(value) {
                        merged.insert(key.clone(), value.clone());
                        details.push(field(
                            &format!("attributes.{key}"),
                            thing.attributes.get(key).cloned(),
                            Some(value.clone()),
                        ));
                    }
                }
                for (key, value) in &thing.attributes {
                    if !device.attributes.contains_key(key) {
                        merged.insert(key.clone(), String::new());
                        details.push(field(
                            &format!("attributes.{key}"),
                            Some(value.clone()),
                            None,
                        ));
                    }
                }
                let type_change =
                    (thing.thing_type != device.thing_type).then(|| device.thing_type.clone());
                if type_change.is_some() {
                    details.insert(
                        0,
                        field(
                            "thing_type",
                            thing.thing_type.clone(),
                            device.thing_type.clone(),
                        ),
                    );
                }
                if adopting {
                    // `adopt: true` (as `fleetcert import` writes): mark the
                    // thing as the fleet's, with any other difference.
                    merged.insert(crate::live::OWNER_ATTRIBUTE.to_string(), fleet.to_string());
                    details.insert(
                        0,
                        field("attributes.fleetcert", None, Some(fleet.to_string())),
                    );
                    self.push(Change {
                        address: format!("device.{name}.thing"),
                        device: Some(name.to_string()),
                        action: Action::Adopt,
                        phase: Phase::Devices,
                        reason: Reason::new(
                            "thing_adopted",
                            format!("the spec adopts the existing thing {name}, which carries no fleetcert marker"),
                        ),
                        details,
                        operations: vec![Operation::UpdateThing {
                            name: name.to_string(),
                            thing_type: type_change,
                            attributes: merged,
                            expected_version: thing.version,
                        }],
                    });
                } else if !details.is_empty() {
                    self.push(Change {
                        address: format!("device.{name}.thing"),
                        device: Some(name.to_string()),
                        action: Action::Update,
                        phase: Phase::Devices,
                        reason: Reason::new(
                            "thing_attributes_differ",
                            format!("thing {name}'s attributes or type differ from the spec"),
                        ),
                        details,
                        operations: vec![Operation::UpdateThing {
                            name: name.to_string(),
                            thing_type: type_change,
                            attributes: merged,
                            expected_version: thing.version,
                        }],
                    });
                }
            }
        }

        let certs = self.certificates_of(name);
        if let Some(reason) = device.revoked {
            for cert in certs
                .iter()
                .filter(|c| matches!(c.status.as_str(), "ACTIVE" | "INACTIVE"))
            {
                let change = self.retirement(
                    name,
                    cert,
                    Retire::Revoke,
                    reason.aws_name(),
                    Reason::new(
                        "device_revoked",
                        format!("the spec revokes device {name} ({})", reason.aws_name()),
                    ),
                    false,
                );
                self.push(change);
            }
            return;
        }
        self.plan_certificate(device, certs);
    }

    /// Does `cert` carry the key the spec wants for `device`?
    fn key_matches(device: &DeviceSpec, cert: &LiveCertificate) -> bool {
        match &device.key {
            DeviceKey::Generated => true,
            DeviceKey::Csr(csr) => {
                cert.public_key_sha256 == crate::pki::cert::spki_sha256(&csr.public_key_der)
            }
            DeviceKey::External { certificate_id } => &cert.id == certificate_id,
        }
    }

    fn plan_certificate(&mut self, device: &DeviceSpec, certs: &[&LiveCertificate]) {
        let name = device.name.as_str();
        let now = self.options.now;
        let renew_at = |c: &LiveCertificate| c.not_after - device.renew_before.as_secs() as i64;
        let forced = self.options.replace.contains(name);
        let alive: Vec<&LiveCertificate> = certs
            .iter()
            .copied()
            .filter(|c| matches!(c.status.as_str(), "ACTIVE" | "INACTIVE"))
            .collect();
        let current = alive
            .iter()
            .copied()
            .filter(|c| {
                Self::key_matches(device, c)
                    && (renew_at(c) > now || matches!(device.key, DeviceKey::External { .. }))
            })
            .rfind(|_| !forced);

        if let (DeviceKey::External { certificate_id }, None, false) =
            (&device.key, current, forced)
        {
            self.errors.push(PlanError::ExternalCertificateMissing {
                device: name.to_string(),
                certificate_id: certificate_id.clone(),
            });
            return;
        }

        match current {
            Some(cert) => {
                if matches!(device.key, DeviceKey::External { .. }) && renew_at(cert) <= now {
                    {
                        self.warnings.push(format!(
                            "device {name}: certificate {} expires {}, within renew_before {}, and fleetcert cannot \
                             renew it (its key and CSR are not in the spec): add a csr to rotate it",
                            short(&cert.id),
                            date(cert.not_after),
                            device.renew_before
                        ));
                    }
                }
                self.plan_attachments(device, cert);
                self.plan_unwritten_files(device, cert);
                self.note_deferred_reissue(device, cert);
                // Older live certificates: retired once the overlap has passed.
                let overlap_end =
                    cert.created_at + self.spec.lifecycle.rotation_overlap.as_secs() as i64;
                for old in alive
                    .iter()
                    .filter(|c| c.id != cert.id && c.status == "ACTIVE")
                {
                    if now >= overlap_end {
                        let change = self.retirement(
                            name,
                            old,
                            self.spec.lifecycle.retire,
                            "SUPERSEDED",
                            Reason::new(
                                "certificate_superseded",
                                format!(
                                    "certificate {} was replaced by {} and the rotation overlap ({}) has passed",
                                    short(&old.id),
                                    short(&cert.id),
                                    self.spec.lifecycle.rotation_overlap
                                ),
                            ),
                            false,
                        );
                        self.push(change);
                    } else {
                        self.warnings.push(format!(
                            "device {name}: certificate {} stays ACTIVE until {} (rotation_overlap {}), then a plan retires it",
                            short(&old.id),
                            date(overlap_end),
                            self.spec.lifecycle.rotation_overlap
                        ));
                    }
                }
                if cert.status == "INACTIVE" {
                    // The matching certificate was deactivated outside fleetcert.
                    self.push(Change {
                        address: format!("device.{name}.certificate"),
                        device: Some(name.to_string()),
                        action: Action::Update,
                        phase: Phase::Devices,
                        reason: Reason::new(
                            "certificate_inactive",
                            format!("certificate {} is INACTIVE but the spec wants device {name} active", short(&cert.id)),
                        ),
                        details: vec![field("status", Some("INACTIVE".into()), Some("ACTIVE".into()))],
                        operations: vec![Operation::SetCertificateStatus {
                            cert: CertRef::Existing { id: cert.id.clone(), arn: cert.arn.clone() },
                            status: "ACTIVE".into(),
                        }],
                    });
                }
            }
            None => self.plan_issue(device, &alive, forced),
        }
    }

    /// Reissue rules: a new CSR (another key), expiry within renew_before,
    /// `--replace`, or a lost certificate issue a new certificate now; a
    /// changed validity does not, and takes effect at the next rotation. Say
    /// so rather than leave people guessing.
    fn note_deferred_reissue(&mut self, device: &DeviceSpec, cert: &LiveCertificate) {
        // PCA backdates notBefore by up to an hour; compare whole days.
        let live_days = (cert.not_after - cert.not_before + 43_200) / 86_400;
        let (min, max) = (
            device.validity.min_days() as i64,
            device.validity.max_days() as i64,
        );
        if live_days < min - 1 || live_days > max + 1 {
            self.warnings.push(format!(
                "device {}: the spec's validity {} differs from certificate {}'s ({live_days} days); fleetcert does not \
                 reissue for that: it applies at the next rotation (or now with `apply --replace {}`)",
                device.name,
                device.validity,
                short(&cert.id),
                device.name
            ));
        }
    }

    /// A pending key that belongs to the current certificate: an apply was
    /// interrupted after registering it and before writing the device's
    /// files. Write them now, or the key would never be promoted.
    fn plan_unwritten_files(&mut self, device: &DeviceSpec, cert: &LiveCertificate) {
        let name = device.name.as_str();
        if !matches!(device.key, DeviceKey::Generated)
            || self.options.pending_keys.get(name) != Some(&cert.public_key_sha256)
        {
            return;
        }
        self.push(Change {
            address: format!("device.{name}.files"),
            device: Some(name.to_string()),
            action: Action::Create,
            phase: Phase::Devices,
            reason: Reason::new(
                "files_not_written",
                format!(
                    "certificate {} holds the key waiting in {name}/pending-key.pem, but the device's files \
                     were never written (an apply was interrupted)",
                    short(&cert.id)
                ),
            ),
            details: vec![field("certificate", None, Some(short(&cert.id).to_string()))],
            operations: vec![
                Operation::LoadCertificate {
                    id: cert.id.clone(),
                    arn: cert.arn.clone(),
                },
                Operation::WriteDeviceFiles {
                    device: name.to_string(),
                },
            ],
        });
    }

    fn plan_attachments(&mut self, device: &DeviceSpec, cert: &LiveCertificate) {
        let name = device.name.as_str();
        let fleet = self.fleet();
        let cert_ref = CertRef::Existing {
            id: cert.id.clone(),
            arn: cert.arn.clone(),
        };
        let mut operations = Vec::new();
        let mut details = Vec::new();
        if !cert.things.contains(name) {
            operations.push(Operation::AttachThing {
                thing: name.to_string(),
                cert: cert_ref.clone(),
            });
            details.push(field("thing", None, Some(name.to_string())));
        }
        for policy in device.policies.difference(&cert.policies) {
            operations.push(Operation::AttachPolicy {
                policy: policy.clone(),
                cert: cert_ref.clone(),
            });
            details.push(field(
                &format!("policies.{policy}"),
                None,
                Some("attached".into()),
            ));
        }
        for policy in cert.policies.difference(&device.policies) {
            // Only the fleet's own policies are ever detached.
            let owned = self
                .live
                .policies
                .get(policy)
                .is_some_and(|p| p.owner.as_deref() == Some(fleet));
            if owned {
                operations.push(Operation::DetachPolicy {
                    policy: policy.clone(),
                    cert: cert_ref.clone(),
                });
                details.push(field(
                    &format!("policies.{policy}"),
                    Some("attached".into()),
                    None,
                ));
            }
        }
        if operations.is_empty() {
            return;
        }
        self.push(Change {
            address: format!("device.{name}.certificate"),
            device: Some(name.to_string()),
            action: Action::Update,
            phase: Phase::Devices,
            reason: Reason::new(
                "attachments_differ",
                format!(
                    "certificate {}'s thing or policy attachments differ from the spec",
                    short(&cert.id)
                ),
            ),
            details,
            operations,
        });
    }

    fn plan_issue(&mut self, device: &DeviceSpec, alive: &[&LiveCertificate], forced: bool) {
        let name = device.name.as_str();
        let now = self.options.now;
        let newest = alive.last().copied();
        let (action, reason) = match newest {
            None => (
                Action::Create,
                Reason::new(
                    "certificate_missing",
                    format!("device {name} has no active certificate"),
                ),
            ),
            Some(old) if forced => (
                Action::RetireThenCreate,
                Reason::new(
                    "replace_requested",
                    format!(
                        "--replace {name}: certificate {} is retired and a new one issued",
                        short(&old.id)
                    ),
                ),
            ),
            Some(old) if !Self::key_matches(device, old) => (
                Action::CreateThenRetire,
                Reason::new(
                    "csr_changed",
                    format!(
                        "the spec's CSR for {name} has a different key than certificate {}",
                        short(&old.id)
                    ),
                ),
            ),
            Some(old) if old.not_after - device.renew_before.as_secs() as i64 <= now => (
                Action::CreateThenRetire,
                Reason::new(
                    "certificate_expiring",
                    format!(
                        "certificate {} expires {}, within renew_before {}",
                        short(&old.id),
                        date(old.not_after),
                        device.renew_before
                    ),
                ),
            ),
            Some(old) => (
                Action::CreateThenRetire,
                Reason::new(
                    "certificate_unusable",
                    format!("certificate {} cannot be used", short(&old.id)),
                ),
            ),
        };
        let mut operations = Vec::new();
        if action == Action::RetireThenCreate {
            for old in alive {
                let retire = self.retirement(
                    name,
                    old,
                    Retire::Revoke,
                    "KEY_COMPROMISE",
                    reason.clone(),
                    true,
                );
                operations.extend(retire.operations);
            }
        }
        let key = match &device.key {
            DeviceKey::Csr(csr) => KeySource::Csr {
                path: csr.path.display().to_string(),
                sha256: csr.sha256.clone(),
            },
            DeviceKey::Generated | DeviceKey::External { .. } => {
                let avoid = self
                    .certificates_of(name)
                    .iter()
                    .map(|c| c.public_key_sha256.clone())
                    .collect();
                operations.push(Operation::GenerateKey {
                    device: name.to_string(),
                    avoid,
                });
                KeySource::Generated
            }
        };
        let key_text = match &key {
            KeySource::Csr { path, .. } => format!("CSR {path}"),
            KeySource::Generated => "generated P-256 key".to_string(),
        };
        operations.push(Operation::IssueCertificate {
            device: name.to_string(),
            key,
            validity_type: device.validity.aws_type().into(),
            validity_value: device.validity.value(),
            replaces: newest.map(|c| c.id.clone()),
        });
        operations.push(Operation::RegisterCertificate {
            device: name.to_string(),
        });
        operations.push(Operation::AttachThing {
            thing: name.to_string(),
            cert: CertRef::Issued,
        });
        for policy in &device.policies {
            operations.push(Operation::AttachPolicy {
                policy: policy.clone(),
                cert: CertRef::Issued,
            });
        }
        operations.push(Operation::WriteDeviceFiles {
            device: name.to_string(),
        });
        let mut details = vec![
            field("key", None, Some(key_text)),
            field("validity", None, Some(device.validity.to_string())),
            field(
                "policies",
                None,
                Some(
                    device
                        .policies
                        .iter()
                        .cloned()
                        .collect::<Vec<_>>()
                        .join(", "),
                ),
            ),
        ];
        if let Some(old) = newest {
            details.insert(0, field("replaces", Some(short(&old.id).to_string()), None));
        }
        self.push(Change {
            address: format!("device.{name}.certificate"),
            device: Some(name.to_string()),
            action,
            phase: Phase::Devices,
            reason,
            details,
            operations,
        });
    }

    /// The change that takes `cert` out of service: detached and REVOKED (in
    /// PCA first, then IoT, so an IoT REVOKED status proves the PCA step), or
    /// set INACTIVE.
    fn retirement(
        &self,
        device: &str,
        cert: &LiveCertificate,
        how: Retire,
        pca_reason: &str,
        reason: Reason,
        inline: bool,
    ) -> Change {
        let cert_ref = CertRef::Existing {
            id: cert.id.clone(),
            arn: cert.arn.clone(),
        };
        let mut operations = Vec::new();
        let action = match how {
            Retire::Revoke => {
                for policy in &cert.policies {
                    operations.push(Operation::DetachPolicy {
                        policy: policy.clone(),
                        cert: cert_ref.clone(),
                    });
                }
                for thing in &cert.things {
                    operations.push(Operation::DetachThing {
                        thing: thing.clone(),
                        cert: cert_ref.clone(),
                    });
                }
                operations.push(Operation::RevokeInPca {
                    serial: cert.serial.clone(),
                    reason: pca_reason.to_string(),
                });
                operations.push(Operation::SetCertificateStatus {
                    cert: cert_ref.clone(),
                    status: "REVOKED".into(),
                });
                if self.spec.lifecycle.delete_certificates {
                    operations.push(Operation::DeleteCertificate {
                        cert: cert_ref.clone(),
                    });
                }
                Action::Revoke
            }
            Retire::Deactivate => {
                operations.push(Operation::SetCertificateStatus {
                    cert: cert_ref.clone(),
                    status: "INACTIVE".into(),
                });
                Action::Deactivate
            }
        };
        Change {
            address: format!("device.{device}.certificate.{}", short(&cert.id)),
            device: Some(device.to_string()),
            action,
            phase: if inline {
                Phase::Devices
            } else {
                Phase::Retire
            },
            reason,
            details: vec![
                field("serial", Some(cert.serial.clone()), None),
                field("not_after", Some(date(cert.not_after)), None),
                field(
                    "status",
                    Some(cert.status.clone()),
                    Some(
                        if action == Action::Revoke {
                            "REVOKED"
                        } else {
                            "INACTIVE"
                        }
                        .into(),
                    ),
                ),
            ],
            operations,
        }
    }

    /// Certificates and things of devices that left the spec.
    fn plan_departed_devices(&mut self) {
        let lifecycle = self.spec.lifecycle;
        let departed: Vec<&LiveCertificate> = self
            .live
            .certificates
            .values()
            .filter(|c| {
                c.subject_cn
                    .as_deref()
                    .is_none_or(|cn| !self.index.wanted(cn))
            })
            .collect();
        // Certificates IoT registered by itself (JITR/JITP: PENDING_ACTIVATION)
        // or that are mid-transfer belong to another workflow: reported, never
        // revoked by a plan.
        let (pending, departed): (Vec<&LiveCertificate>, Vec<&LiveCertificate>) =
            departed.into_iter().partition(|c| {
                matches!(
                    c.status.as_str(),
                    "PENDING_ACTIVATION" | "PENDING_TRANSFER" | "REGISTER_INACTIVE"
                )
            });
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
                "device_removed",
                format!(
                    "device {device} is no longer in the spec (lifecycle.on_removal: {})",
                    on_removal_name(lifecycle.on_removal)
                ),
            );
            match (lifecycle.on_removal, cert.status.as_str()) {
                (OnRemoval::Keep, _) | (_, "REVOKED") => {}
                (OnRemoval::Revoke, _) => {
                    let change = self.retirement(
                        &device,
                        cert,
                        Retire::Revoke,
                        "CESSATION_OF_OPERATION",
                        reason,
                        false,
                    );
                    self.push(change);
                }
                (OnRemoval::Deactivate, "ACTIVE") => {
                    let change =
                        self.retirement(&device, cert, Retire::Deactivate, "", reason, false);
                    self.push(change);
                }
                (OnRemoval::Deactivate, _) => {}
            }
        }
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
                address: format!("device.{name}.thing"),
                device: Some(name.clone()),
                action: Action::Delete,
                phase: Phase::Cleanup,
                reason: Reason::new(
                    "device_removed",
                    format!(
                        "device {name} is no longer in the spec (lifecycle.delete_things: true)"
                    ),
                ),
                details: vec![],
                operations,
            });
        }
    }

    /// The fleet's policies that left the spec: detached from the fleet's
    /// certificates, old versions deleted, then the policy.
    fn plan_departed_policies(&mut self) {
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
                address: format!("policy.{}", policy.name),
                device: None,
                action: Action::Delete,
                phase: Phase::Cleanup,
                reason: Reason::new(
                    "policy_removed",
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

fn on_removal_name(on_removal: OnRemoval) -> &'static str {
    match on_removal {
        OnRemoval::Revoke => "revoke",
        OnRemoval::Deactivate => "deactivate",
        OnRemoval::Keep => "keep",
    }
}
