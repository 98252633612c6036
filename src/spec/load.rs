//! Reading fleet.yaml and the files it names, and checking all of it.
//!
//! The loader never stops at the first problem: every check records a
//! [`Diagnostic`] and carries on with what it could make sense of. YAML that
//! does not fit the model at all (bad syntax, a wrong type, an unknown field)
//! stops that one file; the other files are still read and checked.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rayon::prelude::*;
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};

use super::diagnostic::{Diagnostic, SpecErrors, display_path};
use super::model::{
    CaFile, DefaultsFile, DeviceFile, FleetFile, IncludeFile, LifecycleFile, Loc, PolicyDocument,
    Sp,
};
use super::types::{self, Named};
use super::{
    CaIotSpec, CaSpec, CertValidity, DeviceKey, DeviceSpec, KeyAlgorithm, Lifecycle,
    MAX_ATTRIBUTES_TYPED, MAX_ATTRIBUTES_UNTYPED, MAX_POLICY_CHARS, PolicySpec, RESERVED_ATTRIBUTE,
    RevocationReason, SigningAlgorithm, SourceLocation, Spec, SpecDuration, Subject, ThingTypeSpec,
};
use crate::pki::csr::{self, CsrError, CsrInfo};

type Text = Sp<String>;

const DEFAULT_VALIDITY: CertValidity = CertValidity::Days(365);
const DEFAULT_RENEW_BEFORE: SpecDuration = SpecDuration::from_days(30);
const DEFAULT_CA_VALIDITY: CertValidity = CertValidity::Years(10);

pub(super) struct Loader {
    spec_path: PathBuf,
    base: PathBuf,
    diags: Vec<Diagnostic>,
    sources: BTreeMap<PathBuf, Arc<str>>,
    /// Every file read: path as shown -> sha256 hex.
    hashes: BTreeMap<PathBuf, String>,
}

/// A value and where it was written.
#[derive(Clone)]
struct At<T> {
    value: T,
    file: PathBuf,
    loc: Loc,
}

/// The defaults, checked once.
#[derive(Default)]
struct Defaults {
    validity: Option<At<CertValidity>>,
    renew_before: Option<At<SpecDuration>>,
    /// `None`: not given. Unknown names were reported at the defaults.
    policies: Option<BTreeSet<String>>,
    thing_type: Option<String>,
    attributes: BTreeMap<String, String>,
    /// Where the defaults' attributes are, for count errors.
    attributes_loc: Option<Loc>,
}

/// Something the CA says about device certificates.
struct CaLimits {
    validity: Option<CertValidity>,
}

/// What reading and checking one CSR gave: an unreadable file (why), or the check's result.
type CsrOutcome = Result<Result<CsrInfo, CsrError>, String>;

struct CsrJob {
    device: String,
    /// False for a duplicate device: checked, but not attached to a device.
    attach: bool,
    file: PathBuf,
    loc: Loc,
    path: PathBuf,
}

impl Loader {
    pub(super) fn new(path: &Path) -> Self {
        Self {
            spec_path: path.to_path_buf(),
            base: path.parent().map(Path::to_path_buf).unwrap_or_default(),
            diags: Vec::new(),
            sources: BTreeMap::new(),
            hashes: BTreeMap::new(),
        }
    }

    pub(super) fn run(mut self) -> Result<Spec, SpecErrors> {
        let spec = self.load_all();
        match spec {
            Some(spec) if self.diags.is_empty() => Ok(spec),
            _ => {
                if self.diags.is_empty() {
                    // Defensive: a spec that could not be built always has a reason.
                    self.diags.push(Diagnostic::new(
                        &self.spec_path,
                        Loc::default(),
                        "the spec could not be read",
                    ));
                }
                Err(SpecErrors::new(&self.spec_path, self.diags, self.sources))
            }
        }
    }

    fn push(&mut self, diagnostic: Diagnostic) {
        self.diags.push(diagnostic);
    }

    fn error(
        &mut self,
        file: &Path,
        loc: Loc,
        message: impl Into<String>,
        hint: impl Into<String>,
    ) {
        self.diags
            .push(Diagnostic::new(file, loc, message).hint(hint));
    }

    fn resolve(&self, relative: &str) -> PathBuf {
        self.base.join(relative)
    }

    /// Reads a text file, recording its hash. On failure reports at `at`
    /// (where the file is named) or, for the spec itself, at the file.
    fn read_text(&mut self, path: &Path, what: &str, at: Option<(&Path, Loc)>) -> Option<String> {
        let result = std::fs::read(path);
        let problem = match result {
            Ok(bytes) => {
                self.hashes
                    .insert(path.to_path_buf(), hex::encode(Sha256::digest(&bytes)));
                match String::from_utf8(bytes) {
                    Ok(text) => return Some(text),
                    Err(_) => "it is not UTF-8 text".to_owned(),
                }
            }
            Err(error) => io_problem(&error),
        };
        let message = format!("cannot read {what} `{}`: {problem}", display_path(path));
        let (file, loc) = at.unwrap_or((path, Loc::default()));
        let file = file.to_path_buf();
        let hint = if path == self.spec_path {
            "name the spec with -f, e.g. `fleetcert validate -f path/to/fleet.yaml`"
        } else {
            "paths in fleet.yaml are relative to the directory of fleet.yaml"
        };
        self.error(&file, loc, message, hint);
        None
    }

    fn parse_yaml<T: DeserializeOwned>(&mut self, path: &Path, text: &str) -> Option<T> {
        self.sources.insert(path.to_path_buf(), Arc::from(text));
        match serde_saphyr::from_str::<T>(text) {
            Ok(value) => Some(value),
            Err(error) => {
                self.push(yaml_error(path, text, &error));
                None
            }
        }
    }

    fn load_all(&mut self) -> Option<Spec> {
        let spec_path = self.spec_path.clone();
        let text = self.read_text(&spec_path, "the spec", None)?;
        let file: FleetFile = self.parse_yaml(&spec_path, &text)?;
        let f = spec_path.as_path();

        if file.version.value.trim() != "1" {
            self.error(
                f,
                file.version.loc,
                format!("unsupported version `{}`", file.version.value),
                "this fleetcert reads `version: 1`",
            );
        }
        if !types::is_fleet_name(&file.fleet.value) {
            self.error(
                f,
                file.fleet.loc,
                format!("invalid fleet name `{}`", file.fleet.value),
                "a fleet name is 1 to 64 letters, digits, `_` or `-`",
            );
        }
        let region = file.region.as_ref().map(|region| {
            if !types::is_region(&region.value) {
                self.error(
                    f,
                    region.loc,
                    format!("`{}` is not an AWS region", region.value),
                    "a region looks like `ap-northeast-1`, `us-east-1` or `us-gov-west-1`",
                );
            }
            region.value.clone()
        });

        let ca = self.ca(f, &file.ca, file.region.as_ref());
        let ca_limits = CaLimits {
            validity: match &ca {
                Some(CaSpec::Create { validity, .. }) => Some(*validity),
                _ => None,
            },
        };
        let policies = self.policies(f, &file.policies);
        let thing_types = self.thing_types(f, &file.thing_types);
        let defaults = file
            .defaults
            .as_ref()
            .map(|d| self.defaults(f, d, &file.policies, &file.thing_types, &ca_limits))
            .unwrap_or_default();

        // Devices from the spec, then from each included file in sorted order.
        let mut device_files: Vec<(PathBuf, Vec<Sp<DeviceFile>>)> =
            vec![(spec_path.clone(), file.devices)];
        if let Some(include) = &file.include {
            for path in self.include_paths(f, include) {
                if let Some(text) = self.read_text(&path, "included file", None)
                    && let Some(included) = self.parse_yaml::<IncludeFile>(&path, &text)
                {
                    device_files.push((path, included.devices));
                }
            }
        }

        let mut devices: BTreeMap<String, DeviceSpec> = BTreeMap::new();
        let mut declared: BTreeMap<String, (PathBuf, Loc)> = BTreeMap::new();
        let mut csr_jobs = Vec::new();
        for (path, list) in &device_files {
            for device in list {
                let name = &device.value.name;
                if let Some((first_file, first_loc)) = declared.get(&name.value) {
                    let diagnostic = Diagnostic::new(
                        path,
                        name.loc,
                        format!("duplicate device `{}`", name.value),
                    )
                    .label("declared again here")
                    .note("first declared here", first_file, *first_loc)
                    .hint("device names are IoT thing names and must be unique in the fleet");
                    self.push(diagnostic);
                    // Still check the rest of it, so every error shows at once.
                    let mut ignored = Vec::new();
                    self.device(
                        path,
                        &device.value,
                        &defaults,
                        &file.policies,
                        &file.thing_types,
                        &ca_limits,
                        &mut ignored,
                    );
                    csr_jobs.extend(ignored.into_iter().map(|job| CsrJob {
                        attach: false,
                        ..job
                    }));
                    continue;
                }
                declared.insert(name.value.clone(), (path.clone(), name.loc));
                if let Some(spec) = self.device(
                    path,
                    &device.value,
                    &defaults,
                    &file.policies,
                    &file.thing_types,
                    &ca_limits,
                    &mut csr_jobs,
                ) {
                    devices.insert(spec.name.clone(), spec);
                }
            }
        }
        self.check_csrs(csr_jobs, &mut devices);

        let lifecycle = file
            .lifecycle
            .as_ref()
            .map(|l| self.lifecycle(f, &l.value))
            .unwrap_or_default();
        let output_dir = match file.output.as_ref().and_then(|o| o.value.dir.as_ref()) {
            Some(dir) if dir.value.trim().is_empty() => {
                self.error(
                    f,
                    dir.loc,
                    "`output.dir` is empty",
                    "name a directory relative to fleet.yaml, e.g. `out`",
                );
                self.resolve("out")
            }
            Some(dir) => self.resolve(&dir.value),
            None => self.resolve("out"),
        };
        let rate_limits = self.rate_limits(f, &file.rate_limits);

        let (digest, files) = self.digest();
        Some(Spec {
            path: spec_path.clone(),
            fleet: file.fleet.value.clone(),
            region,
            ca: ca?,
            policies,
            thing_types,
            devices,
            lifecycle,
            output_dir,
            rate_limits,
            digest,
            files,
        })
    }

    fn digest(&self) -> (String, BTreeMap<PathBuf, String>) {
        let mut lines: Vec<(String, &String)> = self
            .hashes
            .iter()
            .map(|(path, hash)| {
                let relative = path.strip_prefix(&self.base).unwrap_or(path);
                (display_path(relative), hash)
            })
            .collect();
        lines.sort();
        let mut hasher = Sha256::new();
        for (path, hash) in lines {
            hasher.update(format!("{hash}  {path}\n").as_bytes());
        }
        (hex::encode(hasher.finalize()), self.hashes.clone())
    }

    // ---------------------------------------------------------------- CA

    fn ca(&mut self, f: &Path, ca: &Sp<CaFile>, region: Option<&Text>) -> Option<CaSpec> {
        let c = &ca.value;
        let iot = self.ca_iot(f, c);
        match (&c.arn, &c.subject) {
            (Some(arn), Some(_)) => {
                self.error(
                    f,
                    arn.loc,
                    "`ca` has both `arn` and `subject`",
                    "`arn` adopts an existing CA; `subject` describes a CA for fleetcert to create: keep one",
                );
                None
            }
            (None, None) => {
                self.error(
                    f,
                    ca.loc,
                    "`ca` needs `arn` or `subject`",
                    "give `arn` to adopt an existing ACM PCA CA, or `subject: {common_name: ...}` to let fleetcert create one",
                );
                None
            }
            (Some(arn), None) => {
                match types::parse_ca_arn(&arn.value) {
                    Ok(parsed) => {
                        if let Some(region) = region
                            && types::is_region(&region.value)
                            && parsed.region != region.value
                        {
                            let diagnostic = Diagnostic::new(
                                f,
                                arn.loc,
                                format!(
                                    "the CA is in `{}`, but `region` is `{}`",
                                    parsed.region, region.value
                                ),
                            )
                            .note("the region is set here", f, region.loc)
                            .hint("fleetcert uses one region for ACM PCA and AWS IoT: adopt a CA from that region, or change `region`");
                            self.push(diagnostic);
                        }
                    }
                    Err(reason) => self.error(
                        f,
                        arn.loc,
                        format!("malformed CA ARN: {reason}"),
                        "a CA ARN looks like arn:aws:acm-pca:<region>:<12-digit account>:certificate-authority/<uuid>",
                    ),
                }
                for (field, value) in [
                    ("key_algorithm", &c.key_algorithm),
                    ("signing_algorithm", &c.signing_algorithm),
                    ("validity", &c.validity),
                ] {
                    if let Some(value) = value {
                        self.error(
                            f,
                            value.loc,
                            format!("`{field}` applies only to a CA fleetcert creates"),
                            "an adopted CA (`arn`) keeps its own key, algorithms and validity: remove this field",
                        );
                    }
                }
                Some(CaSpec::Adopt {
                    arn: arn.value.clone(),
                    iot: iot?,
                })
            }
            (None, Some(subject)) => {
                let subject = self.subject(f, subject);
                let key_algorithm = match &c.key_algorithm {
                    None => Some(KeyAlgorithm::EcPrime256v1),
                    Some(text) => {
                        let key = self.named::<KeyAlgorithm>(f, text);
                        if let Some(key) = key
                            && key != KeyAlgorithm::EcPrime256v1
                        {
                            self.error(
                                f,
                                text.loc,
                                format!("fleetcert creates CAs with EC_prime256v1 keys, not {}", key.aws_name()),
                                "fleetcert's certificates are ECDSA P-256 end to end; to use another CA key, create the CA yourself and adopt it with `arn`",
                            );
                        }
                        key
                    }
                };
                let signing_algorithm = match &c.signing_algorithm {
                    None => Some(SigningAlgorithm::Sha256WithEcdsa),
                    Some(text) => {
                        let signing = self.named::<SigningAlgorithm>(f, text);
                        if let (Some(signing), Some(key)) = (signing, key_algorithm)
                            && !signing.fits(key)
                        {
                            self.error(
                                f,
                                text.loc,
                                format!(
                                    "signing algorithm {} does not fit key algorithm {}",
                                    signing.aws_name(),
                                    key.aws_name()
                                ),
                                "an EC key signs with SHA256WITHECDSA, SHA384WITHECDSA or SHA512WITHECDSA",
                            );
                        }
                        signing
                    }
                };
                let validity = match &c.validity {
                    None => Some(DEFAULT_CA_VALIDITY),
                    Some(text) => self.validity(f, text),
                };
                Some(CaSpec::Create {
                    subject: subject?,
                    key_algorithm: key_algorithm?,
                    signing_algorithm: signing_algorithm?,
                    validity: validity?,
                    iot: iot?,
                })
            }
        }
    }

    fn ca_iot(&mut self, f: &Path, c: &CaFile) -> Option<CaIotSpec> {
        let Some(iot) = &c.iot else {
            return Some(CaIotSpec::default());
        };
        let iot = &iot.value;
        let mode = match &iot.mode {
            Some(text) => self.named(f, text),
            None => Some(Default::default()),
        };
        let status = match &iot.status {
            Some(text) => self.named(f, text),
            None => Some(Default::default()),
        };
        Some(CaIotSpec {
            mode: mode?,
            status: status?,
            auto_registration: iot.auto_registration.unwrap_or(false),
        })
    }

    fn subject(&mut self, f: &Path, subject: &Sp<super::model::SubjectFile>) -> Option<Subject> {
        let s = &subject.value;
        let mut ok = true;
        let mut field = |this: &mut Self, name: &str, value: &Option<Text>, max: usize| {
            let value = value.as_ref()?;
            let length = value.value.chars().count();
            if value.value.trim().is_empty() || length > max {
                this.error(
                    f,
                    value.loc,
                    format!("subject `{name}` must be 1 to {max} characters"),
                    "X.509 limits the length of each part of a distinguished name",
                );
                ok = false;
            }
            Some(value.value.clone())
        };
        let common_name = field(self, "common_name", &Some(s.common_name.clone()), 64);
        let organization = field(self, "organization", &s.organization, 64);
        let organizational_unit = field(self, "organizational_unit", &s.organizational_unit, 64);
        let state = field(self, "state", &s.state, 128);
        let locality = field(self, "locality", &s.locality, 128);
        let country = s.country.as_ref().map(|country| {
            let c = &country.value;
            if c.len() != 2 || !c.chars().all(|ch| ch.is_ascii_uppercase()) {
                self.error(
                    f,
                    country.loc,
                    format!("`{c}` is not a country code"),
                    "write the two capital letters of ISO 3166, e.g. JP or US",
                );
                ok = false;
            }
            c.clone()
        });
        ok.then(|| Subject {
            common_name: common_name.unwrap_or_default(),
            organization,
            organizational_unit,
            country,
            state,
            locality,
        })
    }

    // ---------------------------------------------------------- policies

    fn policies(
        &mut self,
        f: &Path,
        policies: &BTreeMap<Text, Sp<super::model::PolicyFile>>,
    ) -> BTreeMap<String, PolicySpec> {
        let mut out = BTreeMap::new();
        for (name, policy) in policies {
            if !types::is_policy_name(&name.value) {
                self.error(
                    f,
                    name.loc,
                    format!("invalid policy name `{}`", name.value),
                    "an IoT policy name is 1 to 128 letters, digits or `_+=,.@-`",
                );
            }
            let document = &policy.value.document;
            let (value, source) = match &document.value {
                PolicyDocument::Inline(value) => (value.clone(), None),
                PolicyDocument::Path(relative) => {
                    let path = self.resolve(relative);
                    let Some(text) =
                        self.read_text(&path, "policy document", Some((f, document.loc)))
                    else {
                        continue;
                    };
                    self.sources.insert(path.clone(), Arc::from(text.as_str()));
                    match serde_json::from_str::<serde_json::Value>(&text) {
                        Ok(value) => (value, Some(path)),
                        Err(error) => {
                            let loc = Loc {
                                line: u32::try_from(error.line()).unwrap_or(0),
                                column: u32::try_from(error.column()).unwrap_or(0),
                                len: 1,
                            };
                            let message = strip_position(&error.to_string(), " at line ");
                            let diagnostic = Diagnostic::new(
                                &path,
                                loc,
                                format!("policy document `{}` is not JSON: {message}", display_path(&path)),
                            )
                            .note(format!("policy `{}` names it here", name.value), f, document.loc)
                            .hint("an IoT policy document is a JSON object: {\"Version\": \"2012-10-17\", \"Statement\": [...]}");
                            self.push(diagnostic);
                            continue;
                        }
                    }
                }
            };
            let shown = source
                .as_ref()
                .map(|p| format!("policy document `{}`", display_path(p)))
                .unwrap_or_else(|| format!("policy `{}`", name.value));
            let problems = policy_problems(&value);
            if !problems.is_empty() {
                self.error(
                    f,
                    document.loc,
                    format!("{shown} is not an IoT policy: {}", problems.join("; ")),
                    "an IoT policy is {\"Version\": \"2012-10-17\", \"Statement\": [{\"Effect\": \"Allow\" or \"Deny\", \"Action\": ..., \"Resource\": ...}]}; Action and Resource are a string or a list of strings",
                );
            }
            let size = serde_json::to_string(&value)
                .unwrap_or_default()
                .chars()
                .filter(|c| !c.is_whitespace())
                .count();
            if size > MAX_POLICY_CHARS {
                self.error(
                    f,
                    document.loc,
                    format!("{shown} is {size} characters long without whitespace; IoT allows at most {MAX_POLICY_CHARS}"),
                    "split it into several policies and attach them all, or use wildcards and policy variables such as ${iot:Connection.Thing.ThingName}",
                );
            }
            let canonical = super::canonical_json(&value);
            out.insert(
                name.value.clone(),
                PolicySpec {
                    document: value,
                    canonical,
                    source,
                    adopt: policy.value.adopt.unwrap_or(false),
                },
            );
        }
        out
    }

    fn thing_types(
        &mut self,
        f: &Path,
        thing_types: &BTreeMap<Text, Sp<super::model::ThingTypeFile>>,
    ) -> BTreeMap<String, ThingTypeSpec> {
        let mut out = BTreeMap::new();
        for (name, thing_type) in thing_types {
            if !types::is_thing_name(&name.value) {
                self.error(
                    f,
                    name.loc,
                    format!("invalid thing type name `{}`", name.value),
                    "a thing type name is 1 to 128 letters, digits or `:_-`",
                );
            }
            let t = &thing_type.value;
            if let Some(description) = &t.description
                && description.value.chars().count() > 2028
            {
                self.error(
                    f,
                    description.loc,
                    "thing type description is longer than 2028 characters",
                    "IoT limits thing type descriptions to 2028 characters",
                );
            }
            let searchable: Vec<Text> = t.searchable_attributes.clone().unwrap_or_default();
            if searchable.len() > 3 {
                self.error(
                    f,
                    searchable[3].loc,
                    format!(
                        "thing type `{}` has {} searchable attributes; IoT allows at most 3",
                        name.value,
                        searchable.len()
                    ),
                    "keep three searchable attributes; the others can still be set on things",
                );
            }
            for attribute in &searchable {
                self.attribute_name(f, attribute);
            }
            out.insert(
                name.value.clone(),
                ThingTypeSpec {
                    description: t.description.as_ref().map(|d| d.value.clone()),
                    searchable_attributes: searchable.into_iter().map(|a| a.value).collect(),
                },
            );
        }
        out
    }

    // ----------------------------------------------------------- devices

    fn defaults(
        &mut self,
        f: &Path,
        defaults: &Sp<DefaultsFile>,
        policies: &BTreeMap<Text, Sp<super::model::PolicyFile>>,
        thing_types: &BTreeMap<Text, Sp<super::model::ThingTypeFile>>,
        ca: &CaLimits,
    ) -> Defaults {
        let d = &defaults.value;
        let validity = d.validity.as_ref().and_then(|text| {
            let value = self.validity(f, text)?;
            self.check_against_ca(f, text.loc, value, ca, "the default validity");
            Some(At {
                value,
                file: f.to_path_buf(),
                loc: text.loc,
            })
        });
        let renew_before = d.renew_before.as_ref().and_then(|text| {
            let value = self.duration(f, text)?;
            Some(At {
                value,
                file: f.to_path_buf(),
                loc: text.loc,
            })
        });
        // The defaults' own pair is checked once, here.
        if let Some(renew) = &renew_before {
            let validity = validity
                .as_ref()
                .map(|v| v.value)
                .unwrap_or(DEFAULT_VALIDITY);
            self.check_renew(f, renew.loc, renew.value, validity, "by default");
        }
        let policies = d.policies.as_ref().map(|list| {
            list.iter()
                .filter(|p| self.policy_ref(f, p, policies))
                .map(|p| p.value.clone())
                .collect()
        });
        let thing_type = d.thing_type.as_ref().and_then(|t| {
            self.thing_type_ref(f, t, thing_types)
                .then(|| t.value.clone())
        });
        let mut attributes = BTreeMap::new();
        if let Some(map) = &d.attributes {
            for (key, value) in map {
                if self.attribute(f, key, value) {
                    attributes.insert(key.value.clone(), value.value.clone());
                }
            }
        }
        Defaults {
            validity,
            renew_before,
            policies,
            thing_type,
            attributes_loc: d
                .attributes
                .as_ref()
                .and_then(|m| m.keys().next().map(|k| k.loc)),
            attributes,
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn device(
        &mut self,
        f: &Path,
        device: &DeviceFile,
        defaults: &Defaults,
        policies: &BTreeMap<Text, Sp<super::model::PolicyFile>>,
        thing_types: &BTreeMap<Text, Sp<super::model::ThingTypeFile>>,
        ca: &CaLimits,
        csr_jobs: &mut Vec<CsrJob>,
    ) -> Option<DeviceSpec> {
        let name = &device.name;
        let mut ok = true;
        if !types::is_thing_name(&name.value) {
            self.error(
                f,
                name.loc,
                format!("invalid device name `{}`", name.value),
                "a device name is its IoT thing name: 1 to 128 letters, digits or `:_-` (no spaces or dots)",
            );
            ok = false;
        }

        // Key.
        let key = match (&device.csr, &device.certificate_id) {
            (Some(_), Some(id)) => {
                self.error(
                    f,
                    id.loc,
                    format!("device `{}` has both `csr` and `certificate_id`", name.value),
                    "`csr` asks fleetcert to issue a certificate for the device's own key; `certificate_id` adopts an existing certificate: keep one",
                );
                ok = false;
                DeviceKey::Generated
            }
            (Some(csr), None) => {
                csr_jobs.push(CsrJob {
                    device: name.value.clone(),
                    attach: true,
                    file: f.to_path_buf(),
                    loc: csr.loc,
                    path: self.resolve(&csr.value),
                });
                DeviceKey::Generated
            }
            (None, Some(id)) => {
                if !types::is_certificate_id(&id.value) {
                    self.error(
                        f,
                        id.loc,
                        format!("`{}` is not an IoT certificate id", id.value),
                        "a certificate id is 64 lowercase hexadecimal digits, as `aws iot list-certificates` shows it",
                    );
                    ok = false;
                }
                DeviceKey::External {
                    certificate_id: id.value.clone(),
                }
            }
            (None, None) => DeviceKey::Generated,
        };

        // Thing type.
        let thing_type = match &device.thing_type {
            Some(t) => {
                if !self.thing_type_ref(f, t, thing_types) {
                    ok = false;
                }
                Some(t.value.clone())
            }
            None => defaults.thing_type.clone(),
        };

        // Attributes: the defaults', then the device's own over them.
        let mut attributes = defaults.attributes.clone();
        if let Some(map) = &device.attributes {
            for (key, value) in map {
                if self.attribute(f, key, value) {
                    attributes.insert(key.value.clone(), value.value.clone());
                } else {
                    ok = false;
                }
            }
        }
        let limit = if thing_type.is_some() {
            MAX_ATTRIBUTES_TYPED
        } else {
            MAX_ATTRIBUTES_UNTYPED
        };
        if attributes.len() + 1 > limit {
            let loc = device
                .attributes
                .as_ref()
                .and_then(|m| m.keys().next().map(|k| k.loc))
                .unwrap_or(name.loc);
            let (kind, other) = if thing_type.is_some() {
                ("with a thing type", "")
            } else {
                (
                    "without a thing type",
                    "; give the device a thing type to allow 49",
                )
            };
            let mut diagnostic = Diagnostic::new(
                f,
                loc,
                format!(
                    "device `{}` has {} attributes; a thing {kind} may have at most {}",
                    name.value,
                    attributes.len(),
                    limit - 1
                ),
            )
            .hint(format!(
                "IoT allows {limit} attributes on a thing {kind}, and fleetcert reserves one of them (`{RESERVED_ATTRIBUTE}`, its ownership marker){other}"
            ));
            if device.attributes.is_none()
                && let Some(defaults_loc) = defaults.attributes_loc
            {
                diagnostic =
                    diagnostic.note("the attributes come from the defaults", f, defaults_loc);
            }
            self.push(diagnostic);
            ok = false;
        }

        // Policies: the device's own list replaces the defaults'.
        let policy_names: BTreeSet<String> = match &device.policies {
            Some(list) => {
                let mut names = BTreeSet::new();
                for p in list {
                    if self.policy_ref(f, p, policies) {
                        names.insert(p.value.clone());
                    } else {
                        ok = false;
                    }
                }
                names
            }
            None => defaults.policies.clone().unwrap_or_default(),
        };

        // Validity and renewal.
        let validity = match &device.validity {
            Some(text) => {
                let value = self.validity(f, text);
                if let Some(value) = value {
                    self.check_against_ca(
                        f,
                        text.loc,
                        value,
                        ca,
                        &format!("device `{}`'s validity", name.value),
                    );
                }
                value.map(|value| At {
                    value,
                    file: f.to_path_buf(),
                    loc: text.loc,
                })
            }
            None => defaults.validity.clone(),
        };
        let renew_before = match &device.renew_before {
            Some(text) => self.duration(f, text).map(|value| At {
                value,
                file: f.to_path_buf(),
                loc: text.loc,
            }),
            None => defaults.renew_before.clone(),
        };
        if device.validity.is_some() && validity.is_none()
            || device.renew_before.is_some() && renew_before.is_none()
        {
            ok = false;
        }
        let validity_value = validity
            .as_ref()
            .map(|v| v.value)
            .unwrap_or(DEFAULT_VALIDITY);
        let renew_value = renew_before
            .as_ref()
            .map(|r| r.value)
            .unwrap_or(DEFAULT_RENEW_BEFORE);
        // Check the pair here only when the device set one of them; the
        // defaults' own pair was checked once at the defaults.
        if device.validity.is_some() || device.renew_before.is_some() {
            let (file, loc) = match (&device.renew_before, &renew_before, &validity) {
                (Some(_), Some(r), _) => (r.file.clone(), r.loc),
                (_, _, Some(v)) if device.validity.is_some() => (v.file.clone(), v.loc),
                _ => (f.to_path_buf(), name.loc),
            };
            if !self.check_renew(
                &file,
                loc,
                renew_value,
                validity_value,
                &format!("for device `{}`", name.value),
            ) {
                ok = false;
            }
        }

        // Revocation.
        let revoked = device.revoked.as_ref().is_some_and(|r| r.value);
        let revoked = match (&device.revocation_reason, revoked) {
            (Some(reason), false) => {
                self.error(
                    f,
                    reason.loc,
                    "`revocation_reason` without `revoked: true`",
                    "add `revoked: true` to revoke the device's certificate, or remove `revocation_reason`",
                );
                ok = false;
                None
            }
            (Some(reason), true) => match self.named::<RevocationReason>(f, reason) {
                Some(reason) => Some(reason),
                None => {
                    ok = false;
                    None
                }
            },
            (None, true) => Some(RevocationReason::Unspecified),
            (None, false) => None,
        };

        ok.then(|| DeviceSpec {
            name: name.value.clone(),
            key,
            attributes,
            thing_type,
            policies: policy_names,
            validity: validity_value,
            renew_before: renew_value,
            revoked,
            source: SourceLocation {
                file: f.to_path_buf(),
                line: name.loc.line,
                column: name.loc.column,
            },
            adopt: device.adopt.unwrap_or(false),
        })
    }

    /// Reads and checks every CSR in parallel, then reports in device order.
    fn check_csrs(&mut self, jobs: Vec<CsrJob>, devices: &mut BTreeMap<String, DeviceSpec>) {
        let results: Vec<(Vec<u8>, CsrOutcome)> = jobs
            .par_iter()
            .map(|job| match std::fs::read(&job.path) {
                Err(error) => (Vec::new(), Err(io_problem(&error))),
                Ok(bytes) => {
                    let parsed = match std::str::from_utf8(&bytes) {
                        Ok(text) => csr::parse_csr(&job.path, text),
                        Err(_) => Err(CsrError::NotPem),
                    };
                    (bytes, Ok(parsed))
                }
            })
            .collect();
        for (job, (bytes, result)) in jobs.into_iter().zip(results) {
            let shown = display_path(&job.path);
            match result {
                Err(problem) => {
                    self.error(
                        &job.file,
                        job.loc,
                        format!("cannot read CSR `{shown}`: {problem}"),
                        "paths in fleet.yaml are relative to the directory of fleet.yaml; make the CSR on the device and commit it",
                    );
                    if job.attach {
                        devices.remove(&job.device);
                    }
                }
                Ok(parsed) => {
                    self.hashes
                        .insert(job.path.clone(), hex::encode(Sha256::digest(&bytes)));
                    match parsed {
                        Err(error) => {
                            let hint = match error {
                                CsrError::WrongKey { .. } | CsrError::BadPoint => {
                                    "make the device's key on P-256 (prime256v1), e.g. `openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=<device>`"
                                }
                                CsrError::BadSignature => {
                                    "make a new CSR on the device; a CSR must be signed by the key it carries"
                                }
                                _ => {
                                    "a CSR is a PEM file starting with -----BEGIN CERTIFICATE REQUEST-----"
                                }
                            };
                            self.error(&job.file, job.loc, format!("CSR `{shown}` {error}"), hint);
                            if job.attach {
                                devices.remove(&job.device);
                            }
                        }
                        Ok(info) if info.common_name != job.device => {
                            self.error(
                                &job.file,
                                job.loc,
                                format!(
                                    "CSR `{shown}` has CN `{}`, but the device is `{}`",
                                    info.common_name, job.device
                                ),
                                format!(
                                    "the CN of a device's CSR is its thing name: make a new CSR with CN={}",
                                    job.device
                                ),
                            );
                            if job.attach {
                                devices.remove(&job.device);
                            }
                        }
                        Ok(info) => {
                            if let Some(device) =
                                devices.get_mut(&job.device).filter(|_| job.attach)
                            {
                                device.key = DeviceKey::Csr(info);
                            }
                        }
                    }
                }
            }
        }
    }

    // ------------------------------------------------------------ checks

    fn named<T: Named + PartialEq>(&mut self, f: &Path, text: &Text) -> Option<T> {
        let value = T::parse_named(&text.value);
        if value.is_none() {
            self.error(
                f,
                text.loc,
                format!("unknown {} `{}`", T::WHAT, text.value),
                T::expected(),
            );
        }
        value
    }

    fn validity(&mut self, f: &Path, text: &Text) -> Option<CertValidity> {
        match text.value.parse() {
            Ok(v) => Some(v),
            Err(message) => {
                self.error(f, text.loc, message, types::VALIDITY_HINT);
                None
            }
        }
    }

    fn duration(&mut self, f: &Path, text: &Text) -> Option<SpecDuration> {
        match text.value.parse() {
            Ok(v) => Some(v),
            Err(message) => {
                self.error(f, text.loc, message, types::DURATION_HINT);
                None
            }
        }
    }

    /// `renew_before` must be shorter than the validity (and not zero).
    fn check_renew(
        &mut self,
        f: &Path,
        loc: Loc,
        renew: SpecDuration,
        validity: CertValidity,
        whose: &str,
    ) -> bool {
        if renew.as_secs() == 0 {
            self.error(
                f,
                loc,
                format!("`renew_before` is zero {whose}"),
                "renew some time before expiry, e.g. 30d",
            );
            return false;
        }
        if renew >= validity.min_duration() {
            self.error(
                f,
                loc,
                format!("`renew_before` ({renew}) is not shorter than the validity ({validity}) {whose}"),
                "a certificate would be renewed as soon as it is issued: shorten renew_before or lengthen validity",
            );
            return false;
        }
        true
    }

    /// A device validity must not outlast the CA fleetcert creates.
    fn check_against_ca(
        &mut self,
        f: &Path,
        loc: Loc,
        validity: CertValidity,
        ca: &CaLimits,
        whose: &str,
    ) {
        if let Some(ca_validity) = ca.validity
            && validity.max_days() > ca_validity.min_days()
        {
            self.error(
                f,
                loc,
                format!("{whose} ({validity}, up to {} days) can outlast the CA ({ca_validity}, at least {} days)", validity.max_days(), ca_validity.min_days()),
                "PCA cannot issue a certificate that outlives its CA (months count as up to 31 days, years as up to 366): shorten the device validity or lengthen `ca.validity`",
            );
        }
    }

    fn policy_ref(
        &mut self,
        f: &Path,
        p: &Text,
        policies: &BTreeMap<Text, Sp<super::model::PolicyFile>>,
    ) -> bool {
        if policies.keys().any(|k| k.value == p.value) {
            return true;
        }
        let known: Vec<&str> = policies.keys().map(|k| k.value.as_str()).collect();
        let hint = if known.is_empty() {
            "no policies are declared: add it under `policies:`".to_owned()
        } else {
            format!("declared policies: {}", known.join(", "))
        };
        self.error(f, p.loc, format!("unknown policy `{}`", p.value), hint);
        false
    }

    fn thing_type_ref(
        &mut self,
        f: &Path,
        t: &Text,
        thing_types: &BTreeMap<Text, Sp<super::model::ThingTypeFile>>,
    ) -> bool {
        if thing_types.keys().any(|k| k.value == t.value) {
            return true;
        }
        let known: Vec<&str> = thing_types.keys().map(|k| k.value.as_str()).collect();
        let hint = if known.is_empty() {
            "no thing types are declared: add it under `thing_types:`".to_owned()
        } else {
            format!("declared thing types: {}", known.join(", "))
        };
        self.error(f, t.loc, format!("unknown thing type `{}`", t.value), hint);
        false
    }

    fn attribute_name(&mut self, f: &Path, key: &Text) -> bool {
        if key.value == RESERVED_ATTRIBUTE {
            self.error(
                f,
                key.loc,
                format!("attribute `{RESERVED_ATTRIBUTE}` is reserved"),
                format!("fleetcert keeps its ownership marker in the thing attribute `{RESERVED_ATTRIBUTE}`; it is the one attribute fleetcert reserves, and it counts toward IoT's limit (3 attributes, 50 with a thing type): rename yours"),
            );
            return false;
        }
        if !types::is_attribute_name(&key.value) {
            self.error(
                f,
                key.loc,
                format!(
                    "invalid attribute name `{}`: {}",
                    key.value,
                    if key.value.chars().count() > 128 {
                        "longer than 128 characters".to_owned()
                    } else {
                        bad_chars(&key.value, "_.,@/:#-")
                    }
                ),
                "an IoT attribute name is 1 to 128 letters, digits or `_.,@/:#-` (no spaces)",
            );
            return false;
        }
        true
    }

    fn attribute(&mut self, f: &Path, key: &Text, value: &Text) -> bool {
        let name_ok = self.attribute_name(f, key);
        let v = &value.value;
        if v.is_empty() {
            self.error(
                f,
                value.loc,
                format!("attribute `{}` has an empty value", key.value),
                "IoT removes an attribute set to an empty value: leave the attribute out instead",
            );
            return false;
        }
        if !types::is_attribute_value(v) {
            let problem = if v.chars().count() > 800 {
                format!("is {} characters long", v.chars().count())
            } else {
                format!("`{v}` has {}", bad_chars(v, "_.,@/:#=[]-"))
            };
            self.error(
                f,
                value.loc,
                format!("the value of attribute `{}` {problem}", key.value),
                "an IoT attribute value is at most 800 letters, digits or `_.,@/:#=[]-` (no spaces)",
            );
            return false;
        }
        name_ok
    }

    fn include_paths(&mut self, f: &Path, include: &Sp<super::model::IncludeList>) -> Vec<PathBuf> {
        let mut paths = BTreeSet::new();
        for pattern in &include.value.0 {
            let loc = if pattern.loc.is_known() {
                pattern.loc
            } else {
                include.loc
            };
            let full = self.resolve(&pattern.value);
            let full_text = full.to_string_lossy().into_owned();
            let matches = match glob::glob(&full_text) {
                Err(error) => {
                    self.error(
                        f,
                        loc,
                        format!("invalid include pattern `{}`: {}", pattern.value, error.msg),
                        "an include is a glob pattern relative to fleet.yaml, e.g. `devices/*.yaml`",
                    );
                    continue;
                }
                Ok(matches) => matches,
            };
            let mut found = 0;
            for entry in matches {
                match entry {
                    Ok(path) if path == self.spec_path => {}
                    Ok(path) if path.is_file() => {
                        found += 1;
                        paths.insert(path);
                    }
                    Ok(_) => {}
                    Err(error) => {
                        found += 1;
                        let path = error.path().to_path_buf();
                        self.error(
                            f,
                            loc,
                            format!(
                                "cannot read included file `{}`: {}",
                                display_path(&path),
                                io_problem(error.error())
                            ),
                            "check the file's permissions",
                        );
                    }
                }
            }
            if found == 0 {
                self.error(
                    f,
                    loc,
                    format!("include pattern `{}` matches no file", pattern.value),
                    "patterns are relative to the directory of fleet.yaml; remove the pattern or add the files",
                );
            }
        }
        paths.into_iter().collect()
    }

    fn lifecycle(&mut self, f: &Path, l: &LifecycleFile) -> Lifecycle {
        let defaults = Lifecycle::default();
        let on_removal = l
            .on_removal
            .as_ref()
            .and_then(|t| self.named(f, t))
            .unwrap_or(defaults.on_removal);
        let retire = l
            .retire
            .as_ref()
            .and_then(|t| self.named(f, t))
            .unwrap_or(defaults.retire);
        let rotation_overlap = l
            .rotation_overlap
            .as_ref()
            .and_then(|t| self.duration(f, t))
            .unwrap_or(defaults.rotation_overlap);
        let delete_certificates = l.delete_certificates.as_ref().is_some_and(|d| d.value);
        if let Some(delete) = &l.delete_certificates
            && delete.value
            && on_removal == super::OnRemoval::Keep
        {
            self.error(
                f,
                delete.loc,
                "`delete_certificates: true` with `on_removal: keep`",
                "IoT deletes only certificates that are not ACTIVE: use `on_removal: revoke` or `deactivate`, or do not delete certificates",
            );
        }
        Lifecycle {
            on_removal,
            delete_things: l.delete_things.unwrap_or(defaults.delete_things),
            delete_certificates,
            rotation_overlap,
            retire,
            max_destructive_changes: l
                .max_destructive_changes
                .unwrap_or(defaults.max_destructive_changes),
        }
    }

    fn rate_limits(&mut self, f: &Path, limits: &BTreeMap<Text, Sp<f64>>) -> BTreeMap<String, f64> {
        let mut out = BTreeMap::new();
        for (op, rate) in limits {
            let mut ok = true;
            if !types::is_rate_limit_op(&op.value) {
                self.error(
                    f,
                    op.loc,
                    format!("`{}` is not an AWS operation", op.value),
                    "name an operation as `acm-pca:<Operation>` or `iot:<Operation>`, e.g. `iot:RegisterCertificate`",
                );
                ok = false;
            }
            if !(rate.value.is_finite() && rate.value > 0.0) {
                self.error(
                    f,
                    rate.loc,
                    format!(
                        "rate limit for `{}` must be a number of requests per second above 0",
                        op.value
                    ),
                    "e.g. `iot:RegisterCertificate: 5`",
                );
                ok = false;
            }
            if ok {
                out.insert(op.value.clone(), rate.value);
            }
        }
        out
    }
}

/// The problems with a policy document's shape.
fn policy_problems(document: &serde_json::Value) -> Vec<String> {
    use serde_json::Value;
    let Value::Object(map) = document else {
        return vec!["a policy document must be a JSON object".into()];
    };
    let mut problems = Vec::new();
    match map.get("Version") {
        Some(Value::String(_)) => {}
        Some(_) => problems.push("`Version` must be a string such as \"2012-10-17\"".into()),
        None => problems.push("`Version` is missing".into()),
    }
    let statements = match map.get("Statement") {
        Some(Value::Array(list)) if !list.is_empty() => list,
        Some(Value::Array(_)) => {
            problems.push("`Statement` is empty".into());
            return problems;
        }
        Some(_) => {
            problems.push("`Statement` must be a list of statements".into());
            return problems;
        }
        None => {
            problems.push("`Statement` is missing".into());
            return problems;
        }
    };
    let strings = |value: Option<&Value>| match value {
        Some(Value::String(s)) => !s.is_empty(),
        Some(Value::Array(items)) => {
            !items.is_empty()
                && items
                    .iter()
                    .all(|i| matches!(i, Value::String(s) if !s.is_empty()))
        }
        _ => false,
    };
    for (index, statement) in statements.iter().enumerate() {
        let n = index + 1;
        let Value::Object(statement) = statement else {
            problems.push(format!("statement {n} must be an object"));
            continue;
        };
        match statement.get("Effect") {
            Some(Value::String(e)) if e == "Allow" || e == "Deny" => {}
            Some(other) => problems.push(format!(
                "statement {n}: `Effect` must be \"Allow\" or \"Deny\", not {other}"
            )),
            None => problems.push(format!("statement {n}: `Effect` is missing")),
        }
        for field in ["Action", "Resource"] {
            if !strings(statement.get(field)) {
                let problem = if statement.contains_key(field) {
                    "must be a string or a non-empty list of strings"
                } else {
                    "is missing"
                };
                problems.push(format!("statement {n}: `{field}` {problem}"));
            }
        }
    }
    problems
}

/// A YAML error as a diagnostic, in words for people.
fn yaml_error(path: &Path, text: &str, error: &serde_saphyr::Error) -> Diagnostic {
    let loc = error
        .location()
        .map(|l| Loc {
            line: u32::try_from(l.line()).unwrap_or(0),
            column: u32::try_from(l.column()).unwrap_or(0),
            len: u32::try_from(l.span().len()).unwrap_or(0),
        })
        .unwrap_or_default();
    let raw = error.without_snippet().to_string();
    let message = strip_position(&raw, " at line ");
    let file = display_path(path);
    if text.trim().is_empty()
        || (message.starts_with("unexpected end of input")
            && text
                .lines()
                .all(|l| l.trim().is_empty() || l.trim_start().starts_with('#')))
    {
        return Diagnostic::new(path, Loc::default(), format!("`{file}` is empty"))
            .hint("a fleet spec starts with `version: 1`, `fleet:` and `ca:`; see examples/minimal/fleet.yaml");
    }
    let (message, hint) = explain_yaml(&message);
    let hint = hint.or_else(|| {
        Some(if message.starts_with("while parsing") || message.contains("did not find expected") {
            "YAML syntax: check the indentation, quotes and brackets on this line and the one before".to_owned()
        } else {
            "see schema/fleet.schema.json for the shape of each field".to_owned()
        })
    });
    let diagnostic = Diagnostic::new(path, loc, message);
    match hint {
        Some(hint) => diagnostic.hint(hint),
        None => diagnostic,
    }
}

/// Rewords serde/YAML messages and adds a hint where one helps.
fn explain_yaml(message: &str) -> (String, Option<String>) {
    if let Some(rest) = message.strip_prefix("unknown field `") {
        let (field, expected) = rest.split_once('`').unwrap_or((rest, ""));
        let expected = expected
            .trim_start_matches(',')
            .trim()
            .trim_start_matches("expected one of")
            .trim_start_matches("expected")
            .trim()
            .replace('`', "");
        let hint = if expected.is_empty() || expected == "there are no fields" {
            "this mapping takes no fields".to_owned()
        } else {
            format!("expected one of: {expected}")
        };
        return (format!("unknown field `{field}`"), Some(hint));
    }
    if message.starts_with("missing field") {
        return (
            message.to_owned(),
            Some("add the field; see schema/fleet.schema.json for the format".into()),
        );
    }
    if message.starts_with("cannot deserialize null into string") {
        return (
            "expected a value, found nothing".into(),
            Some("write a value after the colon, or remove the key".into()),
        );
    }
    if let Some(key) = message.strip_prefix("duplicate mapping key: ") {
        let key = key.split(", set DuplicateKeyPolicy").next().unwrap_or(key);
        return (
            format!("duplicate key `{key}`"),
            Some("each key may appear once in a mapping".into()),
        );
    }
    if message.starts_with("invalid boolean") {
        return (
            "expected true or false".into(),
            Some("write `true` or `false`".into()),
        );
    }
    let wording = [
        ("expected sequence start", "expected a list"),
        ("expected mapping start", "expected a mapping"),
        ("expected string scalar", "expected a string"),
    ];
    for (from, to) in wording {
        if message.starts_with(from) {
            return (to.into(), None);
        }
    }
    (message.to_owned(), None)
}

/// `message` without a trailing ` at line N, column M` (or `... column M`).
fn strip_position(message: &str, marker: &str) -> String {
    match message.rfind(marker) {
        Some(at)
            if message[at + marker.len()..]
                .chars()
                .all(|c| c.is_ascii_digit() || " ,column".contains(c)) =>
        {
            message[..at].to_owned()
        }
        _ => message.to_owned(),
    }
}

/// "a space and `!`": the characters of `text` outside letters, digits and `extra`.
fn bad_chars(text: &str, extra: &str) -> String {
    let mut seen: Vec<char> = Vec::new();
    for c in text.chars() {
        if !(c.is_ascii_alphanumeric() || extra.contains(c) || seen.contains(&c)) {
            seen.push(c);
        }
    }
    let names: Vec<String> = seen
        .iter()
        .map(|c| match c {
            ' ' => "a space".to_owned(),
            '\t' => "a tab".to_owned(),
            c => format!("`{c}`"),
        })
        .collect();
    if names.is_empty() {
        "no characters".to_owned()
    } else {
        format!("characters IoT does not allow: {}", names.join(", "))
    }
}

/// An I/O error in words that do not depend on the platform.
fn io_problem(error: &std::io::Error) -> String {
    use std::io::ErrorKind;
    match error.kind() {
        ErrorKind::NotFound => "no such file".into(),
        ErrorKind::PermissionDenied => "permission denied".into(),
        ErrorKind::IsADirectory => "it is a directory".into(),
        kind => kind.to_string(),
    }
}
