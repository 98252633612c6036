//! P-256 device keys and their CSRs. A generated key is written (0600, in a
//! 0700 directory) before any certificate is requested for it, so a crash can
//! never leave a registered certificate whose key is lost.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

use rcgen::{CertificateParams, DistinguishedName, DnType, KeyPair, PKCS_ECDSA_P256_SHA256};
use zeroize::Zeroizing;

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: not a usable P-256 private key: {reason}")]
    BadKey { path: String, reason: String },
    #[error("building the CSR for {common_name}: {reason}")]
    Csr { common_name: String, reason: String },
}

/// A P-256 key pair; its private half is zeroized on drop.
pub struct DeviceKey {
    pair: KeyPair,
}

impl std::fmt::Debug for DeviceKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print key material.
        f.debug_struct("DeviceKey")
            .field("public_key_sha256", &self.public_key_sha256())
            .finish()
    }
}

impl DeviceKey {
    pub fn generate() -> Self {
        Self {
            pair: KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).expect("P-256 key generation"),
        }
    }

    /// SHA-256 of the SubjectPublicKeyInfo: the same value as
    /// `CertInfo::public_key_sha256` for a certificate of this key.
    pub fn public_key_sha256(&self) -> String {
        use rcgen::PublicKeyData;
        super::cert::spki_sha256(&self.pair.subject_public_key_info())
    }

    /// A CSR (PEM) whose CN is `common_name`.
    pub fn csr_pem(&self, common_name: &str) -> Result<String, KeyError> {
        let err = |reason: String| KeyError::Csr {
            common_name: common_name.to_string(),
            reason,
        };
        let mut params =
            CertificateParams::new(Vec::<String>::new()).map_err(|e| err(e.to_string()))?;
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, common_name);
        params.distinguished_name = dn;
        let csr = params
            .serialize_request(&self.pair)
            .map_err(|e| err(e.to_string()))?;
        csr.pem().map_err(|e| err(e.to_string()))
    }

    /// Read a PKCS#8 PEM key file written by [`DeviceKey::write`].
    pub fn read(path: &Path) -> Result<Self, KeyError> {
        let text = Zeroizing::new(fs::read_to_string(path).map_err(|source| KeyError::Io {
            path: path.display().to_string(),
            source,
        })?);
        let pair = KeyPair::from_pem(&text).map_err(|e| KeyError::BadKey {
            path: path.display().to_string(),
            reason: e.to_string(),
        })?;
        if pair.algorithm() != &PKCS_ECDSA_P256_SHA256 {
            return Err(KeyError::BadKey {
                path: path.display().to_string(),
                reason: "the key is not ECDSA P-256".to_string(),
            });
        }
        Ok(Self { pair })
    }

    /// Write the key as PKCS#8 PEM with mode 0600 (its directory 0700),
    /// atomically: a crash leaves either no file or the whole key.
    pub fn write(&self, path: &Path) -> Result<(), KeyError> {
        let io = |source| KeyError::Io {
            path: path.display().to_string(),
            source,
        };
        if let Some(dir) = path.parent() {
            create_private_dir(dir).map_err(io)?;
        }
        let pem = Zeroizing::new(self.pair.serialize_pem());
        let tmp = path.with_extension("pem.tmp");
        let _ = fs::remove_file(&tmp);
        let mut file = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(io)?;
        file.write_all(pem.as_bytes()).map_err(io)?;
        file.sync_all().map_err(io)?;
        fs::rename(&tmp, path).map_err(io)?;
        Ok(())
    }
}

/// Create `dir` (and parents) with mode 0700, and tighten it if it exists.
pub fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)?;
    fs::set_permissions(dir, fs::Permissions::from_mode(0o700))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_keys_are_private_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("dev/private-key.pem");
        let key = DeviceKey::generate();
        key.write(&path).unwrap();
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let dir_mode = fs::metadata(path.parent().unwrap())
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(dir_mode, 0o700);
        let again = DeviceKey::read(&path).unwrap();
        assert_eq!(again.public_key_sha256(), key.public_key_sha256());
        assert!(!format!("{key:?}").contains("PRIVATE"));
    }

    #[test]
    fn csr_carries_the_common_name_and_the_key() {
        use x509_parser::prelude::FromDer;
        let key = DeviceKey::generate();
        let pem = key.csr_pem("sensor-001").unwrap();
        let (_, block) = x509_parser::pem::parse_x509_pem(pem.as_bytes()).unwrap();
        let (_, csr) =
            x509_parser::certification_request::X509CertificationRequest::from_der(&block.contents)
                .unwrap();
        let info = &csr.certification_request_info;
        let cn = info
            .subject
            .iter_common_name()
            .next()
            .unwrap()
            .as_str()
            .unwrap();
        assert_eq!(cn, "sensor-001");
        assert_eq!(
            super::super::cert::spki_sha256(info.subject_pki.raw),
            key.public_key_sha256()
        );
    }
}
