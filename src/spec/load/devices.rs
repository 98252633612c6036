//! The `defaults` and each device, defaults applied.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use super::{
    At, CaLimits, CsrJob, DEFAULT_RENEW_BEFORE, DEFAULT_VALIDITY, Defaults, DeviceContext, Loader,
    Text,
};
use crate::spec::diagnostic::Diagnostic;
use crate::spec::model::{self, DefaultsFile, DeviceFile, Loc, Sp};
use crate::spec::types;
use crate::spec::{
    CertValidity, DeviceKey, DeviceSpec, MAX_ATTRIBUTES_TYPED, MAX_ATTRIBUTES_UNTYPED,
    RESERVED_ATTRIBUTE, RevocationReason, SourceLocation, SpecDuration,
};

impl Loader {
    // ----------------------------------------------------------- devices

    pub(super) fn defaults(
        &mut self,
        f: &Path,
        defaults: &Sp<DefaultsFile>,
        policies: &BTreeMap<Text, Sp<model::PolicyFile>>,
        thing_types: &BTreeMap<Text, Sp<model::ThingTypeFile>>,
        ca: &CaLimits,
    ) -> Defaults {
        let d = &defaults.value;
        let validity = d.validity.as_ref().and_then(|text| {
            let value = self.validity(f, text)?;
            self.check_against_ca(f, text.loc, value, ca, "the default validity");
            Some(At::new(value, f, text.loc))
        });
        let renew_before = d.renew_before.as_ref().and_then(|text| {
            let value = self.duration(f, text)?;
            Some(At::new(value, f, text.loc))
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

    /// Check one device and apply the defaults to it: `None` when any check
    /// failed. Every check runs, in the order the errors are reported, so all
    /// of a device's errors show at once.
    pub(super) fn device(
        &mut self,
        f: &Path,
        device: &DeviceFile,
        context: &DeviceContext,
        csr_jobs: &mut Vec<CsrJob>,
    ) -> Option<DeviceSpec> {
        let name = &device.name;
        let name_ok = self.device_name(f, name);
        let key = self.device_key(f, device, csr_jobs);
        let thing_type = self.device_thing_type(f, device, context);
        let attributes =
            self.device_attributes(f, device, context.defaults, thing_type.value.is_some());
        let policies = self.device_policies(f, device, context);
        let lifetime = self.device_lifetime(f, device, context);
        let revoked = self.device_revocation(f, device);
        let ok = name_ok
            && key.ok
            && thing_type.ok
            && attributes.ok
            && policies.ok
            && lifetime.ok
            && revoked.ok;
        ok.then(|| DeviceSpec {
            name: name.value.clone(),
            key: key.value,
            attributes: attributes.value,
            thing_type: thing_type.value,
            policies: policies.value,
            validity: lifetime.value.validity,
            renew_before: lifetime.value.renew_before,
            revoked: revoked.value,
            source: SourceLocation {
                file: f.to_path_buf(),
                line: name.loc.line,
                column: name.loc.column,
            },
            adopt: device.adopt.unwrap_or(false),
        })
    }

    fn device_name(&mut self, f: &Path, name: &Text) -> bool {
        if types::is_thing_name(&name.value) {
            return true;
        }
        self.error(
            f,
            name.loc,
            format!("invalid device name `{}`", name.value),
            "a device name is its IoT thing name: 1 to 128 letters, digits or `:_-` (no spaces or dots)",
        );
        false
    }

    /// `csr`, `certificate_id` or neither. A CSR is only queued in
    /// `csr_jobs` here: all CSRs are read and checked together afterwards.
    fn device_key(
        &mut self,
        f: &Path,
        device: &DeviceFile,
        csr_jobs: &mut Vec<CsrJob>,
    ) -> Checked<DeviceKey> {
        let name = &device.name;
        match (&device.csr, &device.certificate_id) {
            (Some(_), Some(id)) => {
                self.error(
                    f,
                    id.loc,
                    format!("device `{}` has both `csr` and `certificate_id`", name.value),
                    "`csr` asks fleetcert to issue a certificate for the device's own key; `certificate_id` adopts an existing certificate: keep one",
                );
                Checked::failed(DeviceKey::Generated)
            }
            (Some(csr), None) => {
                if !self.confined(f, csr.loc, &csr.value, "CSR") {
                    return Checked::failed(DeviceKey::Generated);
                }
                csr_jobs.push(CsrJob {
                    device: name.value.clone(),
                    attach: true,
                    file: f.to_path_buf(),
                    loc: csr.loc,
                    path: self.resolve(&csr.value),
                });
                Checked::passed(DeviceKey::Generated)
            }
            (None, Some(id)) => Checked {
                ok: self.certificate_id(f, id),
                value: DeviceKey::External {
                    certificate_id: id.value.clone(),
                },
            },
            (None, None) => Checked::passed(DeviceKey::Generated),
        }
    }

    fn certificate_id(&mut self, f: &Path, id: &Text) -> bool {
        if types::is_certificate_id(&id.value) {
            return true;
        }
        self.error(
            f,
            id.loc,
            format!("`{}` is not an IoT certificate id", id.value),
            "a certificate id is 64 lowercase hexadecimal digits, as `aws iot list-certificates` shows it",
        );
        false
    }

    fn device_thing_type(
        &mut self,
        f: &Path,
        device: &DeviceFile,
        context: &DeviceContext,
    ) -> Checked<Option<String>> {
        match &device.thing_type {
            Some(t) => Checked {
                ok: self.thing_type_ref(f, t, context.thing_types),
                value: Some(t.value.clone()),
            },
            None => Checked::passed(context.defaults.thing_type.clone()),
        }
    }

    /// The defaults' attributes, then the device's own over them; `typed`:
    /// the device has a thing type, which allows more attributes.
    fn device_attributes(
        &mut self,
        f: &Path,
        device: &DeviceFile,
        defaults: &Defaults,
        typed: bool,
    ) -> Checked<BTreeMap<String, String>> {
        let mut attributes = defaults.attributes.clone();
        let mut ok = true;
        if let Some(map) = &device.attributes {
            for (key, value) in map {
                if self.attribute(f, key, value) {
                    attributes.insert(key.value.clone(), value.value.clone());
                } else {
                    ok = false;
                }
            }
        }
        let count_ok = self.check_attribute_count(f, device, defaults, attributes.len(), typed);
        Checked {
            value: attributes,
            ok: ok && count_ok,
        }
    }

    /// IoT's limit on a thing's attributes, less the one fleetcert reserves.
    fn check_attribute_count(
        &mut self,
        f: &Path,
        device: &DeviceFile,
        defaults: &Defaults,
        count: usize,
        typed: bool,
    ) -> bool {
        let limit = if typed {
            MAX_ATTRIBUTES_TYPED
        } else {
            MAX_ATTRIBUTES_UNTYPED
        };
        if count < limit {
            return true;
        }
        let name = &device.name;
        let loc = device
            .attributes
            .as_ref()
            .and_then(|m| m.keys().next().map(|k| k.loc))
            .unwrap_or(name.loc);
        let (kind, other) = if typed {
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
                "device `{}` has {count} attributes; a thing {kind} may have at most {}",
                name.value,
                limit - 1
            ),
        )
        .hint(format!(
            "IoT allows {limit} attributes on a thing {kind}, and fleetcert reserves one of them (`{RESERVED_ATTRIBUTE}`, its ownership marker){other}"
        ));
        if device.attributes.is_none()
            && let Some(defaults_loc) = defaults.attributes_loc
        {
            diagnostic = diagnostic.note("the attributes come from the defaults", f, defaults_loc);
        }
        self.push(diagnostic);
        false
    }

    /// The device's own list replaces the defaults'.
    fn device_policies(
        &mut self,
        f: &Path,
        device: &DeviceFile,
        context: &DeviceContext,
    ) -> Checked<BTreeSet<String>> {
        let Some(list) = &device.policies else {
            return Checked::passed(context.defaults.policies.clone().unwrap_or_default());
        };
        let mut names = BTreeSet::new();
        let mut ok = true;
        for p in list {
            if self.policy_ref(f, p, context.policies) {
                names.insert(p.value.clone());
            } else {
                ok = false;
            }
        }
        Checked { value: names, ok }
    }

    /// Validity and renewal, the device's own or the defaults'.
    fn device_lifetime(
        &mut self,
        f: &Path,
        device: &DeviceFile,
        context: &DeviceContext,
    ) -> Checked<Lifetime> {
        let validity = self.device_validity(f, device, context);
        let renew_before = match &device.renew_before {
            Some(text) => self
                .duration(f, text)
                .map(|value| At::new(value, f, text.loc)),
            None => context.defaults.renew_before.clone(),
        };
        let mut ok = !(device.validity.is_some() && validity.is_none()
            || device.renew_before.is_some() && renew_before.is_none());
        let lifetime = Lifetime {
            validity: validity
                .as_ref()
                .map(|v| v.value)
                .unwrap_or(DEFAULT_VALIDITY),
            renew_before: renew_before
                .as_ref()
                .map(|r| r.value)
                .unwrap_or(DEFAULT_RENEW_BEFORE),
        };
        // Check the pair here only when the device set one of them; the
        // defaults' own pair was checked once at the defaults.
        if device.validity.is_some() || device.renew_before.is_some() {
            let (file, loc) = renew_check_site(f, device, &validity, &renew_before);
            if !self.check_renew(
                &file,
                loc,
                lifetime.renew_before,
                lifetime.validity,
                &format!("for device `{}`", device.name.value),
            ) {
                ok = false;
            }
        }
        Checked {
            value: lifetime,
            ok,
        }
    }

    /// The device's own validity (checked against the CA) or the defaults'.
    /// `None` when the device's own does not parse, or neither is given.
    fn device_validity(
        &mut self,
        f: &Path,
        device: &DeviceFile,
        context: &DeviceContext,
    ) -> Option<At<CertValidity>> {
        let Some(text) = &device.validity else {
            return context.defaults.validity.clone();
        };
        let value = self.validity(f, text)?;
        self.check_against_ca(
            f,
            text.loc,
            value,
            context.ca,
            &format!("device `{}`'s validity", device.name.value),
        );
        Some(At::new(value, f, text.loc))
    }

    /// `revoked` and `revocation_reason`: the reason a revoked device's
    /// certificate is revoked with, `None` when it is not revoked.
    fn device_revocation(
        &mut self,
        f: &Path,
        device: &DeviceFile,
    ) -> Checked<Option<RevocationReason>> {
        let revoked = device.revoked.as_ref().is_some_and(|r| r.value);
        match (&device.revocation_reason, revoked) {
            (Some(reason), false) => {
                self.error(
                    f,
                    reason.loc,
                    "`revocation_reason` without `revoked: true`",
                    "add `revoked: true` to revoke the device's certificate, or remove `revocation_reason`",
                );
                Checked::failed(None)
            }
            (Some(reason), true) => match self.named::<RevocationReason>(f, reason) {
                Some(reason) => Checked::passed(Some(reason)),
                None => Checked::failed(None),
            },
            (None, true) => Checked::passed(Some(RevocationReason::Unspecified)),
            (None, false) => Checked::passed(None),
        }
    }
}

/// Where a device's renewal error points: at its own `renew_before` when it
/// set one that parsed, else at its own validity, else at its name.
fn renew_check_site(
    f: &Path,
    device: &DeviceFile,
    validity: &Option<At<CertValidity>>,
    renew_before: &Option<At<SpecDuration>>,
) -> (PathBuf, Loc) {
    match (&device.renew_before, renew_before, validity) {
        (Some(_), Some(r), _) => (r.file.clone(), r.loc),
        (_, _, Some(v)) if device.validity.is_some() => (v.file.clone(), v.loc),
        _ => (f.to_path_buf(), device.name.loc),
    }
}

/// A device field worked out from the spec, and whether its checks passed.
/// A field that failed still has a value, so that the checks after it can
/// run (the attribute limit depends on the thing type) and report too.
struct Checked<T> {
    value: T,
    ok: bool,
}

impl<T> Checked<T> {
    fn passed(value: T) -> Self {
        Self { value, ok: true }
    }

    fn failed(value: T) -> Self {
        Self { value, ok: false }
    }
}

/// A device certificate's validity and how long before expiry it is renewed.
struct Lifetime {
    validity: CertValidity,
    renew_before: SpecDuration,
}
