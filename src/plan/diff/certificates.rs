//! A device's certificate: kept (with its attachments and unwritten files),
//! issued anew, or retired once superseded.

use super::{PlanError, Planner, date, field, short};
use crate::live::LiveCertificate;
use crate::plan::{Action, CertRef, Change, KeySource, Operation, Phase, Reason};
use crate::spec::{DeviceKey, DeviceSpec, Retire};

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
    pub(super) fn retirement(
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
}
