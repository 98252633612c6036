//! The `defaults` and each device, defaults applied.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use super::{At, CaLimits, CsrJob, DEFAULT_RENEW_BEFORE, DEFAULT_VALIDITY, Defaults, Loader, Text};
use crate::spec::diagnostic::Diagnostic;
use crate::spec::model::{self, DefaultsFile, DeviceFile, Sp};
use crate::spec::types;
use crate::spec::{
    DeviceKey, DeviceSpec, MAX_ATTRIBUTES_TYPED, MAX_ATTRIBUTES_UNTYPED, RESERVED_ATTRIBUTE,
    RevocationReason, SourceLocation,
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
    pub(super) fn device(
        &mut self,
        f: &Path,
        device: &DeviceFile,
        defaults: &Defaults,
        policies: &BTreeMap<Text, Sp<model::PolicyFile>>,
        thing_types: &BTreeMap<Text, Sp<model::ThingTypeFile>>,
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
                if self.confined(f, csr.loc, &csr.value, "CSR") {
                    csr_jobs.push(CsrJob {
                        device: name.value.clone(),
                        attach: true,
                        file: f.to_path_buf(),
                        loc: csr.loc,
                        path: self.resolve(&csr.value),
                    });
                }
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
}
