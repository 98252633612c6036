//! Checks shared by the sections: names, durations, references, attributes.

use std::collections::BTreeMap;
use std::path::Path;

use super::{CaLimits, Loader, Text};
use crate::spec::model::{self, Loc, Sp};
use crate::spec::types::{self, Named};
use crate::spec::{CertValidity, RESERVED_ATTRIBUTE, SpecDuration};

impl Loader {
    // ------------------------------------------------------------ checks

    pub(super) fn named<T: Named + PartialEq>(&mut self, f: &Path, text: &Text) -> Option<T> {
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

    pub(super) fn validity(&mut self, f: &Path, text: &Text) -> Option<CertValidity> {
        match text.value.parse() {
            Ok(v) => Some(v),
            Err(message) => {
                self.error(f, text.loc, message, types::VALIDITY_HINT);
                None
            }
        }
    }

    pub(super) fn duration(&mut self, f: &Path, text: &Text) -> Option<SpecDuration> {
        match text.value.parse() {
            Ok(v) => Some(v),
            Err(message) => {
                self.error(f, text.loc, message, types::DURATION_HINT);
                None
            }
        }
    }

    /// `renew_before` must be shorter than the validity (and not zero).
    pub(super) fn check_renew(
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
    pub(super) fn check_against_ca(
        &mut self,
        f: &Path,
        loc: Loc,
        validity: CertValidity,
        ca: &CaLimits,
        whose: &str,
    ) {
        // "a maximum validity period of seven days" (User Guide,
        // short-lived-certificates.html); PCA refuses more at issuance.
        if let Some(max) = ca.usage_mode.max_validity_days()
            && validity.max_days() > max
        {
            self.error(
                f,
                loc,
                format!("{whose} ({validity}, up to {} days) is longer than a short-lived certificate mode CA issues ({max} days)", validity.max_days()),
                "a `usage_mode: short_lived` CA issues certificates valid for at most 7 days: use e.g. `validity: 7d` with `renew_before: 2d`",
            );
        }
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

    pub(super) fn policy_ref(
        &mut self,
        f: &Path,
        p: &Text,
        policies: &BTreeMap<Text, Sp<model::PolicyFile>>,
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

    pub(super) fn thing_type_ref(
        &mut self,
        f: &Path,
        t: &Text,
        thing_types: &BTreeMap<Text, Sp<model::ThingTypeFile>>,
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

    pub(super) fn attribute_name(&mut self, f: &Path, key: &Text) -> bool {
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

    pub(super) fn attribute(&mut self, f: &Path, key: &Text, value: &Text) -> bool {
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
