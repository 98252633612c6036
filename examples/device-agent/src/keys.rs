//! Certificates and private keys in PEM, the SHA-256 of their
//! SubjectPublicKeyInfo (the `key.publicKeySha256` of the document), and the
//! search for the private key of a delivered certificate.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::crypto::ring as provider;
use rustls::sign::SigningKey;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

/// SHA-256 of a DER SubjectPublicKeyInfo.
pub fn spki_sha256(spki_der: &[u8]) -> [u8; 32] {
    ring::digest::digest(&ring::digest::SHA256, spki_der)
        .as_ref()
        .try_into()
        .expect("SHA-256 is 32 bytes")
}

/// The certificates of a PEM text, in order; at least one.
pub fn certificates(pem: &str) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs = CertificateDer::pem_slice_iter(pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("not a PEM certificate: {e}"))?;
    if certs.is_empty() {
        return Err("no PEM certificate found".into());
    }
    Ok(certs)
}

/// The DER SubjectPublicKeyInfo of a certificate.
pub fn certificate_spki(cert: &CertificateDer<'_>) -> Result<Vec<u8>, String> {
    let parsed = webpki::EndEntityCert::try_from(cert)
        .map_err(|e| format!("the certificate cannot be parsed: {e}"))?;
    Ok(parsed.subject_public_key_info().as_ref().to_vec())
}

/// A private key as rustls uses it, with the SHA-256 of its public key.
pub struct PrivateKey {
    pub der: PrivateKeyDer<'static>,
    pub public_key_sha256: [u8; 32],
    pub signing_key: Arc<dyn SigningKey>,
}

impl std::fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PrivateKey")
            .field("public_key_sha256", &hex::encode(self.public_key_sha256))
            .finish_non_exhaustive()
    }
}

impl PrivateKey {
    /// A PEM private key (PKCS#8, SEC1 or PKCS#1) that rustls' ring provider can sign with.
    pub fn from_pem(pem: &[u8]) -> Result<Self, String> {
        let der = PrivateKeyDer::from_pem_slice(pem)
            .map_err(|e| format!("not a PEM private key: {e}"))?;
        let signing_key = provider::default_provider()
            .key_provider
            .load_private_key(der.clone_key())
            .map_err(|e| format!("unusable private key: {e}"))?;
        let spki = signing_key
            .public_key()
            .ok_or("the key's public key cannot be derived")?;
        Ok(PrivateKey {
            public_key_sha256: spki_sha256(spki.as_ref()),
            der,
            signing_key,
        })
    }

    pub fn from_file(path: &Path) -> Result<Self, String> {
        let pem = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
        Self::from_pem(&pem).map_err(|e| format!("{}: {e}", path.display()))
    }
}

/// The first of `candidates` whose public key hashes to `want`, with the key
/// read. Unreadable candidates are skipped (they are not the key wanted) and
/// named in the error when none matches.
pub fn find_key(candidates: &[PathBuf], want: &[u8; 32]) -> Result<(PathBuf, PrivateKey), String> {
    let mut skipped = Vec::new();
    for path in candidates {
        match PrivateKey::from_file(path) {
            Ok(key) if key.public_key_sha256 == *want => return Ok((path.clone(), key)),
            Ok(_) => {}
            Err(e) => skipped.push(e),
        }
    }
    let mut reason = format!(
        "none of the {} private keys this device holds has public key SHA-256 {}",
        candidates.len(),
        hex::encode(want)
    );
    if !skipped.is_empty() {
        reason.push_str(&format!(" (unreadable: {})", skipped.join("; ")));
    }
    Err(reason)
}

/// Check that `cert_pem`'s first certificate is for `key`.
pub fn check_certificate_matches(cert_pem: &str, key: &PrivateKey) -> Result<(), String> {
    let certs = certificates(cert_pem)?;
    let spki = certificate_spki(&certs[0])?;
    if spki_sha256(&spki) != key.public_key_sha256 {
        return Err(format!(
            "the certificate's public key (SHA-256 {}) is not the matched key's ({})",
            hex::encode(spki_sha256(&spki)),
            hex::encode(key.public_key_sha256)
        ));
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use rcgen::{CertificateParams, KeyPair, PKCS_ECDSA_P256_SHA256};

    /// The key's SPKI DER, from its `PUBLIC KEY` PEM (which is the SPKI).
    pub(crate) fn spki_der(key: &KeyPair) -> Vec<u8> {
        rustls_pki_types::SubjectPublicKeyInfoDer::from_pem_slice(key.public_key_pem().as_bytes())
            .unwrap()
            .to_vec()
    }

    fn key_file(dir: &Path, name: &str) -> (PathBuf, KeyPair) {
        let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
        let path = dir.join(name);
        std::fs::write(&path, key.serialize_pem()).unwrap();
        (path, key)
    }

    #[test]
    fn the_key_hash_is_the_sha256_of_its_spki_der() {
        let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
        let ours = PrivateKey::from_pem(key.serialize_pem().as_bytes()).unwrap();
        assert_eq!(ours.public_key_sha256, spki_sha256(&spki_der(&key)));
        let cert = CertificateParams::new(vec!["sensor-1".into()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        let spki = certificate_spki(cert.der()).unwrap();
        assert_eq!(spki, spki_der(&key));
        check_certificate_matches(&cert.pem(), &ours).unwrap();
        let other = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
        let other = PrivateKey::from_pem(other.serialize_pem().as_bytes()).unwrap();
        assert!(
            check_certificate_matches(&cert.pem(), &other)
                .unwrap_err()
                .contains("is not the matched key's")
        );
    }

    #[test]
    fn finds_the_matching_key_among_several_and_names_the_miss() {
        let dir = tempfile::tempdir().unwrap();
        let (a, _) = key_file(dir.path(), "a.pem");
        let (b, kb) = key_file(dir.path(), "b.pem");
        let junk = dir.path().join("junk.pem");
        std::fs::write(&junk, "not a key").unwrap();
        let want = spki_sha256(&spki_der(&kb));
        let candidates = vec![junk.clone(), a.clone(), b.clone()];
        let (found, key) = find_key(&candidates, &want).unwrap();
        assert_eq!(found, b);
        assert_eq!(key.public_key_sha256, want);

        let miss = find_key(&[a, junk], &want).unwrap_err();
        assert!(miss.starts_with("none of the 2 private keys"), "{miss}");
        assert!(miss.contains(&hex::encode(want)), "{miss}");
        assert!(miss.contains("junk.pem"), "{miss}");
    }
}
