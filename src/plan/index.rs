//! Lookups the planner makes once per device, built once per plan. With
//! 100,000 devices a search tree keyed by name costs a dozen string
//! comparisons per lookup; hashing (foldhash: fast, and the keys are the
//! user's own names) is one. Nothing here is iterated for output, so no
//! hash order reaches a plan.

use foldhash::{HashMap, HashMapExt, HashSet};

use crate::live::{LiveCertificate, LiveState, LiveThing};
use crate::spec::Spec;

/// The live state and the spec's device names, indexed by device.
pub struct Index<'a> {
    /// Certificates by subject CN, each device's oldest first.
    by_device: HashMap<&'a str, Vec<&'a LiveCertificate>>,
    things: HashMap<&'a str, &'a LiveThing>,
    markers: HashMap<&'a str, &'a str>,
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
            things: live.things.iter().map(|(k, v)| (k.as_str(), v)).collect(),
            markers: live
                .markers
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect(),
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

    pub fn thing(&self, name: &str) -> Option<&'a LiveThing> {
        self.things.get(name).copied()
    }

    /// The thing's `fleetcert` attribute ("" when it has none).
    pub fn marker(&self, name: &str) -> &'a str {
        self.markers.get(name).copied().unwrap_or_default()
    }

    /// Is `device` in the spec?
    pub fn wanted(&self, device: &str) -> bool {
        self.wanted.contains(device)
    }
}
