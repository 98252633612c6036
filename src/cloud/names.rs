//! fleetcert's own enums as the SDK spells them, and back: the one place
//! where AWS's enum values meet the plan's types.

use aws_sdk_acmpca::types as pca;
use aws_sdk_iot::types as iot;

use crate::live::{CaStatus, CertStatus, CertificateMode, RegistrationStatus};
use crate::plan::Template;
use crate::spec::{CertValidity, KeyAlgorithm, RevocationReason, SigningAlgorithm, UsageMode};

/// A PCA template's ARN (AWS Private CA User Guide, "Understanding
/// certificate templates").
pub fn template_arn(template: Template) -> &'static str {
    match template {
        Template::EndEntityClientAuth => {
            "arn:aws:acm-pca:::template/EndEntityClientAuthCertificate/V1"
        }
        Template::EndEntity => "arn:aws:acm-pca:::template/EndEntityCertificate/V1",
        Template::RootCa => "arn:aws:acm-pca:::template/RootCACertificate/V1",
    }
}

pub fn to_iot_status(status: CertStatus) -> iot::CertificateStatus {
    match status {
        CertStatus::Active => iot::CertificateStatus::Active,
        CertStatus::Inactive => iot::CertificateStatus::Inactive,
        CertStatus::Revoked => iot::CertificateStatus::Revoked,
        CertStatus::PendingTransfer => iot::CertificateStatus::PendingTransfer,
        CertStatus::PendingActivation => iot::CertificateStatus::PendingActivation,
        CertStatus::RegisterInactive => iot::CertificateStatus::RegisterInactive,
        // Never planned: apply only sets ACTIVE, INACTIVE or REVOKED.
        CertStatus::Unknown => iot::CertificateStatus::Inactive,
    }
}

pub fn cert_status(status: &iot::CertificateStatus) -> CertStatus {
    match status {
        iot::CertificateStatus::Active => CertStatus::Active,
        iot::CertificateStatus::Inactive => CertStatus::Inactive,
        iot::CertificateStatus::Revoked => CertStatus::Revoked,
        iot::CertificateStatus::PendingTransfer => CertStatus::PendingTransfer,
        iot::CertificateStatus::PendingActivation => CertStatus::PendingActivation,
        iot::CertificateStatus::RegisterInactive => CertStatus::RegisterInactive,
        _ => CertStatus::Unknown,
    }
}

pub fn ca_status(status: &pca::CertificateAuthorityStatus) -> CaStatus {
    match status {
        pca::CertificateAuthorityStatus::Creating => CaStatus::Creating,
        pca::CertificateAuthorityStatus::PendingCertificate => CaStatus::PendingCertificate,
        pca::CertificateAuthorityStatus::Active => CaStatus::Active,
        pca::CertificateAuthorityStatus::Disabled => CaStatus::Disabled,
        pca::CertificateAuthorityStatus::Expired => CaStatus::Expired,
        pca::CertificateAuthorityStatus::Failed => CaStatus::Failed,
        pca::CertificateAuthorityStatus::Deleted => CaStatus::Deleted,
        _ => CaStatus::Unknown,
    }
}

pub fn registration_status(status: &iot::CaCertificateStatus) -> RegistrationStatus {
    match status {
        iot::CaCertificateStatus::Active => RegistrationStatus::Active,
        _ => RegistrationStatus::Inactive,
    }
}

pub fn certificate_mode(mode: &iot::CertificateMode) -> CertificateMode {
    match mode {
        iot::CertificateMode::SniOnly => CertificateMode::SniOnly,
        _ => CertificateMode::Default,
    }
}

pub fn key_algorithm(key: KeyAlgorithm) -> pca::KeyAlgorithm {
    match key {
        KeyAlgorithm::EcPrime256v1 => pca::KeyAlgorithm::EcPrime256v1,
        KeyAlgorithm::EcSecp384r1 => pca::KeyAlgorithm::EcSecp384r1,
        KeyAlgorithm::Rsa2048 => pca::KeyAlgorithm::Rsa2048,
        KeyAlgorithm::Rsa4096 => pca::KeyAlgorithm::Rsa4096,
    }
}

pub fn signing_algorithm(algorithm: SigningAlgorithm) -> pca::SigningAlgorithm {
    match algorithm {
        SigningAlgorithm::Sha256WithEcdsa => pca::SigningAlgorithm::Sha256Withecdsa,
        SigningAlgorithm::Sha384WithEcdsa => pca::SigningAlgorithm::Sha384Withecdsa,
        SigningAlgorithm::Sha512WithEcdsa => pca::SigningAlgorithm::Sha512Withecdsa,
        SigningAlgorithm::Sha256WithRsa => pca::SigningAlgorithm::Sha256Withrsa,
        SigningAlgorithm::Sha384WithRsa => pca::SigningAlgorithm::Sha384Withrsa,
        SigningAlgorithm::Sha512WithRsa => pca::SigningAlgorithm::Sha512Withrsa,
    }
}

/// PCA's Validity (type and value) of a certificate validity.
pub fn validity(validity: CertValidity) -> (pca::ValidityPeriodType, i64) {
    let kind = match validity {
        CertValidity::Days(_) => pca::ValidityPeriodType::Days,
        CertValidity::Months(_) => pca::ValidityPeriodType::Months,
        CertValidity::Years(_) => pca::ValidityPeriodType::Years,
    };
    (kind, i64::from(validity.value()))
}

pub fn revocation_reason(reason: RevocationReason) -> pca::RevocationReason {
    match reason {
        RevocationReason::Unspecified => pca::RevocationReason::Unspecified,
        RevocationReason::KeyCompromise => pca::RevocationReason::KeyCompromise,
        RevocationReason::CertificateAuthorityCompromise => {
            pca::RevocationReason::CertificateAuthorityCompromise
        }
        RevocationReason::AffiliationChanged => pca::RevocationReason::AffiliationChanged,
        RevocationReason::Superseded => pca::RevocationReason::Superseded,
        RevocationReason::CessationOfOperation => pca::RevocationReason::CessationOfOperation,
        RevocationReason::PrivilegeWithdrawn => pca::RevocationReason::PrivilegeWithdrawn,
        RevocationReason::AACompromise => pca::RevocationReason::AaCompromise,
    }
}

/// A serial (lowercase hex, as `pki::cert::serial_hex` gives it) in the form
/// RevokeCertificate documents: "This must be in hexadecimal format ... use
/// the following OpenSSL command to list the certificate in text format and
/// copy the hexadecimal serial number" — whole bytes, colon-separated
/// (https://docs.aws.amazon.com/privateca/latest/APIReference/API_RevokeCertificate.html;
/// its CLI example is `67:07:44:76:83:a9:b7:f4:05:56:27:ff:d5:5c:eb:cc`).
pub fn revocation_serial(serial_hex: &str) -> String {
    let even = if serial_hex.len() % 2 == 1 {
        format!("0{serial_hex}")
    } else {
        serial_hex.to_owned()
    };
    even.as_bytes()
        .chunks(2)
        .map(|pair| std::str::from_utf8(pair).expect("hex is ASCII"))
        .collect::<Vec<_>>()
        .join(":")
}

/// PCA's UsageMode; absent (an older CA) is general purpose.
pub fn usage_mode(mode: Option<&pca::CertificateAuthorityUsageMode>) -> UsageMode {
    match mode {
        Some(pca::CertificateAuthorityUsageMode::ShortLivedCertificate) => UsageMode::ShortLived,
        _ => UsageMode::GeneralPurpose,
    }
}

/// The SDK's UsageMode for a CA fleetcert creates.
pub fn ca_usage_mode(mode: UsageMode) -> pca::CertificateAuthorityUsageMode {
    match mode {
        UsageMode::GeneralPurpose => pca::CertificateAuthorityUsageMode::GeneralPurpose,
        UsageMode::ShortLived => pca::CertificateAuthorityUsageMode::ShortLivedCertificate,
    }
}

#[cfg(test)]
mod serial_tests {
    use super::revocation_serial;

    #[test]
    fn serials_are_sent_as_openssl_prints_them() {
        assert_eq!(revocation_serial("7447683a9b7f4"), "07:44:76:83:a9:b7:f4");
        assert_eq!(
            revocation_serial("6707447683a9b7f4"),
            "67:07:44:76:83:a9:b7:f4"
        );
        assert_eq!(revocation_serial("f"), "0f");
    }
}
