//! Desired (spec) x live -> changes. Pure: no I/O, no clock; `now` is an input.

mod bundles;
mod ca;
mod certificates;
mod delivery;
mod departed;
mod devices;
mod policies;

use std::collections::{BTreeMap, BTreeSet, HashSet};

use super::index::Index;
use super::{Change, Detail, Plan, PlanCa, ReasonCode, Slot};
use crate::live::{LiveCertificate, LiveState};
use crate::spec::types::Named;
use crate::spec::{CaSpec, SigningAlgorithm, Spec};

pub(super) use crate::dates::minute as date;
pub(super) use crate::plan::short_id as short;
pub use delivery::{DeviceRotation, Stage};

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
        signing_algorithm: signing_algorithm(spec, live),
        deliveries: delivery::Deliveries::default(),
    };
    for thing in &live.unreadable_records {
        planner.warnings.push(format!(
            "thing {thing}: its fleetcert record has a format this fleetcert cannot read, so its certificates \
             were read in full; apply writes the record anew"
        ));
    }
    planner.plan_ca();
    planner.plan_ca_registration();
    planner.plan_thing_types();
    planner.plan_policies();
    let lock_thing = crate::lock::thing_name(&spec.fleet);
    for device in index.devices() {
        if device.spec.name == lock_thing {
            planner.errors.push(PlanError::ReservedName {
                device: device.spec.name.clone(),
            });
            continue;
        }
        planner.plan_device(device.spec, device.thing);
    }
    planner.plan_delivery_jobs();
    planner.plan_finished_jobs();
    planner.plan_departed_devices();
    planner.plan_departed_policies();
    if !planner.errors.is_empty() {
        return Err(planner.errors);
    }
    let Planner {
        mut changes,
        warnings,
        deliveries,
        ..
    } = planner;
    // Stable: within a phase, the order the planner chose stays.
    changes.sort_by_key(|c| c.phase);
    super::record::record(spec, &index, &mut changes);
    let guard = guard(spec, live, &index, &changes);
    let policy_reviews = super::review::reviews(spec, live, &changes);
    Ok(Plan {
        fleet: spec.fleet.clone(),
        at: options.now,
        ca: plan_ca(live),
        changes,
        warnings,
        max_destructive_changes: spec.lifecycle.max_destructive_changes,
        guard,
        policy_reviews,
        rotation: deliveries.devices,
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
        .any(|c| c.action.is_destructive() && c.reason.code == ReasonCode::DeviceRemoved);
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
                .filter(|c| c.status.is_alive())
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

/// The fleet CA as the plan's operations take it: what the live state holds,
/// or what the plan's CA phase produces.
fn plan_ca(live: &LiveState) -> PlanCa {
    let known = |value: Option<&String>| value.map_or(Slot::Produced, |v| Slot::Known(v.clone()));
    let ca = live.ca.as_ref();
    PlanCa {
        arn: known(ca.map(|ca| &ca.arn)),
        certificate: known(ca.and_then(|ca| ca.certificate_pem.as_ref())),
    }
}

/// The algorithm every certificate is signed with: the CA's own (PCA
/// requires one of the CA key's family), else the spec's; an adopted CA is
/// EC_prime256v1 (checked in plan_ca), whose default is SHA256WITHECDSA.
fn signing_algorithm(spec: &Spec, live: &LiveState) -> SigningAlgorithm {
    let live = live
        .ca
        .as_ref()
        .and_then(|ca| SigningAlgorithm::parse_named(&ca.signing_algorithm));
    let wanted = match &spec.ca {
        CaSpec::Create {
            signing_algorithm, ..
        } => Some(*signing_algorithm),
        CaSpec::Adopt { .. } => None,
    };
    live.or(wanted).unwrap_or_default()
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
    signing_algorithm: SigningAlgorithm,
    /// Rotations under job delivery: progress by device, and deliveries
    /// waiting for the delivery phase.
    deliveries: delivery::Deliveries,
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
}
