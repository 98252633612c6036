//! Lookups the planner makes once per device, built once per plan. With
//! 100,000 devices a search tree keyed by name costs a dozen string
//! comparisons per lookup. Things and records are keyed by name like the
//! spec's devices, so one merge of the sorted maps pairs them all; the
//! certificates (keyed by id) are grouped by hashing (foldhash: fast, and the
//! keys are the user's own names). Nothing here is iterated for output, so
//! no hash order reaches a plan.

use foldhash::{HashMap, HashMapExt, HashSet};

use crate::live::{LiveCertificate, LiveState, LiveThing};
use crate::spec::{DeviceSpec, Spec};

/// The live state and the spec's device names, indexed by device.
pub struct Index<'a> {
    /// Certificates by subject CN, each device's oldest first.
    by_device: HashMap<&'a str, Vec<&'a LiveCertificate>>,
    /// Each spec device (in `spec.devices` order) with its thing and record.
    devices: Vec<Device<'a>>,
    wanted: HashSet<&'a str>,
}

impl<'a> Index<'a> {
    pub fn new(spec: &'a Spec, live: &'a LiveState) -> Self {
        let mut by_device: HashMap<&str, Vec<&LiveCertificate>> =
            HashMap::with_capacity(live.certificates.len());
        for cert in live.certificates.values() {
            if let Some(cn) = cert.subject_cn.as_deref() {
                by_device.entry(cn).or_default().push(cert);
            }
        }
        for certs in by_device.values_mut().filter(|certs| certs.len() > 1) {
            certs.sort_by(|a, b| {
                (a.created_at, a.not_before, &a.id).cmp(&(b.created_at, b.not_before, &b.id))
            });
        }
        Self {
            by_device,
            devices: devices(spec, live),
            wanted: spec.devices.keys().map(String::as_str).collect(),
        }
    }

    /// The certificates whose subject CN is `device`, oldest first (as
    /// `LiveState::certificates_of`).
    pub fn certificates_of(&self, device: &str) -> &[&'a LiveCertificate] {
        self.by_device
            .get(device)
            .map(Vec::as_slice)
            .unwrap_or_default()
    }

    /// The spec's devices in order, each with its live thing and record.
    pub fn devices(&self) -> &[Device<'a>] {
        &self.devices
    }

    /// Is `device` in the spec?
    pub fn wanted(&self, device: &str) -> bool {
        self.wanted.contains(device)
    }
}

/// A spec device and what the live state holds under its name.
#[derive(Clone, Copy)]
pub struct Device<'a> {
    pub spec: &'a DeviceSpec,
    pub thing: Option<&'a LiveThing>,
    /// The thing's `fleetcert` attribute ("" when it has none).
    pub marker: &'a str,
}

/// Pair each spec device with its thing and record: the three maps are
/// sorted by the same name, so one forward walk of each finds them all.
fn devices<'a>(spec: &'a Spec, live: &'a LiveState) -> Vec<Device<'a>> {
    let mut things = live.things.iter().peekable();
    let mut markers = live.markers.iter().peekable();
    spec.devices
        .iter()
        .map(|(name, device)| {
            while things.next_if(|(k, _)| *k < name).is_some() {}
            while markers.next_if(|(k, _)| *k < name).is_some() {}
            Device {
                spec: device,
                thing: things.next_if(|(k, _)| *k == name).map(|(_, t)| t),
                marker: markers
                    .next_if(|(k, _)| *k == name)
                    .map(|(_, m)| m.as_str())
                    .unwrap_or_default(),
            }
        })
        .collect()
}
