//! `fleetcert import`, the pure half: an existing IoT set-up (read into a
//! `LiveState`) written as a fleet.yaml whose first plan only adopts (marks
//! things and policies as the fleet's) and whose second plan is empty.
//! Devices whose keys and CSRs fleetcert never saw are pinned by
//! `certificate_id`.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

use crate::live::{
    CertStatus, CertificateMode, LiveCertificate, LiveState, LiveThing, RegistrationStatus,
};

/// The spec text and the policy files it names (relative paths → contents).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportedSpec {
    pub fleet_yaml: String,
    pub files: BTreeMap<String, String>,
    /// Things and certificates that could not be expressed, with why.
    pub skipped: Vec<String>,
}

/// Quote a YAML scalar only when it needs it.
pub(crate) fn scalar(text: &str) -> String {
    let plain = !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./@:".contains(c))
        && !text.starts_with(['-', ':', '@', '.'])
        && !["true", "false", "yes", "no", "null", "on", "off"]
            .contains(&text.to_ascii_lowercase().as_str())
        && text.parse::<f64>().is_err();
    if plain {
        text.to_string()
    } else {
        serde_json::to_string(text).expect("strings serialize")
    }
}

fn flow_list(items: &BTreeSet<String>) -> String {
    format!(
        "[{}]",
        items
            .iter()
            .map(|i| scalar(i))
            .collect::<Vec<_>>()
            .join(", ")
    )
}

/// The newest ACTIVE certificate of each thing, from the fleet CA's certificates.
fn certificates_by_thing(live: &LiveState) -> BTreeMap<&str, Vec<&LiveCertificate>> {
    let mut by_thing: BTreeMap<&str, Vec<&LiveCertificate>> = BTreeMap::new();
    for cert in live
        .certificates
        .values()
        .filter(|c| c.status == CertStatus::Active)
    {
        for thing in &cert.things {
            by_thing.entry(thing.as_str()).or_default().push(cert);
        }
    }
    for certs in by_thing.values_mut() {
        certs.sort_by_key(|c| (c.created_at, c.not_before));
    }
    by_thing
}

/// Write `live` as a spec for `fleet` adopting the CA `ca_arn`.
pub fn render(fleet: &str, region: &str, ca_arn: &str, live: &LiveState) -> ImportedSpec {
    let mut writer = SpecWriter {
        fleet,
        live,
        by_thing: certificates_by_thing(live),
        out: ImportedSpec {
            fleet_yaml: String::new(),
            files: BTreeMap::new(),
            skipped: Vec::new(),
        },
    };
    writer.header(region, ca_arn);
    writer.policies();
    writer.thing_types();
    writer.devices();
    writer.footer();
    writer.out
}

/// What `render` writes from, and what it has written so far: each method
/// appends one section of fleet.yaml, in the order they appear in it.
struct SpecWriter<'a> {
    fleet: &'a str,
    live: &'a LiveState,
    /// The ACTIVE certificates of each thing, oldest first.
    by_thing: BTreeMap<&'a str, Vec<&'a LiveCertificate>>,
    out: ImportedSpec,
}

impl SpecWriter<'_> {
    /// The fleet, the CA and its IoT registration as they are, and defaults.
    fn header(&mut self, region: &str, ca_arn: &str) {
        let yaml = &mut self.out.fleet_yaml;
        let iot = self.live.iot_ca.as_ref();
        let _ = writeln!(
            yaml,
            "# yaml-language-server: $schema=schema/fleet.schema.json"
        );
        let _ = writeln!(
            yaml,
            "# Written by `fleetcert import`: the first plan only adopts what exists."
        );
        let _ = writeln!(
            yaml,
            "version: 1\nfleet: {}\nregion: {}\n",
            scalar(self.fleet),
            scalar(region)
        );
        let _ = writeln!(yaml, "ca:\n  arn: {}", scalar(ca_arn));
        let _ = writeln!(
            yaml,
            "  iot:\n    mode: {}\n    status: {}\n    auto_registration: {}\n",
            if iot.is_some_and(|r| r.mode == CertificateMode::SniOnly) {
                "sni_only"
            } else {
                "default"
            },
            if iot.is_some_and(|r| r.status == RegistrationStatus::Inactive) {
                "inactive"
            } else {
                "active"
            },
            iot.is_some_and(|r| r.auto_registration)
        );
        let _ = writeln!(yaml, "defaults:\n  validity: 365d\n  renew_before: 30d\n");
    }

    /// The policies attached to the devices' certificates, each document
    /// written to its own file.
    fn policies(&mut self) {
        let used_policies: BTreeSet<&str> = self
            .by_thing
            .values()
            .flatten()
            .flat_map(|c| c.policies.iter().map(String::as_str))
            .collect();
        if used_policies.is_empty() {
            return;
        }
        let yaml = &mut self.out.fleet_yaml;
        let _ = writeln!(yaml, "policies:");
        for name in &used_policies {
            let Some(policy) = self.live.policies.get(*name) else {
                continue;
            };
            let path = format!("policies/{name}.json");
            let _ = writeln!(yaml, "  {}:\n    document: {}", scalar(name), scalar(&path));
            if policy.owner.as_deref() != Some(self.fleet) {
                let _ = writeln!(yaml, "    adopt: true");
            }
            self.out
                .files
                .insert(path, format!("{}\n", policy.document));
        }
        let _ = writeln!(yaml);
    }

    /// The thing types the devices' things have.
    fn thing_types(&mut self) {
        let thing_types: BTreeSet<&str> = self
            .by_thing
            .keys()
            .filter_map(|name| self.live.things.get(*name)?.thing_type.as_deref())
            .collect();
        if thing_types.is_empty() {
            return;
        }
        let yaml = &mut self.out.fleet_yaml;
        let _ = writeln!(yaml, "thing_types:");
        for name in thing_types {
            let _ = writeln!(yaml, "  {}: {{}}", scalar(name));
        }
        let _ = writeln!(yaml);
    }

    /// One device per thing with an ACTIVE certificate, pinned to the
    /// newest one; things that cannot be imported are listed as skipped.
    fn devices(&mut self) {
        let yaml = &mut self.out.fleet_yaml;
        let skipped = &mut self.out.skipped;
        let _ = writeln!(yaml, "devices:");
        let mut any = false;
        for (thing_name, certs) in &self.by_thing {
            let Some(thing) = self.live.things.get(*thing_name) else {
                skipped.push(format!("thing {thing_name}: could not be read"));
                continue;
            };
            if thing.owner.as_deref().is_some_and(|o| o != self.fleet) {
                skipped.push(format!("thing {thing_name}: it belongs to another fleet"));
                continue;
            }
            let cert = certs.last().expect("non-empty");
            if certs.len() > 1 {
                skipped.push(format!(
                    "thing {thing_name}: {} ACTIVE certificates; the newest ({}) is pinned, the others will be retired",
                    certs.len(),
                    &cert.id[..10]
                ));
            }
            any = true;
            write_device(yaml, thing_name, thing, cert);
        }
        if !any {
            yaml.truncate(yaml.len() - "devices:\n".len());
            let _ = writeln!(yaml, "devices: []");
        }
    }

    /// Lifecycle settings that keep what was imported, and the output dir.
    fn footer(&mut self) {
        let _ = writeln!(
            self.out.fleet_yaml,
            "\nlifecycle:\n  on_removal: keep          # imported: nothing is revoked until you say so\n  \
             delete_things: false\n\noutput:\n  dir: out"
        );
    }
}

/// One entry of `devices:`, pinned to the certificate `cert`.
fn write_device(yaml: &mut String, thing_name: &str, thing: &LiveThing, cert: &LiveCertificate) {
    let _ = writeln!(yaml, "  - name: {}", scalar(thing_name));
    let _ = writeln!(yaml, "    certificate_id: {}", cert.id);
    if let Some(thing_type) = &thing.thing_type {
        let _ = writeln!(yaml, "    thing_type: {}", scalar(thing_type));
    }
    if !thing.attributes.is_empty() {
        let pairs: Vec<String> = thing
            .attributes
            .iter()
            .map(|(k, v)| format!("{}: {}", scalar(k), scalar(v)))
            .collect();
        let _ = writeln!(yaml, "    attributes: {{{}}}", pairs.join(", "));
    }
    let _ = writeln!(yaml, "    policies: {}", flow_list(&cert.policies));
    if thing.owner.is_none() {
        let _ = writeln!(yaml, "    adopt: true");
    }
}
