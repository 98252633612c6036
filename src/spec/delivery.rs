//! Devices under `delivery: job` that could never confirm a rotation: their
//! policies do not let them take their own jobs (analysis/access.rs).

use std::collections::{BTreeMap, BTreeSet};

use super::{Delivery, DeviceKey, SourceLocation, Spec};
use crate::analysis::Statement;
use crate::analysis::access::statements_let_take_jobs;

/// A device that cannot take its rotation job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Undeliverable {
    pub device: String,
    pub source: SourceLocation,
    /// What it may not do, e.g. `subscribe to $aws/things/d/jobs/notify-next`.
    pub missing: String,
}

/// Every device that rotates by job and cannot take one, by name. A device
/// with an external certificate is never rotated, so never listed.
pub fn undeliverable(spec: &Spec) -> Vec<Undeliverable> {
    if spec.lifecycle.rotation.delivery != Delivery::Job {
        return Vec::new();
    }
    // Statements are read once per policy set, however many devices share it.
    let mut by_set: BTreeMap<&BTreeSet<String>, Vec<Statement>> = BTreeMap::new();
    let mut out = Vec::new();
    for device in spec.devices.values() {
        if matches!(device.key, DeviceKey::External { .. }) {
            continue;
        }
        let statements = by_set.entry(&device.policies).or_insert_with(|| {
            device
                .policies
                .iter()
                .filter_map(|name| spec.policies.get(name))
                .flat_map(|p| Statement::all(&p.document))
                .collect()
        });
        if let Err(missing) = statements_let_take_jobs(statements, &device.name) {
            out.push(Undeliverable {
                device: device.name.clone(),
                source: device.source.clone(),
                missing,
            });
        }
    }
    out
}

/// The refusal (or warning) `validate`, `plan` and `apply` print: the first
/// devices by name and how many in all.
pub fn describe(devices: &[Undeliverable]) -> String {
    const SHOWN: usize = 5;
    let mut text = format!(
        "{} under `lifecycle.rotation.delivery: job` cannot take {} rotation job, so {} never confirm and {} old \
         certificate never retires:",
        if devices.len() == 1 {
            "1 device".to_string()
        } else {
            format!("{} devices", devices.len())
        },
        if devices.len() == 1 { "its" } else { "their" },
        if devices.len() == 1 {
            "it would"
        } else {
            "they would"
        },
        if devices.len() == 1 { "its" } else { "their" },
    );
    for d in devices.iter().take(SHOWN) {
        text.push_str(&format!(
            "\n  device {} ({}): its policies do not let it {}",
            d.device, d.source, d.missing
        ));
    }
    if devices.len() > SHOWN {
        text.push_str(&format!("\n  ... and {} more", devices.len() - SHOWN));
    }
    text.push_str(
        "\nhint: grant the jobs topics as AWS's basic job policy example does \
         (https://docs.aws.amazon.com/iot/latest/developerguide/basic-jobs-example.html): iot:Publish and iot:Receive \
         on topic/$aws/things/${iot:Connection.Thing.ThingName}/jobs/*, iot:Subscribe on \
         topicfilter/$aws/things/${iot:Connection.Thing.ThingName}/jobs/*; or pass --allow-undeliverable to warn instead",
    );
    text
}
