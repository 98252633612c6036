//! A device's certificate: kept (with its attachments and unwritten files),
//! issued anew, or retired once superseded.

use super::{PlanError, Planner, date, field, short};
use crate::live::{CertStatus, LiveCertificate};
use crate::plan::{
    Action, Address, CertRef, Change, Destination, IdempotencyToken, KeyPlan, KeySource, Operation,
    Phase, Reason, ReasonCode, Template,
};
use crate::spec::{DeviceKey, DeviceSpec, Retire, RevocationReason};

impl Planner<'_> {
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

    pub(super) fn plan_certificate(&mut self, device: &DeviceSpec, certs: &[&LiveCertificate]) {
        let name = device.name.as_str();
        let now = self.options.now;
        let renew_at = |c: &LiveCertificate| device.renew_at(c.not_after);
        let forced = self.options.replace.contains(name);
        let alive: Vec<&LiveCertificate> = certs
            .iter()
            .copied()
            .filter(|c| c.status.is_alive())
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
            Some(cert) => self.plan_current(device, cert, &alive),
            None => {
                // A rotation interrupted after registering: write that
                // certificate's files (promoting its key) before the new
                // issue generates another key, so no registered key is lost.
                if !forced {
                    for cert in &alive {
                        self.plan_unwritten_files(device, cert);
                    }
                }
                self.plan_issue(device, &alive, forced)
            }
        }
    }

    /// The device has a usable certificate: keep it (repairing attachments
    /// and unwritten files) and retire the older ones once the overlap ends.
    fn plan_current(
        &mut self,
        device: &DeviceSpec,
        cert: &LiveCertificate,
        alive: &[&LiveCertificate],
    ) {
        let name = device.name.as_str();
        let now = self.options.now;
        if matches!(device.key, DeviceKey::External { .. })
            && device.renew_at(cert.not_after) <= now
        {
            self.warnings.push(format!(
                "device {name}: certificate {} expires {}, within renew_before {}, and fleetcert cannot \
                 renew it (its key and CSR are not in the spec): add a csr to rotate it",
                short(&cert.id),
                date(cert.not_after),
                device.renew_before
            ));
        }
        self.plan_attachments(device, cert);
        self.plan_unwritten_files(device, cert);
        self.note_deferred_reissue(device, cert);
        if self.delivers_by_job()
            && alive
                .iter()
                .any(|c| c.id != cert.id && c.status == CertStatus::Active)
        {
            self.retire_after_delivery(device, cert, alive);
            return self.repair_inactive(device, cert);
        }
        // Older live certificates: retired once the overlap has passed.
        let overlap_end = cert.created_at + self.spec.lifecycle.rotation_overlap.as_secs() as i64;
        for old in alive
            .iter()
            .filter(|c| c.id != cert.id && c.status == CertStatus::Active)
        {
            if now >= overlap_end {
                let change = self.retirement(
                    name,
                    old,
                    self.spec.lifecycle.retire,
                    RevocationReason::Superseded,
                    Reason::new(
                        ReasonCode::CertificateSuperseded,
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
        self.repair_inactive(device, cert);
    }

    /// Under job delivery: the older ACTIVE certificates retire once the
    /// device confirmed (apply re-checks its report first) or timed out
    /// with `on_timeout: retire`.
    fn retire_after_delivery(
        &mut self,
        device: &DeviceSpec,
        cert: &LiveCertificate,
        alive: &[&LiveCertificate],
    ) {
        let name = device.name.as_str();
        let decision = self.rotation_state(device, cert);
        let (confirm, reason) = match decision {
            super::delivery::RetireDecision::Keep => return,
            super::delivery::RetireDecision::Confirmed { job_id } => (
                Some(Operation::ConfirmDelivery {
                    job_id: job_id.clone(),
                    thing: name.to_string(),
                    certificate_id: cert.id.clone(),
                }),
                Reason::new(
                    ReasonCode::RotationConfirmed,
                    format!(
                        "device {name} confirmed certificate {} (job {job_id} SUCCEEDED)",
                        short(&cert.id)
                    ),
                ),
            ),
            super::delivery::RetireDecision::TimedOut => (
                None,
                Reason::new(
                    ReasonCode::RotationTimedOut,
                    format!(
                        "device {name} did not confirm certificate {} within max_wait {} and on_timeout is retire",
                        short(&cert.id),
                        self.spec.lifecycle.rotation.max_wait
                    ),
                ),
            ),
        };
        for old in alive
            .iter()
            .filter(|c| c.id != cert.id && c.status == CertStatus::Active)
        {
            let mut change = self.retirement(
                name,
                old,
                self.spec.lifecycle.retire,
                RevocationReason::Superseded,
                reason.clone(),
                false,
            );
            if let Some(confirm) = &confirm {
                change.operations.insert(0, confirm.clone());
            }
            self.push(change);
        }
    }

    fn repair_inactive(&mut self, device: &DeviceSpec, cert: &LiveCertificate) {
        let name = device.name.as_str();
        if cert.status == CertStatus::Inactive {
            // The matching certificate was deactivated outside fleetcert.
            self.push(Change {
                address: Address::Certificate(name.to_string()),
                device: Some(name.to_string()),
                action: Action::Update,
                phase: Phase::Devices,
                reason: Reason::new(
                    ReasonCode::CertificateInactive,
                    format!(
                        "certificate {} is INACTIVE but the spec wants device {name} active",
                        short(&cert.id)
                    ),
                ),
                details: vec![field(
                    "status",
                    Some(CertStatus::Inactive.to_string()),
                    Some(CertStatus::Active.to_string()),
                )],
                operations: vec![Operation::SetCertificateStatus {
                    cert: CertRef::Existing {
                        id: cert.id.clone(),
                        arn: cert.arn.clone(),
                    },
                    status: CertStatus::Active,
                }],
            });
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
            address: Address::Certificate(name.to_string()),
            device: Some(name.to_string()),
            action: Action::Update,
            phase: Phase::Devices,
            reason: Reason::new(
                ReasonCode::AttachmentsDiffer,
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
        let (action, reason) = Self::issue_reason(device, newest, forced, now);
        let mut operations = Vec::new();
        if action == Action::RetireThenCreate {
            for old in alive {
                let retire = self.retirement(
                    name,
                    old,
                    Retire::Revoke,
                    RevocationReason::KeyCompromise,
                    reason.clone(),
                    true,
                );
                operations.extend(retire.operations);
            }
        }
        let replaces = newest.map(|c| c.id.as_str());
        let (key, key_sha256, key_text) = self.key_for(device, &mut operations);
        operations.push(Operation::IssueCertificate {
            device: name.to_string(),
            key,
            validity: device.validity,
            signing_algorithm: self.signing_algorithm,
            template: Template::EndEntityClientAuth,
            idempotency_token: IdempotencyToken::device_certificate(
                self.fleet(),
                name,
                replaces,
                key_sha256.as_deref(),
            ),
            replaces: replaces.map(str::to_string),
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
        operations.push(self.write_files(name, !matches!(device.key, DeviceKey::Csr(_))));
        let rotates = action == Action::CreateThenRetire
            && alive.iter().any(|c| c.status == CertStatus::Active);
        if self.delivers_by_job() && rotates {
            self.deliver_new(device, &mut operations);
        }
        let mut details = vec![field("key", None, Some(key_text))];
        // Where the certificate (and a generated key) goes; never its content.
        let destination = self.destination(name);
        if !matches!(destination, Destination::Dir { .. }) {
            details.push(field("bundle", None, Some(destination.to_string())));
        }
        details.extend([
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
        ]);
        if let Some(old) = newest {
            details.insert(0, field("replaces", Some(short(&old.id).to_string()), None));
        }
        self.push(Change {
            address: Address::Certificate(name.to_string()),
            device: Some(name.to_string()),
            action,
            phase: Phase::Devices,
            reason,
            details,
            operations,
        });
    }

    /// Why a device gets a new certificate, and whether the old one goes first.
    fn issue_reason(
        device: &DeviceSpec,
        newest: Option<&LiveCertificate>,
        forced: bool,
        now: i64,
    ) -> (Action, Reason) {
        let name = device.name.as_str();
        match newest {
            None => (
                Action::Create,
                Reason::new(
                    ReasonCode::CertificateMissing,
                    format!("device {name} has no active certificate"),
                ),
            ),
            Some(old) if forced => (
                Action::RetireThenCreate,
                Reason::new(
                    ReasonCode::ReplaceRequested,
                    format!(
                        "--replace {name}: certificate {} is retired and a new one issued",
                        short(&old.id)
                    ),
                ),
            ),
            Some(old) if !Self::key_matches(device, old) => (
                Action::CreateThenRetire,
                Reason::new(
                    ReasonCode::CsrChanged,
                    format!(
                        "the spec's CSR for {name} has a different key than certificate {}",
                        short(&old.id)
                    ),
                ),
            ),
            Some(old) if device.renew_at(old.not_after) <= now => (
                Action::CreateThenRetire,
                Reason::new(
                    ReasonCode::CertificateExpiring,
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
                    ReasonCode::CertificateUnusable,
                    format!("certificate {} cannot be used", short(&old.id)),
                ),
            ),
        }
    }

    /// The key of a new certificate: the spec's CSR, or a generated key
    /// (a new one, or the pending one an interrupted apply left, unless an
    /// existing certificate already holds it). Returns the key source, its
    /// public key digest when known now, and how the plan shows it.
    fn key_for(
        &self,
        device: &DeviceSpec,
        operations: &mut Vec<Operation>,
    ) -> (KeySource, Option<String>, String) {
        let name = device.name.as_str();
        if let DeviceKey::Csr(csr) = &device.key {
            let path = csr.path.display().to_string();
            let text = format!("CSR {path}");
            let source = KeySource::Csr {
                path,
                sha256: csr.sha256.clone(),
                public_key_sha256: crate::pki::cert::spki_sha256(&csr.public_key_der),
                pem: csr.pem.clone(),
            };
            return (source, Some(csr.sha256.clone()), text);
        }
        let pending = self.options.pending_keys.get(name).filter(|sha| {
            !self
                .certificates_of(name)
                .iter()
                .any(|c| &&c.public_key_sha256 == sha)
        });
        let (plan, sha, text) = match pending {
            Some(sha) => (
                KeyPlan::ReusePending {
                    public_key_sha256: sha.clone(),
                },
                Some(sha.clone()),
                format!("reuses the pending key sha256:{}", short(sha)),
            ),
            None => (KeyPlan::New, None, "generated P-256 key".to_string()),
        };
        operations.push(Operation::GenerateKey {
            device: name.to_string(),
            destination: self.destination(name),
            key: plan,
        });
        (KeySource::Generated, sha, text)
    }

    /// The change that takes `cert` out of service: detached and REVOKED (in
    /// PCA first, then IoT, so an IoT REVOKED status proves the PCA step), or
    /// set INACTIVE.
    pub(super) fn retirement(
        &self,
        device: &str,
        cert: &LiveCertificate,
        how: Retire,
        pca_reason: RevocationReason,
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
                    reason: pca_reason,
                });
                operations.push(Operation::SetCertificateStatus {
                    cert: cert_ref.clone(),
                    status: CertStatus::Revoked,
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
                    status: CertStatus::Inactive,
                });
                Action::Deactivate
            }
        };
        Change {
            address: Address::old_certificate(device, &cert.id),
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
                    Some(cert.status.to_string()),
                    Some(
                        if action == Action::Revoke {
                            CertStatus::Revoked
                        } else {
                            CertStatus::Inactive
                        }
                        .to_string(),
                    ),
                ),
            ],
            operations,
        }
    }
}
