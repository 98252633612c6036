//! The facts fleetcert records on each thing it manages, in the one thing
//! attribute it reserves (`fleetcert`), so that a plan can read them from
//! ListThings (250 things a page) instead of three calls per certificate.
//!
//! The value is the fleet's name, then one entry per certificate attached to
//! the thing (newest first):
//!
//! ```text
//! factory-a[<certificate id>:<serial>:<not before>:<not after>:<key sha256>:<policy>/<policy>]...
//! ```
//!
//! Everything but the attachments is immutable for a certificate id (the id
//! is the SHA-256 of the certificate's DER), so those facts can never be
//! wrong; the attachments are what fleetcert left after its last apply, which
//! the default read mode trusts and `--refresh=full` verifies. AWS IoT allows
//! attribute values of at most 800 characters from `[a-zA-Z0-9_.,@/:#=\[\]-]`
//! (DESIGN.md section 5): policy names may contain `+`, written as `#`; entries
//! that do not fit are left out (their certificates are then read one by one).
//!
//! [`record`] is the planner's part: after the plan is made, it works out
//! what each device's record will be once the plan has been carried out and,
//! where that differs from what the thing carries now, adds a `RecordFacts`
//! operation (after the device's last change, so it is written only when
//! everything before it succeeded).

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::{Action, CertRef, Change, Detail, Operation, Phase, Reason};
use crate::live::{LiveCertificate, LiveState};
use crate::spec::Spec;

/// AWS IoT's limit on an attribute value.
pub const MAX_CHARS: usize = 800;

/// What fleetcert knows about one certificate attached to a thing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CertFacts {
    pub id: String,
    pub serial: String,
    pub not_before: i64,
    pub not_after: i64,
    pub public_key_sha256: String,
    /// The policies attached to the certificate.
    pub policies: BTreeSet<String>,
}

impl CertFacts {
    pub fn of(cert: &LiveCertificate) -> Self {
        Self {
            id: cert.id.clone(),
            serial: cert.serial.clone(),
            not_before: cert.not_before,
            not_after: cert.not_after,
            public_key_sha256: cert.public_key_sha256.clone(),
            policies: cert.policies.clone(),
        }
    }
}

/// A decoded `fleetcert` attribute.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Marker {
    /// The owning fleet.
    pub fleet: String,
    /// Certificates attached to the thing when fleetcert last recorded it.
    pub certificates: Vec<CertFacts>,
}

/// The fleet part of a `fleetcert` attribute value.
pub fn fleet_of(value: &str) -> &str {
    value.split('[').next().unwrap_or("")
}

fn entry(cert: &CertFacts) -> String {
    let policies: Vec<String> = cert.policies.iter().map(|p| p.replace('+', "#")).collect();
    format!(
        "[{}:{}:{}:{}:{}:{}]",
        cert.id,
        cert.serial,
        cert.not_before,
        cert.not_after,
        cert.public_key_sha256,
        policies.join("/")
    )
}

/// The attribute value for `fleet` and these certificates (in this order);
/// certificates that do not fit in [`MAX_CHARS`] are left out.
pub fn encode(fleet: &str, certificates: &[CertFacts]) -> String {
    let mut value = fleet.to_string();
    for cert in certificates {
        let entry = entry(cert);
        if value.len() + entry.len() > MAX_CHARS {
            break;
        }
        value.push_str(&entry);
    }
    value
}

fn hex(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Read an attribute value; entries that do not parse are ignored (their
/// certificates are then read one by one).
pub fn decode(value: &str) -> Marker {
    let fleet = fleet_of(value).to_string();
    let mut certificates = Vec::new();
    for raw in value[fleet.len()..].split('[').skip(1) {
        let Some(body) = raw.strip_suffix(']') else {
            continue;
        };
        let fields: Vec<&str> = body.split(':').collect();
        let [id, serial, not_before, not_after, key, policies] = fields.as_slice() else {
            continue;
        };
        let (Ok(not_before), Ok(not_after)) = (not_before.parse(), not_after.parse()) else {
            continue;
        };
        if id.len() != 64 || !hex(id) || !hex(serial) || key.len() != 64 || !hex(key) {
            continue;
        }
        certificates.push(CertFacts {
            id: id.to_string(),
            serial: serial.to_string(),
            not_before,
            not_after,
            public_key_sha256: key.to_string(),
            policies: policies
                .split('/')
                .filter(|p| !p.is_empty())
                .map(|p| p.replace('#', "+"))
                .collect(),
        });
    }
    Marker {
        fleet,
        certificates,
    }
}

/// The `RecordFacts` operation's content: the certificates attached to the
/// thing after the plan, known ones as facts and, first, the one issued
/// earlier in the same change (its facts come from the certificate itself).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    pub thing: String,
    /// Policies of the certificate issued in this change, when there is one.
    pub issued_policies: Option<BTreeSet<String>>,
    pub certificates: Vec<CertFacts>,
}

impl Record {
    /// The attribute value, given the issued certificate's facts.
    pub fn value(&self, fleet: &str, issued: Option<CertFacts>) -> String {
        let all: Vec<CertFacts> = issued
            .into_iter()
            .chain(self.certificates.iter().cloned())
            .collect();
        encode(fleet, &all)
    }
}

/// A device's certificates as the plan will leave them.
#[derive(Default)]
struct Outcome<'a> {
    attached: BTreeMap<&'a str, &'a LiveCertificate>,
    policies: BTreeMap<&'a str, BTreeSet<String>>,
    issued: Option<BTreeSet<String>>,
}

impl<'a> Outcome<'a> {
    fn apply(
        &mut self,
        device: &str,
        operation: &Operation,
        certs: &BTreeMap<&str, &'a LiveCertificate>,
    ) {
        let existing = |cert: &CertRef| match cert {
            CertRef::Existing { id, .. } => certs.get(id.as_str()).copied(),
            CertRef::Issued => None,
        };
        match operation {
            Operation::AttachThing { thing, cert } if thing == device => match cert {
                CertRef::Issued => {
                    self.issued.get_or_insert_with(BTreeSet::new);
                }
                CertRef::Existing { .. } => {
                    if let Some(c) = existing(cert) {
                        self.attached.insert(c.id.as_str(), c);
                    }
                }
            },
            Operation::DetachThing { thing, cert } if thing == device => {
                if let Some(c) = existing(cert) {
                    self.attached.remove(c.id.as_str());
                }
            }
            Operation::AttachPolicy { policy, cert } => match cert {
                CertRef::Issued => {
                    self.issued
                        .get_or_insert_with(BTreeSet::new)
                        .insert(policy.clone());
                }
                CertRef::Existing { .. } => {
                    if let Some(c) = existing(cert) {
                        self.policies
                            .entry(c.id.as_str())
                            .or_insert_with(|| c.policies.clone())
                            .insert(policy.clone());
                    }
                }
            },
            Operation::DetachPolicy { policy, cert } => {
                if let Some(c) = existing(cert) {
                    self.policies
                        .entry(c.id.as_str())
                        .or_insert_with(|| c.policies.clone())
                        .remove(policy);
                }
            }
            Operation::SetCertificateStatus { cert, status } if status == "REVOKED" => {
                if let Some(c) = existing(cert) {
                    self.attached.remove(c.id.as_str());
                }
            }
            Operation::DeleteCertificate { cert } => {
                if let Some(c) = existing(cert) {
                    self.attached.remove(c.id.as_str());
                }
            }
            _ => {}
        }
    }

    fn facts(&self) -> Vec<CertFacts> {
        let mut certs: Vec<&&LiveCertificate> = self.attached.values().collect();
        // Newest first: when the value is full, the oldest are left out.
        certs.sort_by(|a, b| {
            (b.created_at, b.not_before, &b.id).cmp(&(a.created_at, a.not_before, &a.id))
        });
        certs
            .into_iter()
            .map(|c| {
                let mut facts = CertFacts::of(c);
                if let Some(policies) = self.policies.get(c.id.as_str()) {
                    facts.policies = policies.clone();
                }
                facts
            })
            .collect()
    }
}

/// Add `RecordFacts` operations to `changes` (sorted by phase) wherever a
/// device's record after the plan differs from the one its thing carries.
pub fn record(spec: &Spec, live: &LiveState, changes: &mut Vec<Change>) {
    let fleet = spec.fleet.as_str();
    let mut certs_of: BTreeMap<&str, BTreeMap<&str, &LiveCertificate>> = BTreeMap::new();
    for cert in live.certificates.values() {
        if let Some(cn) = cert.subject_cn.as_deref() {
            certs_of
                .entry(cn)
                .or_default()
                .insert(cert.id.as_str(), cert);
        }
    }
    let mut changes_of: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (index, change) in changes.iter().enumerate() {
        if let Some(device) = change.device.as_deref()
            && change.phase != Phase::Cleanup
            && spec.devices.contains_key(device)
        {
            changes_of.entry(device).or_default().push(index);
        }
    }
    let empty = BTreeMap::new();
    let mut appended: Vec<(usize, Operation)> = Vec::new();
    let mut added: Vec<Change> = Vec::new();
    for device in spec.devices.keys() {
        let name = device.as_str();
        let owned = live
            .things
            .get(name)
            .is_some_and(|t| t.owner.as_deref() == Some(fleet));
        let indices = changes_of.get(name).map(Vec::as_slice).unwrap_or(&[]);
        let creates_thing = indices.iter().any(|&i| {
            changes[i]
                .operations
                .iter()
                .any(|op| matches!(op, Operation::CreateThing { name: n, .. } if n == name))
        });
        // A thing the plan adopts is the fleet's from then on.
        let adopts_thing = indices.iter().any(|&i| {
            changes[i].action == Action::Adopt
                && changes[i].address == format!("device.{name}.thing")
        });
        if !owned && !creates_thing && !adopts_thing {
            continue;
        }
        let certs = certs_of.get(name).unwrap_or(&empty);
        let mut outcome = Outcome::default();
        for cert in certs.values() {
            if cert.status != "REVOKED" && cert.things.contains(name) {
                outcome.attached.insert(cert.id.as_str(), cert);
            }
        }
        for &i in indices {
            for operation in &changes[i].operations {
                outcome.apply(name, operation, certs);
            }
        }
        let record = Record {
            thing: name.to_string(),
            issued_policies: outcome.issued.clone(),
            certificates: outcome.facts(),
        };
        let now = if creates_thing {
            fleet.to_string()
        } else {
            live.markers.get(name).cloned().unwrap_or_default()
        };
        if record.issued_policies.is_none() && record.value(fleet, None) == now {
            continue;
        }
        let operation = Operation::RecordFacts(record.clone());
        match indices.last() {
            Some(&last) => appended.push((last, operation)),
            None => added.push(Change {
                address: format!("device.{name}.thing"),
                device: Some(name.to_string()),
                action: Action::Update,
                phase: Phase::Devices,
                reason: Reason::new(
                    "record_outdated",
                    format!(
                        "the certificate facts fleetcert keeps on thing {name} (its `fleetcert` attribute) are out of date"
                    ),
                ),
                details: vec![Detail::Field {
                    name: "fleetcert".to_string(),
                    before: Some(now),
                    after: Some(record.value(fleet, None)),
                }],
                operations: vec![operation],
            }),
        }
    }
    for (index, operation) in appended {
        changes[index].operations.push(operation);
    }
    if !added.is_empty() {
        changes.extend(added);
        // Stable: the order within each phase stays.
        changes.sort_by_key(|c| c.phase);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(id: char, policies: &[&str]) -> CertFacts {
        CertFacts {
            id: id.to_string().repeat(64),
            serial: "0a1b2c".into(),
            not_before: 1_700_000_000,
            not_after: 1_731_536_000,
            public_key_sha256: "e".repeat(64),
            policies: policies.iter().map(|p| p.to_string()).collect(),
        }
    }

    #[test]
    fn a_record_round_trips_and_uses_only_allowed_characters() {
        let certs = vec![facts('a', &["telemetry", "ota+v2,x=y"]), facts('b', &[])];
        let value = encode("factory-a", &certs);
        assert!(value.len() <= MAX_CHARS);
        assert!(
            value
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "_.,@/:#=[]-".contains(c)),
            "{value}"
        );
        let marker = decode(&value);
        assert_eq!(marker.fleet, "factory-a");
        assert_eq!(marker.certificates, certs);
        assert_eq!(fleet_of(&value), "factory-a");
    }

    #[test]
    fn a_plain_fleet_name_is_a_record_without_certificates() {
        let marker = decode("factory-a");
        assert_eq!(marker.fleet, "factory-a");
        assert!(marker.certificates.is_empty());
    }

    #[test]
    fn entries_that_do_not_fit_are_left_out_and_bad_ones_ignored() {
        let many: Vec<CertFacts> = "abcdef".chars().map(|c| facts(c, &["p"])).collect();
        let value = encode("f", &many);
        assert!(value.len() <= MAX_CHARS);
        let decoded = decode(&value).certificates;
        assert!(decoded.len() >= 3 && decoded.len() < many.len());
        assert_eq!(decoded[..], many[..decoded.len()]);
        let broken = format!("f[zz:1:2:3:4:p]{}", &value[1..]);
        assert_eq!(decode(&broken).certificates, decoded);
    }
}
