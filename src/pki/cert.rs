//! Facts taken from a certificate's PEM. The PEM is the truth for subject,
//! serial and expiry (DESIGN.md section 4): ARN suffixes and IoT's validity
//! fields are not trusted.

use sha2::{Digest, Sha256};
use x509_parser::prelude::*;

#[derive(Debug, thiserror::Error)]
pub enum CertError {
    #[error("not a PEM certificate: {0}")]
    Pem(String),
    #[error("not an X.509 certificate: {0}")]
    Der(String),
}

/// What fleetcert needs to know about a certificate.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CertInfo {
    /// Serial number, lowercase hex without separators.
    pub serial: String,
    pub subject_cn: Option<String>,
    pub not_before: i64,
    pub not_after: i64,
    /// SHA-256 of the SubjectPublicKeyInfo DER: identifies the key pair.
    pub public_key_sha256: String,
    /// SHA-256 of the certificate DER: AWS IoT's certificate id.
    pub der_sha256: String,
}

/// The DER of the first certificate in `pem`.
pub fn pem_to_der(pem: &str) -> Result<Vec<u8>, CertError> {
    let (_, parsed) = x509_parser::pem::parse_x509_pem(pem.as_bytes())
        .map_err(|e| CertError::Pem(e.to_string()))?;
    if parsed.label != "CERTIFICATE" {
        return Err(CertError::Pem(format!("found a {} block", parsed.label)));
    }
    Ok(parsed.contents)
}

pub fn parse_pem(pem: &str) -> Result<CertInfo, CertError> {
    parse_der(&pem_to_der(pem)?)
}

pub fn parse_der(der: &[u8]) -> Result<CertInfo, CertError> {
    let (_, cert) = X509Certificate::from_der(der).map_err(|e| CertError::Der(e.to_string()))?;
    let subject_cn = cert
        .subject()
        .iter_common_name()
        .next()
        .and_then(|cn| cn.as_str().ok())
        .map(str::to_string);
    Ok(CertInfo {
        serial: serial_hex(cert.tbs_certificate.raw_serial()),
        subject_cn,
        not_before: cert.validity().not_before.timestamp(),
        not_after: cert.validity().not_after.timestamp(),
        public_key_sha256: hex::encode(Sha256::digest(cert.public_key().raw)),
        der_sha256: hex::encode(Sha256::digest(der)),
    })
}

/// A serial number as lowercase hex without leading zeros (the form PCA's
/// certificate ARNs and revocation records use).
pub fn serial_hex(raw: &[u8]) -> String {
    let text = hex::encode(raw);
    let trimmed = text.trim_start_matches('0');
    if trimmed.is_empty() {
        "0".to_string()
    } else {
        trimmed.to_string()
    }
}

/// SHA-256 of a SubjectPublicKeyInfo DER, as in [`CertInfo::public_key_sha256`].
pub fn spki_sha256(spki_der: &[u8]) -> String {
    hex::encode(Sha256::digest(spki_der))
}

/// Lowercase hex SHA-256 of `bytes` (e.g. a certificate DER: its IoT id).
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}
