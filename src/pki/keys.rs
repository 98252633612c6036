//! P-256 device keys and their CSRs. A generated key is written (0600, in a
//! 0700 directory) before any certificate is requested for it, so a crash can
//! never leave a registered certificate whose key is lost.

use std::fs;
use std::io::{Read, Write};
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
    #[error("{path}: refusing to use this private key: {reason}")]
    Unsafe { path: String, reason: String },
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
    /// Only a key only this user can reach is used: a regular file (not a
    /// symlink) owned by the user with mode 0600, in a 0700 directory owned
    /// by the user. Anything else may have been planted (by a pull request
    /// that commits `out/<device>/pending-key.pem`, or another user on the
    /// machine) and is refused with what is wrong with it.
    pub fn read(path: &Path) -> Result<Self, KeyError> {
        let io = |source| KeyError::Io {
            path: path.display().to_string(),
            source,
        };
        check_private(path).map_err(|reason| KeyError::Unsafe {
            path: path.display().to_string(),
            reason,
        })?;
        let file = fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
            .open(path)
            .map_err(io)?;
        let mut text = Zeroizing::new(String::new());
        // A PKCS#8 P-256 PEM is about 250 bytes.
        file.take(MAX_KEY_BYTES)
            .read_to_string(&mut text)
            .map_err(io)?;
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

/// The most of a key file that is read.
const MAX_KEY_BYTES: u64 = 16 * 1024;

/// What is wrong with `path` as a private key file, if anything.
fn check_private(path: &Path) -> Result<(), String> {
    use std::os::unix::fs::MetadataExt;
    // SAFETY: geteuid has no preconditions and cannot fail.
    let me = unsafe { libc::geteuid() };
    let meta = fs::symlink_metadata(path).map_err(|e| e.to_string())?;
    if meta.file_type().is_symlink() {
        return Err("it is a symlink; a key must be a regular file".into());
    }
    if !meta.is_file() {
        return Err("it is not a regular file".into());
    }
    if meta.uid() != me {
        return Err(format!(
            "it is owned by uid {}, not by uid {me} that runs fleetcert",
            meta.uid()
        ));
    }
    let mode = meta.mode() & 0o7777;
    if mode != 0o600 {
        return Err(format!(
            "its mode is {mode:04o}; a private key must be 0600 (only its owner reads it)"
        ));
    }
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let meta = fs::symlink_metadata(dir).map_err(|e| e.to_string())?;
    if !meta.is_dir() {
        return Err(format!(
            "its directory {} is not a directory (a symlink?)",
            dir.display()
        ));
    }
    if meta.uid() != me {
        return Err(format!(
            "its directory {} is owned by uid {}, not by uid {me} that runs fleetcert",
            dir.display(),
            meta.uid()
        ));
    }
    let mode = meta.mode() & 0o7777;
    if mode != 0o700 {
        return Err(format!(
            "its directory {} has mode {mode:04o}; it must be 0700",
            dir.display()
        ));
    }
    Ok(())
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
    fn keys_others_could_reach_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("dev/pending-key.pem");
        DeviceKey::generate().write(&path).unwrap();
        let refused = |path: &Path| match DeviceKey::read(path) {
            Err(KeyError::Unsafe { reason, .. }) => reason,
            other => panic!("not refused: {other:?}"),
        };
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        assert!(refused(&path).contains("mode is 0644"));
        fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
        fs::set_permissions(path.parent().unwrap(), fs::Permissions::from_mode(0o755)).unwrap();
        assert!(refused(&path).contains("has mode 0755"));
        fs::set_permissions(path.parent().unwrap(), fs::Permissions::from_mode(0o700)).unwrap();
        let link = dir.path().join("dev/link.pem");
        std::os::unix::fs::symlink(&path, &link).unwrap();
        assert!(refused(&link).contains("symlink"));
        assert!(DeviceKey::read(&path).is_ok());
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
