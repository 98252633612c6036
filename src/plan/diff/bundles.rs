//! A device's bundle: written where the spec's `output` says (a
//! directory, Secrets Manager, SSM), written again when an interrupted apply
//! left it unwritten or a secret store holds another certificate.

use super::{Planner, field, short};
use crate::live::LiveCertificate;
use crate::plan::{Action, Address, Change, Destination, Operation, Phase, Reason, ReasonCode};
use crate::spec::{DeviceKey, DeviceSpec, Output};

impl Planner<'_> {
    /// A pending key that belongs to the current certificate: an apply was
    /// interrupted after registering it and before writing the device's
    /// files. Write them now, or the key would never be promoted.
    pub(super) fn plan_unwritten_files(&mut self, device: &DeviceSpec, cert: &LiveCertificate) {
        let name = device.name.as_str();
        let generated = matches!(device.key, DeviceKey::Generated);
        let text =
            if generated && self.options.pending_keys.get(name) == Some(&cert.public_key_sha256) {
                format!(
                    "certificate {} holds the key waiting in {}, but the device's bundle \
                 was never written (an apply was interrupted)",
                    short(&cert.id),
                    match self.destination(name) {
                        Destination::Dir { .. } => format!("{name}/pending-key.pem"),
                        store => store.to_string(),
                    }
                )
            } else if let Some(text) = self.outdated_bundle(name, generated, cert) {
                text
            } else {
                return;
            };
        self.push(Change {
            address: Address::Files(name.to_string()),
            device: Some(name.to_string()),
            action: Action::Create,
            phase: Phase::Devices,
            reason: Reason::new(ReasonCode::FilesNotWritten, text),
            details: vec![field(
                "certificate",
                None,
                Some(short(&cert.id).to_string()),
            )],
            operations: vec![
                Operation::LoadCertificate {
                    id: cert.id.clone(),
                    arn: cert.arn.clone(),
                },
                self.write_files(name, generated),
            ],
        });
    }

    /// Why a device's bundle in a secret store must be written again: it
    /// is missing or holds another certificate than `cert`. Only a device
    /// whose key is its own can be given a new bundle; for a generated key
    /// that is not pending any more, the plan warns.
    fn outdated_bundle(
        &mut self,
        name: &str,
        generated: bool,
        cert: &LiveCertificate,
    ) -> Option<String> {
        let destination = self.destination(name);
        if matches!(destination, Destination::Dir { .. }) {
            return None;
        }
        let held = self.live.bundles.get(name);
        let held_id = held
            .filter(|b| !b.deleted)
            .and_then(|b| b.certificate_id.as_deref());
        if held_id == Some(cert.id.as_str()) {
            return None;
        }
        let what = match held_id {
            Some(other) => format!("holds certificate {}", short(other)),
            None => "is missing".to_string(),
        };
        if generated {
            self.warnings.push(format!(
                "device {name}: its bundle in {destination} {what}, not its certificate {}, \
                 whose generated key is no longer pending; `apply --replace {name}` issues a new one",
                short(&cert.id)
            ));
            return None;
        }
        Some(format!(
            "the device's bundle in {destination} {what}, not its certificate {}",
            short(&cert.id)
        ))
    }

    pub(super) fn write_files(&self, device: &str, generated_key: bool) -> Operation {
        Operation::WriteDeviceFiles {
            device: device.to_string(),
            destination: self.destination(device),
            generated_key,
        }
    }

    /// Where `device`'s bundle goes.
    pub(super) fn destination(&self, device: &str) -> Destination {
        match &self.spec.output {
            Output::Dir { path } => Destination::Dir { dir: path.clone() },
            Output::SecretsManager { kms_key_id, .. } => Destination::SecretsManager {
                name: crate::spec::secret_name(self.fleet(), device),
                kms_key_id: kms_key_id.clone(),
            },
            Output::Ssm { kms_key_id } => Destination::Ssm {
                name: crate::spec::parameter_name(self.fleet(), device),
                kms_key_id: kms_key_id.clone(),
            },
        }
    }
}
