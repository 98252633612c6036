//! The value types of the spec: durations, certificate validity, the closed
//! sets of names AWS accepts, and the name patterns of IoT and PCA.
//!
//! Everything here is pure and small; `load` turns the text written in
//! fleet.yaml into these, and reports what does not parse with a hint.

use std::fmt;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Seconds in a day.
const DAY: u64 = 86_400;

/// A span of time written `45s`, `30m`, `12h`, `90d`, `2w` or `1y` (365 days).
///
/// Used where any length of time makes sense (`renew_before`,
/// `rotation_overlap`). `Display` writes it back in the largest unit that
/// divides it exactly, so parsing what it prints gives the same value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub struct SpecDuration(u64);

/// The units a duration may be written in, largest first: (suffix, seconds).
const DURATION_UNITS: [(&str, u64); 6] = [
    ("y", 365 * DAY),
    ("w", 7 * DAY),
    ("d", DAY),
    ("h", 3_600),
    ("m", 60),
    ("s", 1),
];

/// What the hint for a bad duration says.
pub const DURATION_HINT: &str = "write a whole number and a unit: s (seconds), m (minutes), h (hours), d (days), w (weeks), y (365 days), e.g. 30d or 12h";

impl SpecDuration {
    pub const fn from_secs(secs: u64) -> Self {
        Self(secs)
    }

    pub const fn from_days(days: u64) -> Self {
        Self(days * DAY)
    }

    pub const fn as_secs(self) -> u64 {
        self.0
    }

    /// As a `jiff` span of whole seconds, for date arithmetic.
    pub fn to_signed_duration(self) -> jiff::SignedDuration {
        jiff::SignedDuration::from_secs(i64::try_from(self.0).unwrap_or(i64::MAX))
    }
}

impl std::str::FromStr for SpecDuration {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let (digits, unit) =
            split_number(text).ok_or_else(|| format!("`{text}` is not a duration"))?;
        let (_, unit_secs) = DURATION_UNITS
            .iter()
            .find(|(suffix, _)| *suffix == unit)
            .ok_or_else(|| match unit {
                "mo" => format!("`{text}` is not a duration: months have no fixed length here"),
                "" => format!("`{text}` is not a duration: the unit is missing"),
                _ if unit.starts_with(' ') => {
                    format!("`{text}` is not a duration: write it without a space, e.g. {digits}d")
                }
                _ => format!("`{text}` is not a duration: unknown unit `{unit}`"),
            })?;
        let value: u64 = digits
            .parse()
            .map_err(|_| format!("`{text}` is not a duration: the number is too large"))?;
        value
            .checked_mul(*unit_secs)
            .map(Self)
            .ok_or_else(|| format!("`{text}` is not a duration: the number is too large"))
    }
}

impl fmt::Display for SpecDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0 == 0 {
            return f.write_str("0s");
        }
        let (suffix, unit) = DURATION_UNITS
            .iter()
            .find(|(_, unit)| self.0.is_multiple_of(*unit))
            .copied()
            .unwrap_or(("s", 1));
        write!(f, "{}{suffix}", self.0 / unit)
    }
}

impl From<SpecDuration> for String {
    fn from(duration: SpecDuration) -> Self {
        duration.to_string()
    }
}

impl TryFrom<String> for SpecDuration {
    type Error = String;
    fn try_from(text: String) -> Result<Self, String> {
        text.parse()
    }
}

/// Splits `123abc` into (`123`, `abc`); `None` unless it starts with a digit.
fn split_number(text: &str) -> Option<(&str, &str)> {
    let end = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    (end > 0).then(|| text.split_at(end))
}

/// A certificate's validity as PCA's `Validity` expresses it: a whole number
/// of days, months or years, written `365d`, `12mo`, `10y`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub enum CertValidity {
    Days(u32),
    Months(u32),
    Years(u32),
}

/// What the hint for a bad validity says.
pub const VALIDITY_HINT: &str = "certificate validity is a whole number of days, months or years (PCA's Validity types DAYS, MONTHS, YEARS): write e.g. 365d, 12mo or 10y";

impl CertValidity {
    /// PCA's `Validity.Value`.
    pub fn value(self) -> u32 {
        match self {
            Self::Days(n) | Self::Months(n) | Self::Years(n) => n,
        }
    }

    /// The fewest days this validity can span (months of 28 days, years of 365).
    pub fn min_days(self) -> u64 {
        let n = u64::from(self.value());
        match self {
            Self::Days(_) => n,
            Self::Months(_) => n * 28,
            Self::Years(_) => n * 365,
        }
    }

    /// The most days this validity can span (months of 31 days, years of 366).
    pub fn max_days(self) -> u64 {
        let n = u64::from(self.value());
        match self {
            Self::Days(_) => n,
            Self::Months(_) => n * 31,
            Self::Years(_) => n * 366,
        }
    }

    /// The shortest span as a duration, for comparing with `renew_before`.
    pub fn min_duration(self) -> SpecDuration {
        SpecDuration::from_days(self.min_days())
    }
}

impl std::str::FromStr for CertValidity {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let (digits, unit) =
            split_number(text).ok_or_else(|| format!("`{text}` is not a certificate validity"))?;
        let value: u32 = digits.parse().map_err(|_| {
            format!("`{text}` is not a certificate validity: the number is too large")
        })?;
        if value == 0 {
            return Err(format!(
                "`{text}` is not a certificate validity: it must be at least 1"
            ));
        }
        match unit {
            "d" => Ok(Self::Days(value)),
            "mo" => Ok(Self::Months(value)),
            "y" => Ok(Self::Years(value)),
            "m" => Err(format!(
                "`{text}` is not a certificate validity: `m` is ambiguous here; write {value}mo for months"
            )),
            "s" | "h" | "w" => Err(format!(
                "`{text}` is not a certificate validity: it must be whole days, months or years"
            )),
            "" => Err(format!(
                "`{text}` is not a certificate validity: the unit is missing"
            )),
            _ => Err(format!(
                "`{text}` is not a certificate validity: unknown unit `{unit}`"
            )),
        }
    }
}

impl fmt::Display for CertValidity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Days(n) => write!(f, "{n}d"),
            Self::Months(n) => write!(f, "{n}mo"),
            Self::Years(n) => write!(f, "{n}y"),
        }
    }
}

impl From<CertValidity> for String {
    fn from(validity: CertValidity) -> Self {
        validity.to_string()
    }
}

impl TryFrom<String> for CertValidity {
    type Error = String;
    fn try_from(text: String) -> Result<Self, String> {
        text.parse()
    }
}

/// A closed set of names as fleet.yaml spells them. `ALL` lists each value
/// with its spelling; parsing and the hint come from there.
pub trait Named: Sized + Copy + 'static {
    /// What the value is, for messages ("key algorithm").
    const WHAT: &'static str;
    /// Every value with its spelling in fleet.yaml.
    const ALL: &'static [(Self, &'static str)];

    fn parse_named(text: &str) -> Option<Self> {
        Self::ALL
            .iter()
            .find(|(_, name)| *name == text)
            .map(|(value, _)| *value)
    }

    fn spelling(self) -> &'static str
    where
        Self: PartialEq,
    {
        Self::ALL
            .iter()
            .find(|(value, _)| *value == self)
            .map(|(_, name)| *name)
            .unwrap_or("?")
    }

    /// "one of: a, b, c" for hints.
    fn expected() -> String {
        let names: Vec<&str> = Self::ALL.iter().map(|(_, name)| *name).collect();
        format!("expected one of: {}", names.join(", "))
    }
}

/// How a CA fleetcert creates may be used (PCA's `UsageMode`, fixed at
/// creation). User Guide, "Understand AWS Private CA CA modes":
/// https://docs.aws.amazon.com/privateca/latest/userguide/short-lived-certificates.html
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum UsageMode {
    /// Certificates of any validity (PCA's GENERAL_PURPOSE, the default).
    #[default]
    GeneralPurpose,
    /// Certificates valid for at most seven days, at a lower monthly price
    /// (PCA's SHORT_LIVED_CERTIFICATE): for fleets that renew weekly.
    ShortLived,
}

impl UsageMode {
    /// The longest validity a CA of this mode issues, in days.
    pub fn max_validity_days(self) -> Option<u64> {
        match self {
            UsageMode::GeneralPurpose => None,
            UsageMode::ShortLived => Some(7),
        }
    }
}

/// A CA key algorithm, as PCA names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize, JsonSchema)]
pub enum KeyAlgorithm {
    /// ECDSA on NIST P-256 (the only algorithm fleetcert creates CAs with).
    #[default]
    #[serde(rename = "EC_prime256v1")]
    EcPrime256v1,
    /// ECDSA on NIST P-384 (accepted only for adopted CAs).
    #[serde(rename = "EC_secp384r1")]
    EcSecp384r1,
    /// RSA 2048 (accepted only for adopted CAs).
    #[serde(rename = "RSA_2048")]
    Rsa2048,
    /// RSA 4096 (accepted only for adopted CAs).
    #[serde(rename = "RSA_4096")]
    Rsa4096,
}

impl Named for KeyAlgorithm {
    const WHAT: &'static str = "key algorithm";
    const ALL: &'static [(Self, &'static str)] = &[
        (Self::EcPrime256v1, "EC_prime256v1"),
        (Self::EcSecp384r1, "EC_secp384r1"),
        (Self::Rsa2048, "RSA_2048"),
        (Self::Rsa4096, "RSA_4096"),
    ];
}

impl KeyAlgorithm {
    pub fn aws_name(self) -> &'static str {
        self.spelling()
    }

    pub fn is_ec(self) -> bool {
        matches!(self, Self::EcPrime256v1 | Self::EcSecp384r1)
    }
}

/// A CA signing algorithm, as PCA names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize, JsonSchema)]
pub enum SigningAlgorithm {
    #[default]
    #[serde(rename = "SHA256WITHECDSA")]
    Sha256WithEcdsa,
    #[serde(rename = "SHA384WITHECDSA")]
    Sha384WithEcdsa,
    #[serde(rename = "SHA512WITHECDSA")]
    Sha512WithEcdsa,
    #[serde(rename = "SHA256WITHRSA")]
    Sha256WithRsa,
    #[serde(rename = "SHA384WITHRSA")]
    Sha384WithRsa,
    #[serde(rename = "SHA512WITHRSA")]
    Sha512WithRsa,
}

impl Named for SigningAlgorithm {
    const WHAT: &'static str = "signing algorithm";
    const ALL: &'static [(Self, &'static str)] = &[
        (Self::Sha256WithEcdsa, "SHA256WITHECDSA"),
        (Self::Sha384WithEcdsa, "SHA384WITHECDSA"),
        (Self::Sha512WithEcdsa, "SHA512WITHECDSA"),
        (Self::Sha256WithRsa, "SHA256WITHRSA"),
        (Self::Sha384WithRsa, "SHA384WITHRSA"),
        (Self::Sha512WithRsa, "SHA512WITHRSA"),
    ];
}

impl SigningAlgorithm {
    pub fn aws_name(self) -> &'static str {
        self.spelling()
    }

    /// Whether PCA accepts this signing algorithm with a CA key of `key`.
    pub fn fits(self, key: KeyAlgorithm) -> bool {
        let ecdsa = matches!(
            self,
            Self::Sha256WithEcdsa | Self::Sha384WithEcdsa | Self::Sha512WithEcdsa
        );
        ecdsa == key.is_ec()
    }
}

/// How the CA is registered in AWS IoT.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum IotMode {
    /// `DEFAULT`: registered with a verification certificate whose CN is the
    /// account's registration code.
    #[default]
    Default,
    /// `SNI_ONLY`: no verification certificate; devices must send SNI.
    SniOnly,
}

impl Named for IotMode {
    const WHAT: &'static str = "IoT certificate mode";
    const ALL: &'static [(Self, &'static str)] =
        &[(Self::Default, "default"), (Self::SniOnly, "sni_only")];
}

/// The status of the CA's registration in AWS IoT.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum CaIotStatus {
    #[default]
    Active,
    Inactive,
}

impl Named for CaIotStatus {
    const WHAT: &'static str = "CA status";
    const ALL: &'static [(Self, &'static str)] =
        &[(Self::Active, "active"), (Self::Inactive, "inactive")];
}

/// Why a certificate is revoked (RFC 5280 reasons, as PCA's
/// `RevokeCertificate` names them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RevocationReason {
    #[default]
    Unspecified,
    KeyCompromise,
    CertificateAuthorityCompromise,
    AffiliationChanged,
    Superseded,
    CessationOfOperation,
    PrivilegeWithdrawn,
    AACompromise,
}

impl Named for RevocationReason {
    const WHAT: &'static str = "revocation reason";
    const ALL: &'static [(Self, &'static str)] = &[
        (Self::Unspecified, "unspecified"),
        (Self::KeyCompromise, "key_compromise"),
        (
            Self::CertificateAuthorityCompromise,
            "certificate_authority_compromise",
        ),
        (Self::AffiliationChanged, "affiliation_changed"),
        (Self::Superseded, "superseded"),
        (Self::CessationOfOperation, "cessation_of_operation"),
        (Self::PrivilegeWithdrawn, "privilege_withdrawn"),
        (Self::AACompromise, "a_a_compromise"),
    ];
}

/// What happens to the certificates of devices that left the spec.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum OnRemoval {
    /// Revoke in PCA and mark REVOKED in IoT.
    #[default]
    Revoke,
    /// Set INACTIVE in IoT (reversible).
    Deactivate,
    /// Leave the certificate as it is.
    Keep,
}

impl Named for OnRemoval {
    const WHAT: &'static str = "removal action";
    const ALL: &'static [(Self, &'static str)] = &[
        (Self::Revoke, "revoke"),
        (Self::Deactivate, "deactivate"),
        (Self::Keep, "keep"),
    ];
}

/// What happens to a certificate replaced by rotation, once the overlap ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Retire {
    #[default]
    Revoke,
    Deactivate,
}

impl Named for Retire {
    const WHAT: &'static str = "retire action";
    const ALL: &'static [(Self, &'static str)] =
        &[(Self::Revoke, "revoke"), (Self::Deactivate, "deactivate")];
}

/// How a rotated device receives its new certificate (`lifecycle.rotation.delivery`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Delivery {
    /// Nothing carries it: the bundle is written (files or secret store) and
    /// the old certificate retires when `rotation_overlap` has passed.
    #[default]
    None,
    /// An AWS IoT job carries it to the device; the old certificate retires
    /// only after the device confirms it switched.
    Job,
}

impl Named for Delivery {
    const WHAT: &'static str = "rotation delivery";
    const ALL: &'static [(Self, &'static str)] = &[(Self::None, "none"), (Self::Job, "job")];
}

/// What happens to the old certificate when a device has not confirmed its
/// rotation within `rotation.max_wait`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum OnTimeout {
    /// It stays ACTIVE; the plan warns and `drift` reports the stalled rotation.
    #[default]
    Keep,
    /// It retires as if the device had confirmed.
    Retire,
}

impl Named for OnTimeout {
    const WHAT: &'static str = "rotation timeout action";
    const ALL: &'static [(Self, &'static str)] = &[(Self::Keep, "keep"), (Self::Retire, "retire")];
}

pub use super::names::*;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_and_round_trip() {
        for (text, secs) in [
            ("45s", 45),
            ("30m", 1_800),
            ("12h", 43_200),
            ("90d", 90 * DAY),
            ("2w", 14 * DAY),
            ("1y", 365 * DAY),
            ("0s", 0),
        ] {
            let d: SpecDuration = text.parse().unwrap();
            assert_eq!(d.as_secs(), secs, "{text}");
            assert_eq!(d.to_string().parse::<SpecDuration>().unwrap(), d);
        }
        assert_eq!(SpecDuration::from_secs(90).to_string(), "90s");
        assert_eq!(SpecDuration::from_days(14).to_string(), "2w");
        assert_eq!(SpecDuration::from_days(30).to_string(), "30d");
        assert_eq!(SpecDuration::from_days(730).to_string(), "2y");
    }

    #[test]
    fn bad_durations_are_rejected() {
        for text in [
            "",
            "d",
            "10",
            "10x",
            "1.5d",
            "-1d",
            " 1d",
            "1d ",
            "12mo",
            "99999999999999999999s",
            "999999999999999y",
        ] {
            assert!(text.parse::<SpecDuration>().is_err(), "{text:?}");
        }
    }

    #[test]
    fn validity_parses_whole_days_months_years() {
        assert_eq!("365d".parse(), Ok(CertValidity::Days(365)));
        assert_eq!("12mo".parse(), Ok(CertValidity::Months(12)));
        assert_eq!("10y".parse(), Ok(CertValidity::Years(10)));
        for text in ["0d", "12m", "2w", "12h", "1.5y", "y", "365", "365 d"] {
            assert!(text.parse::<CertValidity>().is_err(), "{text:?}");
        }
        let v = CertValidity::Months(12);
        assert_eq!((v.value(), v.min_days(), v.max_days()), (12, 336, 372));
        assert_eq!(CertValidity::Years(10).to_string(), "10y");
        assert_eq!(
            CertValidity::Years(1).min_duration(),
            "365d".parse().unwrap()
        );
    }

    #[test]
    fn named_values_parse() {
        assert_eq!(
            KeyAlgorithm::parse_named("EC_prime256v1"),
            Some(KeyAlgorithm::EcPrime256v1)
        );
        assert_eq!(
            RevocationReason::parse_named("key_compromise"),
            Some(RevocationReason::KeyCompromise)
        );
        assert!(SigningAlgorithm::Sha256WithEcdsa.fits(KeyAlgorithm::EcPrime256v1));
        assert!(!SigningAlgorithm::Sha256WithRsa.fits(KeyAlgorithm::EcPrime256v1));
        assert_eq!(IotMode::parse_named("sni_only"), Some(IotMode::SniOnly));
    }
}
