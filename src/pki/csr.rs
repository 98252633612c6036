//! Checking certificate signing requests made on devices: PEM, PKCS#10, a
//! P-256 key (the curve OID of the key itself, not the signature algorithm's
//! name), a signature that verifies, and the subject's CN.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use x509_parser::certification_request::X509CertificationRequest;
use x509_parser::oid_registry::{
    OID_EC_P256, OID_KEY_TYPE_EC_PUBLIC_KEY, OID_NIST_EC_P384, OID_NIST_EC_P521,
    OID_PKCS1_RSAENCRYPTION, OID_SIG_ED25519,
};
use x509_parser::prelude::FromDer;

/// A checked CSR.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CsrInfo {
    /// The file it was read from (relative to the spec's directory joined to it).
    pub path: PathBuf,
    /// The PEM text as read.
    pub pem: String,
    /// The PKCS#10 DER.
    pub der: Vec<u8>,
    /// The subject public key info (SPKI) DER.
    pub public_key_der: Vec<u8>,
    /// The subject's common name.
    pub common_name: String,
    /// sha256 hex of the DER.
    pub sha256: String,
}

/// Why a CSR was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CsrError {
    #[error("is not PEM (expected a -----BEGIN CERTIFICATE REQUEST----- block)")]
    NotPem,
    #[error("holds a PEM `{label}` block, not a CERTIFICATE REQUEST")]
    WrongLabel { label: String },
    #[error("has a PEM `{label}` header, but its body is not valid base64")]
    BadBase64 { label: String },
    #[error("holds more than one PEM block")]
    SeveralBlocks,
    #[error("is not a PKCS#10 certificate request: {detail}")]
    NotCsr { detail: String },
    #[error("has key type {key}; fleetcert devices use ECDSA P-256 keys")]
    WrongKey { key: String },
    #[error("has an invalid P-256 public key")]
    BadPoint,
    #[error(
        "has a signature that does not verify (the CSR was altered, or not signed with its own key)"
    )]
    BadSignature,
    #[error("has no subject common name (CN)")]
    NoCommonName,
}

/// Parses and checks a PEM CSR: PEM framing, PKCS#10 structure, P-256 key,
/// signature. The CN is returned for the caller to compare.
pub fn parse_csr(path: &Path, pem_text: &str) -> Result<CsrInfo, CsrError> {
    let der = pem_to_der(pem_text)?;
    let (rest, csr) = X509CertificationRequest::from_der(&der).map_err(|e| CsrError::NotCsr {
        detail: e.to_string(),
    })?;
    if !rest.is_empty() {
        return Err(CsrError::NotCsr {
            detail: "trailing bytes after the request".into(),
        });
    }
    let info = &csr.certification_request_info;
    let spki = &info.subject_pki;
    let algorithm = &spki.algorithm.algorithm;
    if *algorithm != OID_KEY_TYPE_EC_PUBLIC_KEY {
        let key = if *algorithm == OID_PKCS1_RSAENCRYPTION {
            "RSA".to_owned()
        } else if *algorithm == OID_SIG_ED25519 {
            "Ed25519".to_owned()
        } else {
            format!("non-EC (algorithm {algorithm})")
        };
        return Err(CsrError::WrongKey { key });
    }
    let curve = spki
        .algorithm
        .parameters
        .as_ref()
        .and_then(|p| p.as_oid().ok());
    match curve {
        Some(oid) if oid == OID_EC_P256 => {}
        Some(oid) => {
            let key = if oid == OID_NIST_EC_P384 {
                "ECDSA P-384".to_owned()
            } else if oid == OID_NIST_EC_P521 {
                "ECDSA P-521".to_owned()
            } else {
                format!("EC key on curve {oid}")
            };
            return Err(CsrError::WrongKey { key });
        }
        None => {
            return Err(CsrError::WrongKey {
                key: "EC key without a named curve".into(),
            });
        }
    }
    if p256::PublicKey::from_sec1_bytes(&spki.subject_public_key.data).is_err() {
        return Err(CsrError::BadPoint);
    }
    csr.verify_signature().map_err(|_| CsrError::BadSignature)?;
    let common_name = info
        .subject
        .iter_common_name()
        .next()
        .and_then(|cn| cn.as_str().ok())
        .map(str::to_owned)
        .ok_or(CsrError::NoCommonName)?;
    let public_key_der = spki.raw.to_vec();
    let sha256 = hex::encode(Sha256::digest(&der));
    Ok(CsrInfo {
        path: path.to_path_buf(),
        pem: pem_text.to_owned(),
        der,
        public_key_der,
        common_name,
        sha256,
    })
}

/// The DER inside the one `CERTIFICATE REQUEST` PEM block of `text`.
fn pem_to_der(text: &str) -> Result<Vec<u8>, CsrError> {
    if !text.contains("-----BEGIN ") {
        return Err(CsrError::NotPem);
    }
    let (rest, pem) = x509_parser::pem::parse_x509_pem(text.as_bytes()).map_err(|e| match e {
        // Framed as PEM but mangled inside: say so, not "add the header".
        x509_parser::nom::Err::Error(x509_parser::error::PEMError::Base64DecodeError) => {
            match pem_label(text) {
                Some(label) => CsrError::BadBase64 { label },
                None => CsrError::NotPem,
            }
        }
        _ => CsrError::NotPem,
    })?;
    if !matches!(
        pem.label.as_str(),
        "CERTIFICATE REQUEST" | "NEW CERTIFICATE REQUEST"
    ) {
        return Err(CsrError::WrongLabel { label: pem.label });
    }
    if String::from_utf8_lossy(rest).contains("-----BEGIN ") {
        return Err(CsrError::SeveralBlocks);
    }
    Ok(pem.contents)
}

/// The label of the first `-----BEGIN <label>-----` line of `text`.
fn pem_label(text: &str) -> Option<String> {
    text.lines().find_map(|line| {
        line.trim()
            .strip_prefix("-----BEGIN ")?
            .strip_suffix("-----")
            .map(str::to_owned)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn make_csr(cn: &str, alg: &'static rcgen::SignatureAlgorithm) -> String {
        let key = rcgen::KeyPair::generate_for(alg).unwrap();
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.distinguished_name = rcgen::DistinguishedName::new();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, cn);
        params.serialize_request(&key).unwrap().pem().unwrap()
    }

    #[test]
    fn accepts_a_p256_csr() {
        let pem = make_csr("sensor-001", &rcgen::PKCS_ECDSA_P256_SHA256);
        let info = parse_csr(Path::new("a.csr"), &pem).unwrap();
        assert_eq!(info.common_name, "sensor-001");
        assert_eq!(info.sha256.len(), 64);
    }

    #[test]
    fn refuses_p384_by_curve() {
        let pem = make_csr("sensor-001", &rcgen::PKCS_ECDSA_P384_SHA384);
        assert_eq!(
            parse_csr(Path::new("a.csr"), &pem),
            Err(CsrError::WrongKey {
                key: "ECDSA P-384".into()
            })
        );
    }

    #[test]
    fn refuses_non_pem_and_bad_signature() {
        assert_eq!(parse_csr(Path::new("a"), "hello"), Err(CsrError::NotPem));
        let pem = make_csr("sensor-001", &rcgen::PKCS_ECDSA_P256_SHA256);
        let der = pem_to_der(&pem).unwrap();
        let mut tampered = der.clone();
        // Flip a byte inside the subject's CN.
        let at = der.windows(10).position(|w| w == b"sensor-001").unwrap();
        tampered[at] = b'S';
        let pem = format!(
            "-----BEGIN CERTIFICATE REQUEST-----\n{}\n-----END CERTIFICATE REQUEST-----\n",
            base64_lines(&tampered)
        );
        assert_eq!(parse_csr(Path::new("a"), &pem), Err(CsrError::BadSignature));
    }

    #[test]
    fn a_pem_header_around_garbage_is_a_bad_body_not_a_missing_header() {
        let text = "-----BEGIN CERTIFICATE REQUEST-----\n!!!not*base64***\n-----END CERTIFICATE REQUEST-----\n";
        assert_eq!(
            parse_csr(Path::new("a"), text),
            Err(CsrError::BadBase64 {
                label: "CERTIFICATE REQUEST".into()
            })
        );
    }

    fn base64_lines(data: &[u8]) -> String {
        const ALPHABET: &[u8; 64] =
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let mut out = String::new();
        for chunk in data.chunks(3) {
            let b = [
                chunk[0],
                *chunk.get(1).unwrap_or(&0),
                *chunk.get(2).unwrap_or(&0),
            ];
            let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
            for i in 0..4 {
                if i <= chunk.len() {
                    out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
                } else {
                    out.push('=');
                }
            }
        }
        out
    }
}
