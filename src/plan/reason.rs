//! Why a change is planned: a closed set of codes (snake_case in JSON, as
//! documented in docs/json-plan.md) and a sentence for people. The sentence
//! is for reading only; drift classifies by the code, exhaustively.

use std::fmt;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReasonCode {
    CaMissing,
    CaNotActivated,
    CaAdopted,
    CaNotRegistered,
    CaRegistrationDiffers,
    ThingTypeMissing,
    PolicyMissing,
    PolicyAdopted,
    PolicyDocumentChanged,
    PolicyRemoved,
    ThingMissing,
    ThingAdopted,
    ThingAttributesDiffer,
    DeviceRevoked,
    DeviceRemoved,
    CertificateMissing,
    CertificateExpiring,
    CertificateUnusable,
    CertificateSuperseded,
    CertificateInactive,
    CsrChanged,
    ReplaceRequested,
    AttachmentsDiffer,
    FilesNotWritten,
    RecordOutdated,
    RotationConfirmed,
    RotationTimedOut,
    CertificateUndelivered,
    RotationJobFinished,
}

impl ReasonCode {
    pub const ALL: &'static [ReasonCode] = &[
        Self::CaMissing,
        Self::CaNotActivated,
        Self::CaAdopted,
        Self::CaNotRegistered,
        Self::CaRegistrationDiffers,
        Self::ThingTypeMissing,
        Self::PolicyMissing,
        Self::PolicyAdopted,
        Self::PolicyDocumentChanged,
        Self::PolicyRemoved,
        Self::ThingMissing,
        Self::ThingAdopted,
        Self::ThingAttributesDiffer,
        Self::DeviceRevoked,
        Self::DeviceRemoved,
        Self::CertificateMissing,
        Self::CertificateExpiring,
        Self::CertificateUnusable,
        Self::CertificateSuperseded,
        Self::CertificateInactive,
        Self::CsrChanged,
        Self::ReplaceRequested,
        Self::AttachmentsDiffer,
        Self::FilesNotWritten,
        Self::RecordOutdated,
        Self::RotationConfirmed,
        Self::RotationTimedOut,
        Self::CertificateUndelivered,
        Self::RotationJobFinished,
    ];

    /// The snake_case code, as in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::CaMissing => "ca_missing",
            Self::CaNotActivated => "ca_not_activated",
            Self::CaAdopted => "ca_adopted",
            Self::CaNotRegistered => "ca_not_registered",
            Self::CaRegistrationDiffers => "ca_registration_differs",
            Self::ThingTypeMissing => "thing_type_missing",
            Self::PolicyMissing => "policy_missing",
            Self::PolicyAdopted => "policy_adopted",
            Self::PolicyDocumentChanged => "policy_document_changed",
            Self::PolicyRemoved => "policy_removed",
            Self::ThingMissing => "thing_missing",
            Self::ThingAdopted => "thing_adopted",
            Self::ThingAttributesDiffer => "thing_attributes_differ",
            Self::DeviceRevoked => "device_revoked",
            Self::DeviceRemoved => "device_removed",
            Self::CertificateMissing => "certificate_missing",
            Self::CertificateExpiring => "certificate_expiring",
            Self::CertificateUnusable => "certificate_unusable",
            Self::CertificateSuperseded => "certificate_superseded",
            Self::CertificateInactive => "certificate_inactive",
            Self::CsrChanged => "csr_changed",
            Self::ReplaceRequested => "replace_requested",
            Self::AttachmentsDiffer => "attachments_differ",
            Self::FilesNotWritten => "files_not_written",
            Self::RecordOutdated => "record_outdated",
            Self::RotationConfirmed => "rotation_confirmed",
            Self::RotationTimedOut => "rotation_timed_out",
            Self::CertificateUndelivered => "certificate_undelivered",
            Self::RotationJobFinished => "rotation_job_finished",
        }
    }
}

impl fmt::Display for ReasonCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a change is planned: a code for machines, a sentence for people.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reason {
    pub code: ReasonCode,
    pub text: String,
}

impl Reason {
    pub fn new(code: ReasonCode, text: impl Into<String>) -> Self {
        Self {
            code,
            text: text.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_text_form_is_the_serde_form() {
        for code in ReasonCode::ALL {
            let json = serde_json::to_value(code).unwrap();
            assert_eq!(json, serde_json::Value::from(code.as_str()));
            assert_eq!(serde_json::from_value::<ReasonCode>(json).unwrap(), *code);
        }
    }
}
