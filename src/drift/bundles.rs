//! Device bundles in a secret store that drift from the devices' ACTIVE
//! certificates, where the plan cannot write them again.

use super::{DriftItem, DriftKind};
use crate::live::{CertStatus, LiveState};
use crate::plan::{Address, Plan, short_id as short};
use crate::spec::Spec;

/// Devices whose bundle in the secret store is missing or holds another
/// certificate than their ACTIVE one, where the plan cannot write it again
/// (a generated key that is no longer pending: only `apply --replace`
/// issues the device a new certificate and key).
pub(super) fn bundle_drift(spec: &Spec, live: &LiveState, plan: &Plan) -> Vec<DriftItem> {
    if spec.output.dir().is_some() {
        return Vec::new();
    }
    let mut items = Vec::new();
    for name in spec.devices.keys() {
        let address = Address::Files(name.clone());
        if plan.changes.iter().any(|c| c.address == address) {
            continue;
        }
        let Some(active) = live
            .certificates_of(name)
            .filter(|c| c.status == CertStatus::Active)
            .last()
        else {
            continue;
        };
        let bundle = live.bundles.get(name).filter(|b| !b.deleted);
        let held = bundle.and_then(|b| b.certificate_id.as_deref());
        if held == Some(active.id.as_str())
            || bundle.and_then(|b| b.pending_key_sha256.as_deref())
                == Some(active.public_key_sha256.as_str())
        {
            continue;
        }
        let (code, what) = match held {
            Some(other) => (
                "bundle_outdated",
                format!("holds certificate {}", short(other)),
            ),
            None => ("bundle_missing", "is missing".to_string()),
        };
        items.push(DriftItem {
            kind: DriftKind::ChangedOutside,
            code: code.to_string(),
            text: format!(
                "the bundle of device {name} in {} {what}, not its ACTIVE certificate {}; \
                 `apply --replace {name}` issues a new certificate and key",
                bundle_place(spec, name),
                short(&active.id)
            ),
            address,
            apply_would: vec![],
            details: vec![],
        });
    }
    items
}

/// Where a device's bundle is kept, in words.
fn bundle_place(spec: &Spec, device: &str) -> String {
    match &spec.output {
        crate::spec::Output::Ssm { .. } => {
            format!(
                "SSM parameter {}",
                crate::spec::parameter_name(&spec.fleet, device)
            )
        }
        _ => format!(
            "Secrets Manager secret {}",
            crate::spec::secret_name(&spec.fleet, device)
        ),
    }
}
