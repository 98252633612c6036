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

use foldhash::{HashMap, HashMapExt};

use serde::{Deserialize, Serialize};

use super::index::Index;
use super::{Action, CertRef, Change, Detail, Operation, Phase, Reason};
use crate::live::LiveCertificate;
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

/// One certificate's facts, borrowed: what an entry is written from.
#[derive(Clone, Copy)]
struct FactsRef<'a> {
    id: &'a str,
    serial: &'a str,
    not_before: i64,
    not_after: i64,
    public_key_sha256: &'a str,
    policies: &'a BTreeSet<String>,
}

impl<'a> FactsRef<'a> {
    fn of_facts(facts: &'a CertFacts) -> Self {
        Self {
            id: &facts.id,
            serial: &facts.serial,
            not_before: facts.not_before,
            not_after: facts.not_after,
            public_key_sha256: &facts.public_key_sha256,
            policies: &facts.policies,
        }
    }

    fn of_certificate(cert: &'a LiveCertificate, policies: &'a BTreeSet<String>) -> Self {
        Self {
            id: &cert.id,
            serial: &cert.serial,
            not_before: cert.not_before,
            not_after: cert.not_after,
            public_key_sha256: &cert.public_key_sha256,
            policies,
        }
    }

    fn owned(self) -> CertFacts {
        CertFacts {
            id: self.id.to_string(),
            serial: self.serial.to_string(),
            not_before: self.not_before,
            not_after: self.not_after,
            public_key_sha256: self.public_key_sha256.to_string(),
            policies: self.policies.clone(),
        }
    }
}

/// Write `cert`'s entry to `out`.
fn entry(cert: FactsRef, out: &mut String) {
    use std::fmt::Write;
    let _ = write!(
        out,
        "[{}:{}:{}:{}:{}:",
        cert.id, cert.serial, cert.not_before, cert.not_after, cert.public_key_sha256
    );
    for (i, policy) in cert.policies.iter().enumerate() {
        if i > 0 {
            out.push('/');
        }
        // '+' is not allowed in attribute values; '#' is, and no policy name has it.
        out.extend(policy.chars().map(|c| if c == '+' { '#' } else { c }));
    }
    out.push(']');
}

/// Write the attribute value for `fleet` and `certificates` (in this
/// order) to `value`; those that do not fit in [`MAX_CHARS`] are left out.
fn encode_into<'a>(
    value: &mut String,
    fleet: &str,
    certificates: impl IntoIterator<Item = FactsRef<'a>>,
) {
    value.clear();
    value.push_str(fleet);
    for cert in certificates {
        let fits = value.len();
        entry(cert, value);
        if value.len() > MAX_CHARS {
            value.truncate(fits);
            break;
        }
    }
}

/// The attribute value for `fleet` and these certificates (in this order);
/// certificates that do not fit in [`MAX_CHARS`] are left out.
pub fn encode(fleet: &str, certificates: &[CertFacts]) -> String {
    let mut value = String::new();
    encode_into(
        &mut value,
        fleet,
        certificates.iter().map(FactsRef::of_facts),
    );
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
    /// Attached certificates, by id (a device has a few: a list is enough).
    attached: Vec<&'a LiveCertificate>,
    policies: BTreeMap<&'a str, BTreeSet<String>>,
    issued: Option<BTreeSet<String>>,
}

impl<'a> Outcome<'a> {
    fn apply(&mut self, device: &str, operation: &Operation, certs: &[&'a LiveCertificate]) {
        let existing = |cert: &CertRef| match cert {
            CertRef::Existing { id, .. } => certs.iter().find(|c| &c.id == id).copied(),
            CertRef::Issued => None,
        };
        match operation {
            Operation::AttachThing { thing, cert } if thing == device => match cert {
                CertRef::Issued => {
                    self.issued.get_or_insert_with(BTreeSet::new);
                }
                CertRef::Existing { .. } => {
                    if let Some(c) = existing(cert) {
                        self.attach(c);
                    }
                }
            },
            Operation::DetachThing { thing, cert } if thing == device => {
                if let Some(c) = existing(cert) {
                    self.attached.retain(|a| a.id != c.id);
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
                    self.attached.retain(|a| a.id != c.id);
                }
            }
            Operation::DeleteCertificate { cert } => {
                if let Some(c) = existing(cert) {
                    self.attached.retain(|a| a.id != c.id);
                }
            }
            _ => {}
        }
    }

    fn attach(&mut self, cert: &'a LiveCertificate) {
        if !self.attached.iter().any(|a| a.id == cert.id) {
            self.attached.push(cert);
        }
    }

    /// The attached certificates' facts, newest first: when the value is
    /// full, the oldest are left out.
    fn facts(&mut self) -> impl Iterator<Item = FactsRef<'_>> {
        self.attached.sort_by(|a, b| {
            (b.created_at, b.not_before, &b.id).cmp(&(a.created_at, a.not_before, &a.id))
        });
        self.attached.iter().map(|c| {
            let policies = self.policies.get(c.id.as_str()).unwrap_or(&c.policies);
            FactsRef::of_certificate(c, policies)
        })
    }
}

/// Add `RecordFacts` operations to `changes` (sorted by phase) wherever a
/// device's record after the plan differs from the one its thing carries.
pub fn record(spec: &Spec, index: &Index, changes: &mut Vec<Change>) {
    let fleet = spec.fleet.as_str();
    let mut changes_of: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, change) in changes.iter().enumerate() {
        if let Some(device) = change.device.as_deref()
            && change.phase != Phase::Cleanup
            && index.wanted(device)
        {
            changes_of.entry(device).or_default().push(i);
        }
    }
    let mut appended: Vec<(usize, Operation)> = Vec::new();
    let mut added: Vec<Change> = Vec::new();
    // One buffer for every device's value: most devices need no record.
    let mut value = String::new();
    for device in index.devices() {
        let name = device.spec.name.as_str();
        let owned = device
            .thing
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
        let certs = index.certificates_of(name);
        let mut outcome = Outcome::default();
        for cert in certs {
            if cert.status != "REVOKED" && cert.things.contains(name) {
                outcome.attach(cert);
            }
        }
        for &i in indices {
            for operation in &changes[i].operations {
                outcome.apply(name, operation, certs);
            }
        }
        let now = if creates_thing { fleet } else { device.marker };
        let issued = outcome.issued.take();
        encode_into(&mut value, fleet, outcome.facts());
        if issued.is_none() && value == now {
            continue;
        }
        let record = Record {
            thing: name.to_string(),
            issued_policies: issued,
            certificates: outcome.facts().map(FactsRef::owned).collect(),
        };
        let operation = Operation::RecordFacts(record);
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
                    before: Some(now.to_string()),
                    after: Some(value.clone()),
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
