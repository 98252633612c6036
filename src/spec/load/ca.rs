//! The `ca` section: a CA to adopt or to create, and its IoT registration.

use std::path::Path;

use super::{DEFAULT_CA_VALIDITY, Loader, Text};
use crate::spec::diagnostic::Diagnostic;
use crate::spec::model::{self, CaFile, Sp};
use crate::spec::types;
use crate::spec::{CaIotSpec, CaSpec, KeyAlgorithm, SigningAlgorithm, Subject, UsageMode};

impl Loader {
    // ---------------------------------------------------------------- CA

    pub(super) fn ca(
        &mut self,
        f: &Path,
        ca: &Sp<CaFile>,
        region: Option<&Text>,
    ) -> Option<CaSpec> {
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
                self.adopted_ca_arn(f, arn, region);
                self.refuse_create_only_fields(f, c);
                Some(CaSpec::Adopt {
                    arn: arn.value.clone(),
                    iot: iot?,
                })
            }
            (None, Some(subject)) => {
                let subject = self.subject(f, subject);
                let key_algorithm = self.ca_key_algorithm(f, c.key_algorithm.as_ref());
                let signing_algorithm =
                    self.ca_signing_algorithm(f, c.signing_algorithm.as_ref(), key_algorithm);
                let validity = match &c.validity {
                    None => Some(DEFAULT_CA_VALIDITY),
                    Some(text) => self.validity(f, text),
                };
                let usage_mode = self.usage_mode(f, c.usage_mode.as_ref());
                Some(CaSpec::Create {
                    subject: subject?,
                    key_algorithm: key_algorithm?,
                    signing_algorithm: signing_algorithm?,
                    validity: validity?,
                    usage_mode: usage_mode?,
                    iot: iot?,
                })
            }
        }
    }

    /// An adopted CA's ARN must parse and name the spec's region (when that
    /// region is itself valid: a bad one was reported on its own).
    fn adopted_ca_arn(&mut self, f: &Path, arn: &Text, region: Option<&Text>) {
        let parsed = match types::parse_ca_arn(&arn.value) {
            Ok(parsed) => parsed,
            Err(reason) => {
                self.error(
                    f,
                    arn.loc,
                    format!("malformed CA ARN: {reason}"),
                    "a CA ARN looks like arn:aws:acm-pca:<region>:<12-digit account>:certificate-authority/<uuid>",
                );
                return;
            }
        };
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

    /// `usage_mode`: `general_purpose` or `short_lived`.
    fn usage_mode(&mut self, f: &Path, text: Option<&Text>) -> Option<UsageMode> {
        match text.map(|t| (t, t.value.as_str())) {
            None | Some((_, "general_purpose")) => Some(UsageMode::GeneralPurpose),
            Some((_, "short_lived")) => Some(UsageMode::ShortLived),
            Some((t, other)) => {
                self.error(
                    f,
                    t.loc,
                    format!("unknown CA usage mode `{other}`"),
                    "the usage modes are general_purpose (any validity) and short_lived (at most 7 days)",
                );
                None
            }
        }
    }

    /// An adopted CA keeps its own key, algorithms and validity.
    fn refuse_create_only_fields(&mut self, f: &Path, c: &CaFile) {
        for (field, value) in [
            ("key_algorithm", &c.key_algorithm),
            ("signing_algorithm", &c.signing_algorithm),
            ("validity", &c.validity),
            ("usage_mode", &c.usage_mode),
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
    }

    /// A created CA's key: EC_prime256v1, the default and the only one allowed.
    /// Another known algorithm is reported but returned, so that the signing
    /// algorithm is still checked against it.
    fn ca_key_algorithm(&mut self, f: &Path, text: Option<&Text>) -> Option<KeyAlgorithm> {
        let Some(text) = text else {
            return Some(KeyAlgorithm::EcPrime256v1);
        };
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

    /// A created CA's signing algorithm (SHA256WITHECDSA by default), which
    /// must fit its key.
    fn ca_signing_algorithm(
        &mut self,
        f: &Path,
        text: Option<&Text>,
        key: Option<KeyAlgorithm>,
    ) -> Option<SigningAlgorithm> {
        let Some(text) = text else {
            return Some(SigningAlgorithm::Sha256WithEcdsa);
        };
        let signing = self.named::<SigningAlgorithm>(f, text);
        if let (Some(signing), Some(key)) = (signing, key)
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

    fn subject(&mut self, f: &Path, subject: &Sp<model::SubjectFile>) -> Option<Subject> {
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
}
