//! Reading fleet.yaml and the files it names, and checking all of it.
//!
//! The loader never stops at the first problem: every check records a
//! [`Diagnostic`] and carries on with what it could make sense of. YAML that
//! does not fit the model at all (bad syntax, a wrong type, an unknown field)
//! stops that one file; the other files are still read and checked.

mod ca;
mod checks;
mod confine;
mod csrs;
mod devices;
mod files;
mod lifecycle;
mod messages;
mod policies;
mod unclosed;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::diagnostic::display_path;
use super::diagnostic::{Diagnostic, SpecErrors};
use super::model::{
    DeviceFile, FleetFile, IncludeFile, IncludeList, Loc, OutputFile, PolicyFile, Sp, ThingTypeFile,
};
use super::types;
use super::{CaSpec, CertValidity, DeviceSpec, Output, Spec, SpecDuration};
use crate::pki::csr::{CsrError, CsrInfo};

type Text = Sp<String>;

const DEFAULT_VALIDITY: CertValidity = CertValidity::Days(365);
const DEFAULT_RENEW_BEFORE: SpecDuration = SpecDuration::from_days(30);
/// How to fix a path that leaves the repository.
const CONFINED_HINT: &str = "paths in fleet.yaml are relative to fleet.yaml and must stay inside its repository \
     (the git work tree holding fleet.yaml, or fleet.yaml's directory outside one); copy the file into the repository";
const DEFAULT_CA_VALIDITY: CertValidity = CertValidity::Years(10);

pub(super) struct Loader {
    spec_path: PathBuf,
    base: PathBuf,
    /// What the spec's paths must stay inside.
    root: confine::Root,
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

impl<T> At<T> {
    fn new(value: T, file: &Path, loc: Loc) -> Self {
        Self {
            value,
            file: file.to_path_buf(),
            loc,
        }
    }
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
    usage_mode: super::UsageMode,
}

impl CaLimits {
    /// Only a CA fleetcert creates has a validity and a mode known from the spec.
    fn of(ca: Option<&CaSpec>) -> Self {
        match ca {
            Some(CaSpec::Create {
                validity,
                usage_mode,
                ..
            }) => Self {
                validity: Some(*validity),
                usage_mode: *usage_mode,
            },
            _ => Self {
                validity: None,
                usage_mode: super::UsageMode::GeneralPurpose,
            },
        }
    }
}

/// What each device is checked against besides its own fields.
struct DeviceContext<'a> {
    defaults: &'a Defaults,
    /// The spec's policies and thing types, as written, for references.
    policies: &'a BTreeMap<Text, Sp<PolicyFile>>,
    thing_types: &'a BTreeMap<Text, Sp<ThingTypeFile>>,
    ca: &'a CaLimits,
}

/// The devices one file declares: fleet.yaml or an included file.
struct DeclaredDevices {
    path: PathBuf,
    devices: Vec<Sp<DeviceFile>>,
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
        let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
        Self {
            spec_path: path.to_path_buf(),
            root: confine::Root::find(&base),
            base,
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

    fn load_all(&mut self) -> Option<Spec> {
        let spec_path = self.spec_path.clone();
        // fleet.yaml itself may be a committed symlink to /proc/self/environ.
        if let Err(escape) = self
            .root
            .check_resolved(&spec_path, &display_path(&spec_path))
        {
            self.error(
                &spec_path,
                Loc::default(),
                format!("the spec {escape}"),
                CONFINED_HINT,
            );
            return None;
        }
        let text = self.read_text(&spec_path, "the spec", None, confine::MAX_SPEC_BYTES)?;
        let file: FleetFile = self.parse_yaml(&spec_path, &text)?;
        let f = spec_path.as_path();

        let region = self.header(f, &file);
        let ca = self.ca(f, &file.ca, file.region.as_ref());
        let ca_limits = CaLimits::of(ca.as_ref());
        let policies = self.policies(f, &file.policies);
        let thing_types = self.thing_types(f, &file.thing_types);
        let defaults = file
            .defaults
            .as_ref()
            .map(|d| self.defaults(f, d, &file.policies, &file.thing_types, &ca_limits))
            .unwrap_or_default();
        let delivery_loc = file
            .lifecycle
            .as_ref()
            .and_then(|l| l.value.rotation.as_ref())
            .and_then(|r| r.value.delivery.as_ref())
            .map(|d| d.loc)
            .unwrap_or_default();
        let device_files = self.device_files(f, file.devices, file.include.as_ref());
        let context = DeviceContext {
            defaults: &defaults,
            policies: &file.policies,
            thing_types: &file.thing_types,
            ca: &ca_limits,
        };
        let devices = self.devices(&device_files, &context);
        let lifecycle = file
            .lifecycle
            .as_ref()
            .map(|l| self.lifecycle(f, &l.value))
            .unwrap_or_default();
        let output = self.output(f, file.output.as_ref());
        self.check_delivery(f, delivery_loc, &lifecycle, &output, &devices);
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
            output,
            rate_limits,
            strict: file.strict.unwrap_or(false),
            digest,
            files,
        })
    }

    /// Job delivery names where a generated key is, and a device can fetch
    /// it only from a secret store: a key in files on the machine that runs
    /// apply (a CI runner, often thrown away) never reaches the device.
    fn check_delivery(
        &mut self,
        f: &Path,
        loc: Loc,
        lifecycle: &crate::spec::Lifecycle,
        output: &crate::spec::Output,
        devices: &BTreeMap<String, crate::spec::DeviceSpec>,
    ) {
        if lifecycle.rotation.delivery != crate::spec::Delivery::Job || output.dir().is_none() {
            return;
        }
        let Some(device) = devices
            .values()
            .find(|d| d.key == crate::spec::DeviceKey::Generated)
        else {
            return;
        };
        self.error(
            f,
            loc,
            format!(
                "`delivery: job` with generated keys written to files: device {}'s new key would stay on the machine that runs apply",
                device.name
            ),
            "give such devices a `csr` (the device keeps its key), or write bundles to `output.secrets_manager` or `output.ssm`, where the job tells the device to fetch its key",
        );
    }

    /// Check `version`, `fleet` and `region`; the region as written.
    fn header(&mut self, f: &Path, file: &FleetFile) -> Option<String> {
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
        let region = file.region.as_ref()?;
        if !types::is_region(&region.value) {
            self.error(
                f,
                region.loc,
                format!("`{}` is not an AWS region", region.value),
                "a region looks like `ap-northeast-1`, `us-east-1` or `us-gov-west-1`",
            );
        }
        Some(region.value.clone())
    }

    /// The spec's own devices, then each included file's in sorted order.
    /// A file that cannot be read or parsed was reported and is left out.
    fn device_files(
        &mut self,
        f: &Path,
        devices: Vec<Sp<DeviceFile>>,
        include: Option<&Sp<IncludeList>>,
    ) -> Vec<DeclaredDevices> {
        let mut files = vec![DeclaredDevices {
            path: f.to_path_buf(),
            devices,
        }];
        let Some(include) = include else {
            return files;
        };
        for path in self.include_paths(f, include) {
            if let Some(text) =
                self.read_text(&path, "included file", None, confine::MAX_SPEC_BYTES)
                && let Some(included) = self.parse_yaml::<IncludeFile>(&path, &text)
            {
                files.push(DeclaredDevices {
                    path,
                    devices: included.devices,
                });
            }
        }
        files
    }

    /// Every device in the order the files declare them, then their CSRs.
    fn devices(
        &mut self,
        files: &[DeclaredDevices],
        context: &DeviceContext,
    ) -> BTreeMap<String, DeviceSpec> {
        let mut devices: BTreeMap<String, DeviceSpec> = BTreeMap::new();
        let mut declared: BTreeMap<String, (PathBuf, Loc)> = BTreeMap::new();
        let mut csr_jobs = Vec::new();
        for file in files {
            for device in &file.devices {
                let name = &device.value.name;
                if let Some(first) = declared.get(&name.value) {
                    self.duplicate_device(&file.path, &device.value, first, context, &mut csr_jobs);
                    continue;
                }
                declared.insert(name.value.clone(), (file.path.clone(), name.loc));
                if let Some(spec) = self.device(&file.path, &device.value, context, &mut csr_jobs) {
                    devices.insert(spec.name.clone(), spec);
                }
            }
        }
        self.check_csrs(csr_jobs, &mut devices);
        devices
    }

    /// Report a device declared again (`first`: where it was declared first),
    /// and still check the rest of it, so every error shows at once. Its CSR
    /// is checked but attached to no device.
    fn duplicate_device(
        &mut self,
        path: &Path,
        device: &DeviceFile,
        (first_file, first_loc): &(PathBuf, Loc),
        context: &DeviceContext,
        csr_jobs: &mut Vec<CsrJob>,
    ) {
        let name = &device.name;
        let diagnostic =
            Diagnostic::new(path, name.loc, format!("duplicate device `{}`", name.value))
                .label("declared again here")
                .note("first declared here", first_file, *first_loc)
                .hint("device names are IoT thing names and must be unique in the fleet");
        self.push(diagnostic);
        let mut ignored = Vec::new();
        self.device(path, device, context, &mut ignored);
        csr_jobs.extend(ignored.into_iter().map(|job| CsrJob {
            attach: false,
            ..job
        }));
    }

    /// `output`: a secret store, or `output.dir` (`out` when not given).
    fn output(&mut self, f: &Path, output: Option<&Sp<OutputFile>>) -> Output {
        let ssm = output.and_then(|o| o.value.ssm.as_ref());
        let Some(store) = output.and_then(|o| o.value.secrets_manager.as_ref()) else {
            return match ssm {
                Some(ssm) => {
                    self.one_destination(f, output, "ssm");
                    Output::Ssm {
                        kms_key_id: ssm.value.kms_key_id.as_ref().map(|k| k.value.clone()),
                    }
                }
                None => Output::Dir {
                    path: self.output_dir(f, output),
                },
            };
        };
        self.one_destination(f, output, "secrets_manager");
        if let Some(ssm) = ssm {
            self.error(
                f,
                ssm.loc,
                "`output` names both `secrets_manager` and `ssm`",
                "bundles go to one place: keep one of them",
            );
        }
        let days = match &store.value.recovery_window_days {
            Some(days) if !(7..=30).contains(&days.value) => {
                self.error(
                    f,
                    days.loc,
                    format!("recovery_window_days is {}", days.value),
                    "Secrets Manager keeps a deleted secret 7 to 30 days",
                );
                30
            }
            Some(days) => days.value,
            None => 30,
        };
        Output::SecretsManager {
            kms_key_id: store.value.kms_key_id.as_ref().map(|k| k.value.clone()),
            recovery_window_days: days,
        }
    }

    /// A store named beside `dir` is an error: bundles go to one place.
    fn one_destination(&mut self, f: &Path, output: Option<&Sp<OutputFile>>, store: &str) {
        if let Some(dir) = output.and_then(|o| o.value.dir.as_ref()) {
            self.error(
                f,
                dir.loc,
                format!("`output` names both `dir` and `{store}`"),
                format!("bundles go to one place: keep `{store}` (nothing secret on the runner's disk) or `dir`"),
            );
        }
    }

    /// `output.dir`, relative to fleet.yaml (`out` when not given).
    fn output_dir(&mut self, f: &Path, output: Option<&Sp<OutputFile>>) -> PathBuf {
        match output.and_then(|o| o.value.dir.as_ref()) {
            Some(dir) if dir.value.trim().is_empty() => {
                self.error(
                    f,
                    dir.loc,
                    "`output.dir` is empty",
                    "name a directory relative to fleet.yaml, e.g. `out`",
                );
                self.resolve("out")
            }
            Some(dir) => {
                self.confined(f, dir.loc, &dir.value, "`output.dir`");
                self.resolve(&dir.value)
            }
            None => {
                // A committed `out` symlink would send the keys elsewhere.
                self.confined(f, Loc::default(), "out", "the default `output.dir`");
                self.resolve("out")
            }
        }
    }

    /// Whether `value`, a path written at `file:loc`, stays inside the
    /// spec's repository; if not, reports it as `what` and returns false.
    fn confined(&mut self, file: &Path, loc: Loc, value: &str, what: &str) -> bool {
        let base = self.base.clone();
        match self.root.check(&base, value) {
            Ok(()) => true,
            Err(escape) => {
                self.error(file, loc, format!("{what} {escape}"), CONFINED_HINT);
                false
            }
        }
    }
}
