//! What moved since a plan was made: the spec's files, and the live state.
//! Pure. The difference is data (`SpecChange`, `LiveChange`), each item about
//! one resource; its `Display` is how a refused plan says why.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use crate::live::{LiveCertificate, LivePolicy, LiveState, LiveThing};
use crate::plan::short_id as short;

/// A file the spec reads that was added, removed or changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SpecChange {
    NoLongerRead(String),
    Changed(String),
    NewlyRead(String),
}

impl fmt::Display for SpecChange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoLongerRead(path) => write!(f, "{path} is no longer read by the spec"),
            Self::Changed(path) => write!(f, "{path} changed"),
            Self::NewlyRead(path) => write!(f, "{path} is new (now read by the spec)"),
        }
    }
}

/// Files added, removed or changed between two `path -> sha256` maps.
pub fn spec_changes(
    before: &BTreeMap<String, String>,
    after: &BTreeMap<String, String>,
) -> Vec<SpecChange> {
    let mut changes = Vec::new();
    for (path, sha) in before {
        match after.get(path) {
            None => changes.push(SpecChange::NoLongerRead(path.clone())),
            Some(now) if now != sha => changes.push(SpecChange::Changed(path.clone())),
            Some(_) => {}
        }
    }
    for path in after.keys().filter(|p| !before.contains_key(*p)) {
        changes.push(SpecChange::NewlyRead(path.clone()));
    }
    changes
}

/// The resource a live change is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    Ca(String),
    /// The CA's IoT registration, by certificate id.
    Registration(String),
    Policy(String),
    Thing(String),
    Certificate(String),
    ThingType(String),
}

/// One difference within a resource that exists before and after.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Difference {
    /// `what before -> after`.
    Value {
        what: &'static str,
        before: String,
        after: String,
    },
    /// A thing attribute (`None`: absent).
    Attribute {
        key: String,
        before: Option<String>,
        after: Option<String>,
    },
    Attached {
        kind: &'static str,
        name: String,
    },
    Detached {
        kind: &'static str,
        name: String,
    },
    /// The CA moved to another ARN.
    NewArn(String),
    /// A policy's number of versions.
    Versions {
        before: usize,
        after: usize,
    },
    /// Only the thing's version moved.
    Updated {
        before: i64,
        after: i64,
    },
    /// Something the planner relies on that has no finer description.
    Other(&'static str),
}

impl fmt::Display for Difference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let value = |v: &Option<String>| {
            v.as_ref()
                .map_or("(none)".to_string(), |v| format!("{v:?}"))
        };
        match self {
            Self::Value {
                what,
                before,
                after,
            } => write!(f, "{what} {before} -> {after}"),
            Self::Attribute { key, before, after } => {
                write!(f, "attribute {key}: {} -> {}", value(before), value(after))
            }
            Self::Attached { kind, name } => write!(f, "{kind} {name} attached"),
            Self::Detached { kind, name } => write!(f, "{kind} {name} detached"),
            Self::NewArn(arn) => write!(f, "now {arn}"),
            Self::Versions { before, after } => write!(f, "{before} -> {after} versions"),
            Self::Updated { before, after } => write!(f, "version {before} -> {after} (updated)"),
            Self::Other(text) => f.write_str(text),
        }
    }
}

/// What happened to a resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Happened {
    Created,
    Deleted,
    Changed(Vec<Difference>),
}

/// One resource that differs between the live state a plan relied on and
/// the one read now (`Subject: None` for a difference the planner relies on
/// that belongs to no one resource).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveChange {
    pub subject: Option<Subject>,
    pub happened: Happened,
}

fn joined(parts: &[Difference]) -> String {
    parts
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

impl fmt::Display for LiveChange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use Happened::{Changed, Created, Deleted};
        let Some(subject) = &self.subject else {
            return f.write_str("the live state differs in details");
        };
        match (subject, &self.happened) {
            (Subject::Ca(arn), Created) => write!(f, "CA {arn} was created"),
            (Subject::Ca(arn), Deleted) => write!(f, "CA {arn} is gone"),
            (Subject::Ca(arn), Changed(parts)) => write!(f, "CA {arn}: {}", joined(parts)),
            (Subject::Registration(id), Created) => {
                write!(f, "the CA was registered in IoT ({})", short(id))
            }
            (Subject::Registration(id), Deleted) => {
                write!(f, "the CA's IoT registration {} is gone", short(id))
            }
            (Subject::Registration(_), Changed(parts)) => {
                write!(f, "the CA's IoT registration changed: {}", joined(parts))
            }
            (Subject::ThingType(name), Created) => write!(f, "thing type {name} was created"),
            (Subject::ThingType(name), _) => write!(f, "thing type {name} was deleted"),
            (subject, happened) => {
                let (what, key) = match subject {
                    Subject::Policy(name) => ("policy", name.as_str()),
                    Subject::Thing(name) => ("thing", name.as_str()),
                    Subject::Certificate(id) => ("certificate", short(id)),
                    _ => unreachable!("matched above"),
                };
                match happened {
                    Created => write!(f, "{what} {key} was created"),
                    Deleted => write!(f, "{what} {key} was deleted"),
                    Changed(parts) => write!(f, "{what} {key}: {}", joined(parts)),
                }
            }
        }
    }
}

fn value(what: &'static str, before: impl fmt::Display, after: impl fmt::Display) -> Difference {
    Difference::Value {
        what,
        before: before.to_string(),
        after: after.to_string(),
    }
}

fn set_diff(
    kind: &'static str,
    before: &BTreeSet<String>,
    after: &BTreeSet<String>,
) -> Vec<Difference> {
    let gone = before.difference(after).map(|name| Difference::Detached {
        kind,
        name: name.clone(),
    });
    let new = after.difference(before).map(|name| Difference::Attached {
        kind,
        name: name.clone(),
    });
    gone.chain(new).collect()
}

fn thing_diff(before: &LiveThing, after: &LiveThing) -> Vec<Difference> {
    let mut parts = Vec::new();
    let keys: BTreeSet<&String> = before
        .attributes
        .keys()
        .chain(after.attributes.keys())
        .collect();
    for key in keys {
        let (b, a) = (before.attributes.get(key), after.attributes.get(key));
        if b != a {
            parts.push(Difference::Attribute {
                key: key.clone(),
                before: b.cloned(),
                after: a.cloned(),
            });
        }
    }
    if before.thing_type != after.thing_type {
        parts.push(value(
            "thing type",
            format!("{:?}", before.thing_type),
            format!("{:?}", after.thing_type),
        ));
    }
    if before.owner != after.owner {
        parts.push(value(
            "fleetcert marker",
            format!("{:?}", before.owner),
            format!("{:?}", after.owner),
        ));
    }
    if parts.is_empty() && before.version != after.version {
        parts.push(Difference::Updated {
            before: before.version,
            after: after.version,
        });
    }
    parts
}

fn cert_diff(before: &LiveCertificate, after: &LiveCertificate) -> Vec<Difference> {
    let mut parts = Vec::new();
    if before.status != after.status {
        parts.push(value("status", before.status, after.status));
    }
    parts.extend(set_diff("thing", &before.things, &after.things));
    parts.extend(set_diff("policy", &before.policies, &after.policies));
    if parts.is_empty() && before != after {
        parts.push(Difference::Other("details changed"));
    }
    parts
}

fn policy_diff(b: &LivePolicy, a: &LivePolicy) -> Vec<Difference> {
    let mut parts = Vec::new();
    if b.default_version != a.default_version {
        parts.push(value(
            "default version",
            &b.default_version,
            &a.default_version,
        ));
    } else if b.document != a.document {
        parts.push(Difference::Other("document changed"));
    }
    if b.versions.len() != a.versions.len() && parts.is_empty() {
        parts.push(Difference::Versions {
            before: b.versions.len(),
            after: a.versions.len(),
        });
    }
    if b.owner != a.owner {
        parts.push(value(
            "owner tag",
            format!("{:?}", b.owner),
            format!("{:?}", a.owner),
        ));
    }
    parts
}

/// Map differences, one per key.
fn map_changes<T>(
    out: &mut Vec<LiveChange>,
    subject: impl Fn(&str) -> Subject,
    before: &BTreeMap<String, T>,
    after: &BTreeMap<String, T>,
    describe: impl Fn(&T, &T) -> Vec<Difference>,
) {
    let mut push = |key: &str, happened| {
        out.push(LiveChange {
            subject: Some(subject(key)),
            happened,
        })
    };
    for (key, b) in before {
        match after.get(key) {
            None => push(key, Happened::Deleted),
            Some(a) => {
                let parts = describe(b, a);
                if !parts.is_empty() {
                    push(key, Happened::Changed(parts));
                }
            }
        }
    }
    for key in after.keys().filter(|k| !before.contains_key(*k)) {
        push(key, Happened::Created);
    }
}

fn ca_changes(before: &LiveState, after: &LiveState, out: &mut Vec<LiveChange>) {
    let change = |subject, happened| LiveChange {
        subject: Some(subject),
        happened,
    };
    match (&before.ca, &after.ca) {
        (None, Some(ca)) => out.push(change(Subject::Ca(ca.arn.clone()), Happened::Created)),
        (Some(ca), None) => out.push(change(Subject::Ca(ca.arn.clone()), Happened::Deleted)),
        (Some(b), Some(a)) if b != a => {
            let mut parts = Vec::new();
            if b.arn != a.arn {
                parts.push(Difference::NewArn(a.arn.clone()));
            }
            if b.status != a.status {
                parts.push(value("status", b.status, a.status));
            }
            if b.owner != a.owner {
                parts.push(value(
                    "owner tag",
                    format!("{:?}", b.owner),
                    format!("{:?}", a.owner),
                ));
            }
            if parts.is_empty() {
                parts.push(Difference::Other("its certificate changed"));
            }
            out.push(change(Subject::Ca(b.arn.clone()), Happened::Changed(parts)));
        }
        _ => {}
    }
    let registration = |id: &str| Subject::Registration(id.to_string());
    match (&before.iot_ca, &after.iot_ca) {
        (None, Some(ca)) => out.push(change(registration(&ca.certificate_id), Happened::Created)),
        (Some(ca), None) => out.push(change(registration(&ca.certificate_id), Happened::Deleted)),
        (Some(b), Some(a)) if b != a => out.push(change(
            registration(&b.certificate_id),
            Happened::Changed(vec![
                value("status", b.status, a.status),
                value(
                    "auto-registration",
                    b.auto_registration,
                    a.auto_registration,
                ),
            ]),
        )),
        _ => {}
    }
}

/// What differs between the live state a plan relied on and the one now.
pub fn live_changes(before: &LiveState, after: &LiveState) -> Vec<LiveChange> {
    let mut out = Vec::new();
    ca_changes(before, after, &mut out);
    map_changes(
        &mut out,
        |k| Subject::Policy(k.into()),
        &before.policies,
        &after.policies,
        policy_diff,
    );
    map_changes(
        &mut out,
        |k| Subject::Thing(k.into()),
        &before.things,
        &after.things,
        thing_diff,
    );
    map_changes(
        &mut out,
        |k| Subject::Certificate(k.into()),
        &before.certificates,
        &after.certificates,
        cert_diff,
    );
    for t in before.thing_types.difference(&after.thing_types) {
        out.push(LiveChange {
            subject: Some(Subject::ThingType(t.clone())),
            happened: Happened::Deleted,
        });
    }
    for t in after.thing_types.difference(&before.thing_types) {
        out.push(LiveChange {
            subject: Some(Subject::ThingType(t.clone())),
            happened: Happened::Created,
        });
    }
    if out.is_empty() && before != after {
        out.push(LiveChange {
            subject: None,
            happened: Happened::Changed(Vec::new()),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn thing(attrs: &[(&str, &str)]) -> LiveThing {
        LiveThing {
            name: "t".into(),
            thing_type: None,
            attributes: attrs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            owner: Some("f".into()),
            version: 1,
        }
    }

    #[test]
    fn names_changed_attributes_and_files() {
        let mut before = LiveState::default();
        before.things.insert("t".into(), thing(&[("line", "A")]));
        let mut after = before.clone();
        after.things.insert("t".into(), thing(&[("line", "B")]));
        let changes = live_changes(&before, &after);
        assert_eq!(
            changes,
            vec![LiveChange {
                subject: Some(Subject::Thing("t".into())),
                happened: Happened::Changed(vec![Difference::Attribute {
                    key: "line".into(),
                    before: Some("A".into()),
                    after: Some("B".into()),
                }]),
            }]
        );
        assert_eq!(
            changes[0].to_string(),
            "thing t: attribute line: \"A\" -> \"B\""
        );
        let files = |sha: &str| BTreeMap::from([("csr/a.csr".to_string(), sha.to_string())]);
        let changes = spec_changes(&files("1"), &files("2"));
        assert_eq!(changes, vec![SpecChange::Changed("csr/a.csr".into())]);
        assert_eq!(changes[0].to_string(), "csr/a.csr changed");
        assert!(live_changes(&before, &before).is_empty());
    }

    #[test]
    fn a_registration_change_reads_as_before() {
        use crate::live::{CertificateMode, LiveIotCa, RegistrationStatus};
        let registration = |status, auto| LiveIotCa {
            certificate_id: "0123456789abcdef".into(),
            status,
            mode: CertificateMode::SniOnly,
            auto_registration: auto,
        };
        let before = LiveState {
            iot_ca: Some(registration(RegistrationStatus::Active, false)),
            ..LiveState::default()
        };
        let after = LiveState {
            iot_ca: Some(registration(RegistrationStatus::Inactive, false)),
            ..LiveState::default()
        };
        assert_eq!(
            live_changes(&before, &after)[0].to_string(),
            "the CA's IoT registration changed: status ACTIVE -> INACTIVE, auto-registration false -> false"
        );
        assert_eq!(
            live_changes(&LiveState::default(), &before)[0].to_string(),
            "the CA was registered in IoT (0123456789)"
        );
    }
}
