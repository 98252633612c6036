//! The facts fleetcert records on each thing it manages, in the one thing
//! attribute it reserves (`fleetcert`), so that a plan can read them from
//! ListThings (250 things a page) instead of three calls per certificate.
//! This module owns the format; the planner decides what to record
//! (plan/record.rs), apply writes it, and [`merge`] turns the listed
//! certificates and the records back into live certificates.
//!
//! The value is the fleet's name alone (a thing with nothing recorded yet),
//! or the fleet's name, the format version and one entry per certificate
//! attached to the thing (newest first):
//!
//! ```text
//! factory-a
//! factory-a:1[<certificate id>:<serial>:<not before>:<not after>:<key sha256>:<policy>/<policy>]...
//! ```
//!
//! Everything but the attachments is immutable for a certificate id (the id
//! is the SHA-256 of the certificate's DER), so those facts can never be
//! wrong; the attachments are what fleetcert left after its last apply, which
//! the default read mode trusts and `--refresh=full` verifies. AWS IoT allows
//! attribute values of at most 800 characters from `[a-zA-Z0-9_.,@/:#=\[\]-]`
//! (DESIGN.md section 5): policy names may contain `+`, written as `#`; entries
//! that do not fit are left out (their certificates are then read one by one).
//! A record this build cannot read (another version, a damaged entry) is
//! never half-trusted: every certificate of that thing is read in full, and
//! the plan says so.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::live::{CertStatus, LiveCertificate};

/// The record format this build writes and reads.
pub const VERSION: &str = "1";

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
    /// False when the record has another format version or a damaged
    /// entry: none of it is to be trusted.
    pub readable: bool,
}

/// The fleet part of a `fleetcert` attribute value.
pub fn fleet_of(value: &str) -> &str {
    value.split([':', '[']).next().unwrap_or("")
}

/// One certificate's facts, borrowed: what an entry is written from.
#[derive(Clone, Copy)]
pub struct FactsRef<'a> {
    id: &'a str,
    serial: &'a str,
    not_before: i64,
    not_after: i64,
    public_key_sha256: &'a str,
    policies: &'a BTreeSet<String>,
}

impl<'a> FactsRef<'a> {
    pub fn of_facts(facts: &'a CertFacts) -> Self {
        Self {
            id: &facts.id,
            serial: &facts.serial,
            not_before: facts.not_before,
            not_after: facts.not_after,
            public_key_sha256: &facts.public_key_sha256,
            policies: &facts.policies,
        }
    }

    pub fn of_certificate(cert: &'a LiveCertificate, policies: &'a BTreeSet<String>) -> Self {
        Self {
            id: &cert.id,
            serial: &cert.serial,
            not_before: cert.not_before,
            not_after: cert.not_after,
            public_key_sha256: &cert.public_key_sha256,
            policies,
        }
    }

    pub fn owned(self) -> CertFacts {
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
pub fn encode_into<'a>(
    value: &mut String,
    fleet: &str,
    certificates: impl IntoIterator<Item = FactsRef<'a>>,
) {
    value.clear();
    value.push_str(fleet);
    let bare = value.len();
    value.push(':');
    value.push_str(VERSION);
    let versioned = value.len();
    for cert in certificates {
        let fits = value.len();
        entry(cert, value);
        if value.len() > MAX_CHARS {
            value.truncate(fits);
            break;
        }
    }
    if value.len() == versioned {
        // Nothing recorded: the fleet's name alone.
        value.truncate(bare);
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

/// Read an attribute value. A record of another version, or with an entry
/// that does not parse, is `readable: false`.
pub fn decode(value: &str) -> Marker {
    let fleet = fleet_of(value).to_string();
    let rest = &value[fleet.len()..];
    if rest.is_empty() {
        return Marker {
            fleet,
            certificates: Vec::new(),
            readable: true,
        };
    }
    let entries = rest
        .strip_prefix(':')
        .and_then(|r| r.strip_prefix(VERSION))
        .filter(|r| r.starts_with('['));
    let Some(entries) = entries else {
        return Marker {
            fleet,
            certificates: Vec::new(),
            readable: false,
        };
    };
    let mut certificates = Vec::new();
    let mut readable = true;
    for raw in entries.split('[').skip(1) {
        match raw.strip_suffix(']').and_then(decode_entry) {
            Some(facts) => certificates.push(facts),
            None => readable = false,
        }
    }
    Marker {
        fleet,
        certificates,
        readable,
    }
}

fn decode_entry(body: &str) -> Option<CertFacts> {
    let fields: Vec<&str> = body.split(':').collect();
    let [id, serial, not_before, not_after, key, policies] = fields.as_slice() else {
        return None;
    };
    let (Ok(not_before), Ok(not_after)) = (not_before.parse(), not_after.parse()) else {
        return None;
    };
    if id.len() != 64 || !hex(id) || !hex(serial) || key.len() != 64 || !hex(key) {
        return None;
    }
    Some(CertFacts {
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
    })
}

/// The `RecordFacts` operation's content: the certificates attached to the
/// thing after the plan, known ones as facts and, first, the one issued
/// earlier in the same change (its facts come from the certificate itself,
/// its policies from the plan).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    pub thing: String,
    /// Policies of the certificate issued in this change, when there is one.
    pub issued_policies: Option<BTreeSet<String>>,
    pub certificates: Vec<CertFacts>,
}

impl Record {
    /// The attribute value for `fleet`, given the issued certificate's facts.
    pub fn value(&self, fleet: &str, issued: Option<CertFacts>) -> String {
        let all: Vec<CertFacts> = issued
            .into_iter()
            .chain(self.certificates.iter().cloned())
            .collect();
        encode(fleet, &all)
    }
}

/// One entry of IoT's list of the CA's certificates (ListCertificatesByCA).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedCertificate {
    pub id: String,
    pub arn: String,
    pub status: Option<CertStatus>,
    pub created_at: i64,
}

/// What the records say about the listed certificates.
#[derive(Debug, Default)]
pub struct Merged {
    /// Certificates the records describe: no call needed.
    pub known: BTreeMap<String, LiveCertificate>,
    /// Certificates to read one by one.
    pub unrecorded: Vec<ListedCertificate>,
    /// Things whose record could not be read (their certificates are among
    /// `unrecorded`, or REVOKED).
    pub unreadable: BTreeSet<String>,
}

/// Split the listed certificates into those the things' records describe
/// and those to read one by one. A certificate is taken from the records only
/// when exactly one readable record names it, and names it once.
pub fn merge(listed: Vec<ListedCertificate>, markers: &BTreeMap<String, String>) -> Merged {
    // certificate id -> (facts, things whose record names it); None when
    // records disagree about it (or one names it twice).
    let mut recorded: BTreeMap<String, Option<(CertFacts, BTreeSet<String>)>> = BTreeMap::new();
    let mut unreadable = BTreeSet::new();
    for (thing, value) in markers {
        let marker = decode(value);
        if !marker.readable {
            unreadable.insert(thing.clone());
            continue;
        }
        for facts in marker.certificates {
            match recorded.get_mut(&facts.id) {
                None => {
                    let id = facts.id.clone();
                    recorded.insert(id, Some((facts, BTreeSet::from([thing.clone()]))));
                }
                Some(Some((known, things))) if *known == facts && !things.contains(thing) => {
                    things.insert(thing.clone());
                }
                Some(entry) => *entry = None,
            }
        }
    }
    let mut merged = Merged {
        unreadable,
        ..Merged::default()
    };
    for cert in listed {
        match (recorded.get(&cert.id), cert.status) {
            // A record names the certificate and the list gives its status:
            // its content never changes (the id is the SHA-256 of its DER).
            (Some(Some((facts, things))), Some(status)) if things.len() == 1 => {
                merged
                    .known
                    .insert(cert.id.clone(), from_facts(cert, status, facts, things));
            }
            // REVOKED is terminal, and fleetcert detaches a certificate
            // before revoking it: nothing left to plan for it.
            (_, Some(CertStatus::Revoked)) => {}
            _ => merged.unrecorded.push(cert),
        }
    }
    merged
}

fn from_facts(
    cert: ListedCertificate,
    status: CertStatus,
    facts: &CertFacts,
    things: &BTreeSet<String>,
) -> LiveCertificate {
    LiveCertificate {
        id: cert.id,
        arn: cert.arn,
        status,
        serial: facts.serial.clone(),
        subject_cn: things.iter().next().cloned(),
        not_before: facts.not_before,
        not_after: facts.not_after,
        created_at: cert.created_at,
        public_key_sha256: facts.public_key_sha256.clone(),
        things: things.clone(),
        policies: facts.policies.clone(),
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
    fn entries_that_do_not_fit_are_left_out() {
        let many: Vec<CertFacts> = "abcdef".chars().map(|c| facts(c, &["p"])).collect();
        let value = encode("f", &many);
        assert!(value.len() <= MAX_CHARS);
        let decoded = decode(&value);
        assert!(decoded.readable);
        assert!(decoded.certificates.len() >= 3 && decoded.certificates.len() < many.len());
        assert_eq!(decoded.certificates[..], many[..decoded.certificates.len()]);
    }

    #[test]
    fn a_record_of_another_version_or_with_a_damaged_entry_is_unreadable() {
        let value = encode("f", &[facts('a', &["p"])]);
        assert!(value.starts_with("f:1["), "{value}");
        let damaged = format!("{value}[zz:1:2:3:4:p]");
        let legacy = value.replacen("f:1[", "f[", 1);
        let future = value.replacen("f:1[", "f:2[", 1);
        for text in [damaged, legacy, future] {
            let marker = decode(&text);
            assert_eq!(marker.fleet, "f", "{text}");
            assert!(!marker.readable, "{text}");
        }
    }

    fn listed(id: char, status: CertStatus) -> ListedCertificate {
        ListedCertificate {
            id: id.to_string().repeat(64),
            arn: format!("arn:cert/{id}"),
            status: Some(status),
            created_at: 5,
        }
    }

    #[test]
    fn recorded_certificates_need_no_call_and_others_are_read_one_by_one() {
        let mut markers = BTreeMap::new();
        markers.insert(
            "dev-1".to_string(),
            encode("f", &[facts('a', &["telemetry"])]),
        );
        markers.insert("dev-2".to_string(), "f".to_string());
        let merged = merge(
            vec![
                listed('a', CertStatus::Active),
                listed('b', CertStatus::Active),
                listed('d', CertStatus::Revoked),
            ],
            &markers,
        );
        let a = &merged.known[&"a".repeat(64)];
        assert_eq!(a.subject_cn.as_deref(), Some("dev-1"));
        assert_eq!(a.status, CertStatus::Active);
        assert_eq!(a.things, BTreeSet::from(["dev-1".to_string()]));
        assert_eq!(a.policies, BTreeSet::from(["telemetry".to_string()]));
        assert_eq!(merged.unrecorded.len(), 1);
        assert_eq!(merged.unrecorded[0].id, "b".repeat(64));
        assert!(merged.unreadable.is_empty());
    }

    #[test]
    fn records_that_disagree_are_not_trusted() {
        // One thing's record names the same certificate twice, with different
        // policies: neither entry can be right.
        let value = encode("f", &[facts('a', &["telemetry"]), facts('a', &[])]);
        let markers = BTreeMap::from([("dev-1".to_string(), value)]);
        let merged = merge(vec![listed('a', CertStatus::Active)], &markers);
        assert!(merged.known.is_empty(), "{:?}", merged.known);
        assert_eq!(merged.unrecorded.len(), 1);
    }

    #[test]
    fn an_unreadable_record_is_reported_and_its_certificates_read_in_full() {
        let legacy = encode("f", &[facts('a', &["p"])]).replacen("f:1[", "f[", 1);
        let markers = BTreeMap::from([("dev-1".to_string(), legacy)]);
        let merged = merge(vec![listed('a', CertStatus::Active)], &markers);
        assert!(merged.known.is_empty());
        assert_eq!(merged.unrecorded.len(), 1);
        assert_eq!(merged.unreadable, BTreeSet::from(["dev-1".to_string()]));
    }
}
