//! What moved since a plan was made: the spec's files, and the live state.
//! Pure; each line names one resource and what happened to it, so a refused
//! plan says why.

use std::collections::{BTreeMap, BTreeSet};

use crate::live::{LiveCertificate, LiveState, LiveThing};

/// Files added, removed or changed between two `path -> sha256` maps.
pub fn spec_changes(
    before: &BTreeMap<String, String>,
    after: &BTreeMap<String, String>,
) -> Vec<String> {
    let mut lines = Vec::new();
    for (path, sha) in before {
        match after.get(path) {
            None => lines.push(format!("{path} is no longer read by the spec")),
            Some(now) if now != sha => lines.push(format!("{path} changed")),
            Some(_) => {}
        }
    }
    for path in after.keys().filter(|p| !before.contains_key(*p)) {
        lines.push(format!("{path} is new (now read by the spec)"));
    }
    lines
}

fn short(id: &str) -> &str {
    &id[..id.len().min(10)]
}

fn set_diff(name: &str, before: &BTreeSet<String>, after: &BTreeSet<String>) -> Vec<String> {
    let mut parts = Vec::new();
    for gone in before.difference(after) {
        parts.push(format!("{name} {gone} detached"));
    }
    for new in after.difference(before) {
        parts.push(format!("{name} {new} attached"));
    }
    parts
}

fn thing_diff(before: &LiveThing, after: &LiveThing) -> Vec<String> {
    let mut parts = Vec::new();
    let keys: BTreeSet<&String> = before
        .attributes
        .keys()
        .chain(after.attributes.keys())
        .collect();
    for key in keys {
        let (b, a) = (before.attributes.get(key), after.attributes.get(key));
        if b != a {
            parts.push(format!(
                "attribute {key}: {} -> {}",
                b.map_or("(none)".to_string(), |v| format!("{v:?}")),
                a.map_or("(none)".to_string(), |v| format!("{v:?}"))
            ));
        }
    }
    if before.thing_type != after.thing_type {
        parts.push(format!(
            "thing type {:?} -> {:?}",
            before.thing_type, after.thing_type
        ));
    }
    if before.owner != after.owner {
        parts.push(format!(
            "fleetcert marker {:?} -> {:?}",
            before.owner, after.owner
        ));
    }
    if parts.is_empty() && before.version != after.version {
        parts.push(format!(
            "version {} -> {} (updated)",
            before.version, after.version
        ));
    }
    parts
}

fn cert_diff(before: &LiveCertificate, after: &LiveCertificate) -> Vec<String> {
    let mut parts = Vec::new();
    if before.status != after.status {
        parts.push(format!("status {} -> {}", before.status, after.status));
    }
    parts.extend(set_diff("thing", &before.things, &after.things));
    parts.extend(set_diff("policy", &before.policies, &after.policies));
    if parts.is_empty() && before != after {
        parts.push("details changed".to_string());
    }
    parts
}

/// Map differences as lines `<what> <key>: <how>`.
fn map_changes<T>(
    lines: &mut Vec<String>,
    what: &str,
    before: &BTreeMap<String, T>,
    after: &BTreeMap<String, T>,
    describe: impl Fn(&T, &T) -> Vec<String>,
    key_text: impl Fn(&str) -> String,
) {
    for (key, b) in before {
        match after.get(key) {
            None => lines.push(format!("{what} {} was deleted", key_text(key))),
            Some(a) => {
                let parts = describe(b, a);
                if !parts.is_empty() {
                    lines.push(format!("{what} {}: {}", key_text(key), parts.join(", ")));
                }
            }
        }
    }
    for key in after.keys().filter(|k| !before.contains_key(*k)) {
        lines.push(format!("{what} {} was created", key_text(key)));
    }
}

/// What differs between the live state a plan relied on and the one now.
pub fn live_changes(before: &LiveState, after: &LiveState) -> Vec<String> {
    let mut lines = Vec::new();
    match (&before.ca, &after.ca) {
        (None, Some(ca)) => lines.push(format!("CA {} was created", ca.arn)),
        (Some(ca), None) => lines.push(format!("CA {} is gone", ca.arn)),
        (Some(b), Some(a)) if b != a => {
            let mut parts = Vec::new();
            if b.arn != a.arn {
                parts.push(format!("now {}", a.arn));
            }
            if b.status != a.status {
                parts.push(format!("status {} -> {}", b.status, a.status));
            }
            if b.owner != a.owner {
                parts.push(format!("owner tag {:?} -> {:?}", b.owner, a.owner));
            }
            if parts.is_empty() {
                parts.push("its certificate changed".into());
            }
            lines.push(format!("CA {}: {}", b.arn, parts.join(", ")));
        }
        _ => {}
    }
    match (&before.iot_ca, &after.iot_ca) {
        (None, Some(ca)) => lines.push(format!(
            "the CA was registered in IoT ({})",
            short(&ca.certificate_id)
        )),
        (Some(ca), None) => lines.push(format!(
            "the CA's IoT registration {} is gone",
            short(&ca.certificate_id)
        )),
        (Some(b), Some(a)) if b != a => lines.push(format!(
            "the CA's IoT registration changed: status {} -> {}, auto-registration {} -> {}",
            b.status, a.status, b.auto_registration, a.auto_registration
        )),
        _ => {}
    }
    map_changes(
        &mut lines,
        "policy",
        &before.policies,
        &after.policies,
        |b, a| {
            let mut parts = Vec::new();
            if b.default_version != a.default_version {
                parts.push(format!(
                    "default version {} -> {}",
                    b.default_version, a.default_version
                ));
            } else if b.document != a.document {
                parts.push("document changed".into());
            }
            if b.versions.len() != a.versions.len() && parts.is_empty() {
                parts.push(format!(
                    "{} -> {} versions",
                    b.versions.len(),
                    a.versions.len()
                ));
            }
            if b.owner != a.owner {
                parts.push(format!("owner tag {:?} -> {:?}", b.owner, a.owner));
            }
            parts
        },
        str::to_string,
    );
    map_changes(
        &mut lines,
        "thing",
        &before.things,
        &after.things,
        thing_diff,
        str::to_string,
    );
    map_changes(
        &mut lines,
        "certificate",
        &before.certificates,
        &after.certificates,
        cert_diff,
        |id| short(id).to_string(),
    );
    for t in before.thing_types.difference(&after.thing_types) {
        lines.push(format!("thing type {t} was deleted"));
    }
    for t in after.thing_types.difference(&before.thing_types) {
        lines.push(format!("thing type {t} was created"));
    }
    if lines.is_empty() && before != after {
        lines.push("the live state differs in details".into());
    }
    lines
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
        assert_eq!(
            live_changes(&before, &after),
            vec!["thing t: attribute line: \"A\" -> \"B\"".to_string()]
        );
        let files = |sha: &str| BTreeMap::from([("csr/a.csr".to_string(), sha.to_string())]);
        assert_eq!(
            spec_changes(&files("1"), &files("2")),
            vec!["csr/a.csr changed".to_string()]
        );
        assert!(live_changes(&before, &before).is_empty());
    }
}
