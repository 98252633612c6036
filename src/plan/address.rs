//! Typed addresses: every change, drift item and stale-plan line is about one
//! of these. The text form (`Display`/`FromStr`) is the JSON contract's
//! `address` and never changes meaning: `ca`, `ca.iot`, `policy.<name>`,
//! `thing_type.<name>`, `device.<name>.thing`, `device.<name>.certificate`,
//! `device.<name>.certificate.<id prefix>`, `device.<name>.files`,
//! `certificate.<id prefix>`, `job.<job id>`. Device and thing-type names cannot contain a dot
//! (spec/names.rs), so the text parses back unambiguously.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// How many characters of a certificate id an address (and a message) shows.
pub const SHORT_ID: usize = 10;

/// The first [`SHORT_ID`] characters of a certificate id.
pub fn short_id(id: &str) -> &str {
    &id[..id.len().min(SHORT_ID)]
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub enum Address {
    /// The fleet's private CA.
    Ca,
    /// The CA's registration in AWS IoT.
    CaRegistration,
    Policy(String),
    ThingType(String),
    /// A device's thing.
    Thing(String),
    /// A device's current certificate (issued, replaced or repaired).
    Certificate(String),
    /// One of a device's older certificates, by id prefix (retired).
    OldCertificate {
        device: String,
        id: String,
    },
    /// A device's files under `output.dir`.
    Files(String),
    /// A certificate from the fleet's CA that belongs to no device (drift).
    ForeignCertificate(String),
    /// One of the fleet's rotation jobs, by job id.
    RotationJob(String),
}

impl Address {
    /// The address of one of `device`'s older certificates.
    pub fn old_certificate(device: &str, id: &str) -> Self {
        Self::OldCertificate {
            device: device.to_string(),
            id: short_id(id).to_string(),
        }
    }

    /// The address of a certificate that belongs to no device.
    pub fn foreign_certificate(id: &str) -> Self {
        Self::ForeignCertificate(short_id(id).to_string())
    }

    /// The device this address belongs to, if any.
    pub fn device(&self) -> Option<&str> {
        match self {
            Self::Thing(d) | Self::Certificate(d) | Self::Files(d) => Some(d),
            Self::OldCertificate { device, .. } => Some(device),
            Self::Ca
            | Self::CaRegistration
            | Self::Policy(_)
            | Self::ThingType(_)
            | Self::ForeignCertificate(_)
            | Self::RotationJob(_) => None,
        }
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Ca => f.write_str("ca"),
            Self::CaRegistration => f.write_str("ca.iot"),
            Self::Policy(name) => write!(f, "policy.{name}"),
            Self::ThingType(name) => write!(f, "thing_type.{name}"),
            Self::Thing(device) => write!(f, "device.{device}.thing"),
            Self::Certificate(device) => write!(f, "device.{device}.certificate"),
            Self::OldCertificate { device, id } => write!(f, "device.{device}.certificate.{id}"),
            Self::Files(device) => write!(f, "device.{device}.files"),
            Self::ForeignCertificate(id) => write!(f, "certificate.{id}"),
            Self::RotationJob(id) => write!(f, "job.{id}"),
        }
    }
}

/// A text that is not an address.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a fleetcert address (e.g. ca, policy.NAME, device.NAME.thing)")]
pub struct BadAddress(pub String);

impl FromStr for Address {
    type Err = BadAddress;

    fn from_str(text: &str) -> Result<Self, BadAddress> {
        let bad = || BadAddress(text.to_string());
        let nonempty = |s: &str| (!s.is_empty()).then(|| s.to_string()).ok_or_else(bad);
        if let Some(rest) = text.strip_prefix("device.") {
            let (device, part) = rest.split_once('.').ok_or_else(bad)?;
            let device = nonempty(device)?;
            return match part {
                "thing" => Ok(Self::Thing(device)),
                "certificate" => Ok(Self::Certificate(device)),
                "files" => Ok(Self::Files(device)),
                other => match other.strip_prefix("certificate.") {
                    Some(id) if !id.is_empty() && !id.contains('.') => Ok(Self::OldCertificate {
                        device,
                        id: id.to_string(),
                    }),
                    _ => Err(bad()),
                },
            };
        }
        match text {
            "ca" => return Ok(Self::Ca),
            "ca.iot" => return Ok(Self::CaRegistration),
            _ => {}
        }
        if let Some(name) = text.strip_prefix("policy.") {
            return Ok(Self::Policy(nonempty(name)?));
        }
        if let Some(name) = text.strip_prefix("thing_type.") {
            return Ok(Self::ThingType(nonempty(name)?));
        }
        if let Some(id) = text.strip_prefix("certificate.") {
            return Ok(Self::ForeignCertificate(nonempty(id)?));
        }
        if let Some(id) = text.strip_prefix("job.") {
            return Ok(Self::RotationJob(nonempty(id)?));
        }
        Err(bad())
    }
}

impl From<Address> for String {
    fn from(address: Address) -> Self {
        address.to_string()
    }
}

impl TryFrom<String> for Address {
    type Error = BadAddress;
    fn try_from(text: String) -> Result<Self, BadAddress> {
        text.parse()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_address_round_trips_through_its_text() {
        let all = [
            Address::Ca,
            Address::CaRegistration,
            Address::Policy("telemetry.v2".into()),
            Address::ThingType("sensor".into()),
            Address::Thing("sensor-001".into()),
            Address::Certificate("sensor-001".into()),
            Address::old_certificate("sensor-001", "0123456789abcdef"),
            Address::Files("sensor-001".into()),
            Address::foreign_certificate("fedcba9876543210"),
        ];
        for address in all {
            let text = address.to_string();
            assert_eq!(text.parse::<Address>(), Ok(address.clone()), "{text}");
        }
        assert_eq!(
            Address::old_certificate("d", "0123456789abcdef").to_string(),
            "device.d.certificate.0123456789"
        );
        for bad in [
            "",
            "device.",
            "device.d",
            "device.d.other",
            "policy.",
            "cert",
            "device.d.certificate.",
        ] {
            assert!(bad.parse::<Address>().is_err(), "{bad}");
        }
    }
}
