//! Fixtures shared by the unit tests, the integration tests and the
//! benchmarks: a fleet spec written to a directory and loaded, and live
//! states built to match it. Not part of fleetcert's interface.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::live::{
    CaStatus, CertStatus, CertificateMode, LiveCa, LiveCertificate, LiveIotCa, LivePolicy,
    LiveState, LiveThing, PolicyVersion, RegistrationStatus,
};
use crate::marker::{self, CertFacts};
use crate::spec::Spec;

pub const DAY: i64 = 86_400;

/// The SHA-256 of `text`, hex: made-up ids and key digests.
pub fn sha(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

/// A fleet.yaml, built up by a test and written with the files it names.
#[derive(Debug, Clone)]
pub struct FleetBuilder {
    fleet: String,
    region: Option<String>,
    iot_mode: &'static str,
    validity: (String, String),
    rate_limits: Vec<(String, f64)>,
    include: Option<String>,
    defaults: Vec<String>,
    policies: Vec<(String, String)>,
    devices: Vec<String>,
    lifecycle: Vec<String>,
    output: Option<String>,
    files: Vec<(PathBuf, String)>,
}

/// A policy statement list allowing `iot:Connect` (what most fixtures need).
pub const CONNECT_STATEMENT: &str = "[{Effect: Allow, Action: \"iot:Connect\", Resource: \"arn:aws:iot:*:*:client/${iot:Connection.Thing.ThingName}\"}]";

impl FleetBuilder {
    /// A fleet with a root CA fleetcert creates (SNI_ONLY in IoT), defaults
    /// of 10d validity and 3d renew_before, and no devices or policies.
    pub fn new(fleet: &str) -> Self {
        Self {
            fleet: fleet.to_string(),
            region: None,
            iot_mode: "sni_only",
            validity: ("10d".into(), "3d".into()),
            rate_limits: Vec::new(),
            include: None,
            defaults: Vec::new(),
            policies: Vec::new(),
            devices: Vec::new(),
            lifecycle: Vec::new(),
            output: None,
            files: Vec::new(),
        }
    }

    /// The `output:` block's one line, e.g. `secrets_manager: {}`.
    pub fn output(mut self, line: &str) -> Self {
        self.output = Some(line.to_string());
        self
    }

    pub fn region(mut self, region: &str) -> Self {
        self.region = Some(region.to_string());
        self
    }

    /// The devices' default validity and renew_before, e.g. `365d`, `30d`.
    pub fn validity(mut self, validity: &str, renew_before: &str) -> Self {
        self.validity = (validity.to_string(), renew_before.to_string());
        self
    }

    /// A `rate_limits` entry, e.g. `iot:RegisterCertificate`, 5.
    pub fn rate_limit(mut self, operation: &str, rate: f64) -> Self {
        self.rate_limits.push((operation.to_string(), rate));
        self
    }

    /// Device lists in include files (see [`write_device_lists`]).
    pub fn include(mut self, pattern: &str) -> Self {
        self.include = Some(pattern.to_string());
        self
    }

    /// The CA's IoT registration mode (`default` or `sni_only`).
    pub fn iot_mode(mut self, mode: &'static str) -> Self {
        self.iot_mode = mode;
        self
    }

    /// A `defaults:` line, e.g. `policies: [p]`.
    pub fn default(mut self, line: &str) -> Self {
        self.defaults.push(line.to_string());
        self
    }

    /// A policy with inline statements (YAML flow syntax).
    pub fn policy(mut self, name: &str, statements: &str) -> Self {
        self.policies
            .push((name.to_string(), statements.to_string()));
        self
    }

    /// A device with nothing but its name.
    pub fn device(self, name: &str) -> Self {
        self.device_with(name, &[])
    }

    /// A device with more fields, each `key: value` on its own line.
    pub fn device_with(mut self, name: &str, fields: &[&str]) -> Self {
        let mut entry = format!("  - name: {name}\n");
        for field in fields {
            let _ = writeln!(entry, "    {field}");
        }
        self.devices.push(entry);
        self
    }

    /// A device whose key is the device's own: its CSR is written to `csr/<name>.csr`.
    pub fn device_with_csr(mut self, name: &str, csr_pem: &str, fields: &[&str]) -> Self {
        let path = format!("csr/{name}.csr");
        self.files.push((PathBuf::from(&path), csr_pem.to_string()));
        let mut all = vec![format!("csr: {path}")];
        all.extend(fields.iter().map(|f| f.to_string()));
        let refs: Vec<&str> = all.iter().map(String::as_str).collect();
        self.device_with(name, &refs)
    }

    /// A `lifecycle:` line, e.g. `on_removal: keep`.
    pub fn lifecycle(mut self, line: &str) -> Self {
        self.lifecycle.push(line.to_string());
        self
    }

    /// The fleet.yaml text.
    pub fn yaml(&self) -> String {
        let mut yaml = format!("version: 1\nfleet: {}\n", self.fleet);
        if let Some(region) = &self.region {
            let _ = writeln!(yaml, "region: {region}");
        }
        let _ = writeln!(
            yaml,
            "ca:\n  subject: {{common_name: {} CA}}\n  validity: 10y\n  iot: {{mode: {}}}",
            self.fleet, self.iot_mode
        );
        let _ = writeln!(
            yaml,
            "defaults:\n  validity: {}\n  renew_before: {}",
            self.validity.0, self.validity.1
        );
        for line in &self.defaults {
            let _ = writeln!(yaml, "  {line}");
        }
        if !self.policies.is_empty() {
            yaml.push_str("policies:\n");
            for (name, statements) in &self.policies {
                let _ = writeln!(
                    yaml,
                    "  {name}:\n    document:\n      Version: \"2012-10-17\"\n      Statement: {statements}"
                );
            }
        }
        if !self.rate_limits.is_empty() {
            yaml.push_str("rate_limits:\n");
            for (operation, rate) in &self.rate_limits {
                let _ = writeln!(yaml, "  \"{operation}\": {rate}");
            }
        }
        if let Some(pattern) = &self.include {
            let _ = writeln!(yaml, "include: {pattern}");
        }
        yaml.push_str(match (self.devices.is_empty(), &self.include) {
            (true, Some(_)) => "",
            (true, None) => "devices: []\n",
            (false, _) => "devices:\n",
        });
        for device in &self.devices {
            yaml.push_str(device);
        }
        if !self.lifecycle.is_empty() {
            yaml.push_str("lifecycle:\n");
            for line in &self.lifecycle {
                let _ = writeln!(yaml, "  {line}");
            }
        }
        if let Some(line) = &self.output {
            let _ = writeln!(yaml, "output:\n  {line}");
        }
        yaml
    }

    /// Write fleet.yaml and its files under `dir`; the spec's path.
    pub fn write(&self, dir: &Path) -> PathBuf {
        for (path, contents) in &self.files {
            let path = dir.join(path);
            std::fs::create_dir_all(path.parent().expect("a file in a directory"))
                .expect("create the fixture's directory");
            std::fs::write(path, contents).expect("write a fixture file");
        }
        let spec = dir.join("fleet.yaml");
        std::fs::write(&spec, self.yaml()).expect("write fleet.yaml");
        spec
    }

    /// Write under `dir` and load; a spec the fixture got wrong panics with
    /// the loader's errors.
    pub fn load(&self, dir: &Path) -> Spec {
        let path = self.write(dir);
        crate::spec::load(&path).unwrap_or_else(|e| panic!("{}\n{}", self.yaml(), e.render(false)))
    }
}

/// Write `names` as device lists under `dir/devices/`, `per_file` to a file
/// (large fleets split their lists over include files: `include: devices/*.yaml`).
pub fn write_device_lists(dir: &Path, names: &[String], per_file: usize) {
    let devices = dir.join("devices");
    std::fs::create_dir_all(&devices).expect("create devices/");
    for (part, chunk) in names.chunks(per_file.max(1)).enumerate() {
        let mut list = String::from("devices:\n");
        for name in chunk {
            let _ = writeln!(list, "  - name: {name}");
        }
        std::fs::write(devices.join(format!("part-{part:03}.yaml")), list)
            .expect("write a device list");
    }
}

/// A live state, built up by a test.
#[derive(Debug, Clone)]
pub struct LiveBuilder {
    fleet: String,
    live: LiveState,
}

impl LiveBuilder {
    /// An account with nothing of the fleet's.
    pub fn empty(fleet: &str) -> Self {
        Self {
            fleet: fleet.to_string(),
            live: LiveState::default(),
        }
    }

    /// The fleet's CA, ACTIVE, EC P-256, valid for ten years from `now`,
    /// registered in IoT in `mode`.
    pub fn with_ca(mut self, now: i64, mode: CertificateMode) -> Self {
        self.live.ca = Some(LiveCa {
            arn: format!(
                "arn:aws:acm-pca:ap-northeast-1:123456789012:certificate-authority/{}",
                self.fleet
            ),
            status: CaStatus::Active,
            key_algorithm: crate::spec::KeyAlgorithm::EcPrime256v1.aws_name().into(),
            signing_algorithm: crate::spec::SigningAlgorithm::Sha256WithEcdsa
                .aws_name()
                .into(),
            owner: Some(self.fleet.clone()),
            certificate_pem: Some(
                "-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n".into(),
            ),
            not_after: Some(now + 3650 * DAY),
            usage_mode: crate::spec::UsageMode::GeneralPurpose,
        });
        self.live.iot_ca = Some(LiveIotCa {
            certificate_id: sha("ca"),
            status: RegistrationStatus::Active,
            mode,
            auto_registration: false,
        });
        self
    }

    /// A policy with this canonical document, owned by `owner`.
    pub fn with_policy(mut self, name: &str, document: &str, owner: Option<&str>) -> Self {
        self.live.policies.insert(
            name.to_string(),
            LivePolicy {
                name: name.to_string(),
                arn: format!("arn:aws:iot:ap-northeast-1:123456789012:policy/{name}"),
                owner: owner.map(str::to_string),
                default_version: "1".into(),
                document: document.to_string(),
                versions: vec![PolicyVersion {
                    id: "1".into(),
                    is_default: true,
                }],
            },
        );
        self
    }

    /// A thing with these attributes, owned by `owner`.
    pub fn with_thing(
        mut self,
        name: &str,
        attributes: &BTreeMap<String, String>,
        owner: Option<&str>,
    ) -> Self {
        self.live.things.insert(
            name.to_string(),
            LiveThing {
                name: name.to_string(),
                thing_type: None,
                attributes: attributes.clone(),
                owner: owner.map(str::to_string),
                version: 1,
            },
        );
        if let Some(owner) = owner {
            self.live
                .markers
                .insert(name.to_string(), owner.to_string());
        }
        self
    }

    pub fn with_certificate(mut self, cert: LiveCertificate) -> Self {
        self.live.certificates.insert(cert.id.clone(), cert);
        self
    }

    /// The records apply leaves on the fleet's things (marker.rs).
    pub fn recorded(mut self) -> Self {
        record_markers(&mut self.live);
        self
    }

    /// Every policy and device of `spec` in place, as an apply at
    /// `issued` left them: each device with its thing, one ACTIVE
    /// certificate of the spec's validity carrying its policies, and its record.
    pub fn steady(spec: &Spec, issued: i64) -> LiveState {
        let fleet = spec.fleet.as_str();
        let mode = CertificateMode::from(spec.ca.iot().mode);
        let mut builder = Self::empty(fleet).with_ca(issued, mode);
        for (name, policy) in &spec.policies {
            builder = builder.with_policy(name, &policy.canonical, Some(fleet));
        }
        for device in spec.devices.values() {
            let key = match &device.key {
                crate::spec::DeviceKey::Csr(csr) => {
                    crate::pki::cert::spki_sha256(&csr.public_key_der)
                }
                _ => sha(&format!("key {}", device.name)),
            };
            let days = device.validity.min_days() as i64;
            let cert = certificate(&device.name, &key, issued, days, &device.policies);
            builder = builder
                .with_thing(&device.name, &device.attributes, Some(fleet))
                .with_certificate(cert);
        }
        builder.recorded().build()
    }

    pub fn build(self) -> LiveState {
        self.live
    }
}

/// An ACTIVE certificate of `device` with key `key_sha256`, registered at
/// `issued`, valid `days`, attached to its thing and `policies`.
pub fn certificate(
    device: &str,
    key_sha256: &str,
    issued: i64,
    days: i64,
    policies: &BTreeSet<String>,
) -> LiveCertificate {
    let id = sha(&format!("certificate {device} {key_sha256} {issued}"));
    LiveCertificate {
        arn: format!("arn:aws:iot:ap-northeast-1:123456789012:cert/{id}"),
        status: CertStatus::Active,
        serial: id[..32].to_string(),
        subject_cn: Some(device.to_string()),
        not_before: issued - 3600,
        not_after: issued - 3600 + days * DAY,
        created_at: issued,
        public_key_sha256: key_sha256.to_string(),
        things: BTreeSet::from([device.to_string()]),
        policies: policies.clone(),
        id,
    }
}

/// The facts apply records on each owned thing: its attached certificates
/// that are not REVOKED, newest first.
pub fn record_markers(live: &mut LiveState) {
    // Certificates by thing, once: fixtures reach 100,000 devices.
    let mut by_thing: BTreeMap<&str, Vec<&LiveCertificate>> = BTreeMap::new();
    for cert in live.certificates.values() {
        if cert.status != CertStatus::Revoked {
            for thing in &cert.things {
                by_thing.entry(thing).or_default().push(cert);
            }
        }
    }
    let mut markers = BTreeMap::new();
    for thing in live.things.values() {
        let Some(owner) = &thing.owner else { continue };
        let mut certs = by_thing.remove(thing.name.as_str()).unwrap_or_default();
        certs.sort_by(|a, b| {
            (b.created_at, b.not_before, &b.id).cmp(&(a.created_at, a.not_before, &a.id))
        });
        let facts: Vec<CertFacts> = certs.into_iter().map(CertFacts::of).collect();
        markers.insert(thing.name.clone(), marker::encode(owner, &facts));
    }
    live.markers.extend(markers);
}
