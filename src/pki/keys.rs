//! P-256 device keys and their CSRs. A generated key is written (0600, in a
//! 0700 directory) before any certificate is requested for it, so a crash can
//! never leave a registered certificate whose key is lost.

use std::io::Read;
use std::path::{Path, PathBuf};

use rustix::fs::{FileType, Stat};

use rcgen::{CertificateParams, DistinguishedName, DnType, KeyPair, PKCS_ECDSA_P256_SHA256};
use zeroize::{Zeroize, Zeroizing};

use crate::safe_fs::{Dir, mode_bits};

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
    #[error("refusing to write device files: {0}")]
    OutputDir(std::io::Error),
    #[error("building the CSR for {common_name}: {reason}")]
    Csr { common_name: String, reason: String },
}

/// A P-256 key pair. On drop, rcgen's PKCS#8 copy of the private key is
/// zeroized, as is every PEM of it fleetcert makes (`Zeroizing`). The
/// signing key that `ring` derives from it is not: ring does not clear its
/// memory, and neither fleetcert nor ring can clear copies the allocator or
/// the kernel (swap, core dumps) made. Keep core dumps off on the runner.
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
    /// machine) and is refused with what is wrong with it. The checks are
    /// made on the open directory and file, so what is checked is what is read.
    pub fn read(path: &Path) -> Result<Self, KeyError> {
        let display = path.display().to_string();
        let io = |source| KeyError::Io {
            path: display.clone(),
            source,
        };
        let unsafe_key = |reason: String| KeyError::Unsafe {
            path: display.clone(),
            reason,
        };
        let (dir, name) = split(path);
        let dir = Dir::open_nofollow(&dir).map_err(|e| unsafe_key(e.to_string()))?;
        check_private_dir(&dir).map_err(unsafe_key)?;
        if dir.entry(&name).map_err(io)? == Some(FileType::Symlink) {
            return Err(unsafe_key(
                "it is a symlink; a key must be a regular file".into(),
            ));
        }
        let mut text = Zeroizing::new(String::new());
        let (file, stat) = dir.open_read(&name).map_err(io)?;
        check_private_file(&stat).map_err(unsafe_key)?;
        // A PKCS#8 P-256 PEM is about 250 bytes.
        file.take(MAX_KEY_BYTES)
            .read_to_string(&mut text)
            .map_err(io)?;
        let pair = KeyPair::from_pem(&text).map_err(|e| KeyError::BadKey {
            path: display.clone(),
            reason: e.to_string(),
        })?;
        if pair.algorithm() != &PKCS_ECDSA_P256_SHA256 {
            return Err(KeyError::BadKey {
                path: display,
                reason: "the key is not ECDSA P-256".to_string(),
            });
        }
        Ok(Self { pair })
    }

    /// The key as PKCS#8 PEM, in memory that is zeroized on drop.
    pub fn pem(&self) -> Zeroizing<String> {
        Zeroizing::new(self.pair.serialize_pem())
    }

    /// A P-256 key from PKCS#8 PEM text (`about` names it in errors).
    pub fn from_pem(text: &str, about: &str) -> Result<Self, KeyError> {
        let pair = KeyPair::from_pem(text).map_err(|e| KeyError::BadKey {
            path: about.to_string(),
            reason: e.to_string(),
        })?;
        if pair.algorithm() != &PKCS_ECDSA_P256_SHA256 {
            return Err(KeyError::BadKey {
                path: about.to_string(),
                reason: "the key is not ECDSA P-256".to_string(),
            });
        }
        Ok(Self { pair })
    }

    /// Write the key as PKCS#8 PEM with mode 0600 in a 0700 directory that
    /// is not a symlink, atomically and durably: a crash leaves either no
    /// file or the whole key.
    pub fn write(&self, path: &Path) -> Result<(), KeyError> {
        let io = |source| KeyError::Io {
            path: path.display().to_string(),
            source,
        };
        let (dir, name) = split(path);
        let (parent, child) = split(&dir);
        let dir = Dir::create_all(&parent)
            .and_then(|parent| parent.private_child(&child))
            .map_err(io)?;
        let pem = Zeroizing::new(self.pair.serialize_pem());
        dir.write_file(&name, pem.as_bytes(), 0o600).map_err(io)
    }
}

impl Drop for DeviceKey {
    fn drop(&mut self) {
        self.pair.zeroize();
    }
}

/// `path`'s directory and file name.
fn split(path: &Path) -> (PathBuf, String) {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    (dir, name)
}

/// The most of a key file that is read.
const MAX_KEY_BYTES: u64 = 16 * 1024;

/// What is wrong with an open key file, if anything.
fn check_private_file(stat: &Stat) -> Result<(), String> {
    let me = euid();
    if FileType::from_raw_mode(stat.st_mode) != FileType::RegularFile {
        return Err("it is not a regular file".into());
    }
    if stat.st_uid != me {
        return Err(format!(
            "it is owned by uid {}, not by uid {me} that runs fleetcert",
            stat.st_uid
        ));
    }
    let mode = mode_bits(stat);
    if mode != 0o600 {
        return Err(format!(
            "its mode is {mode:04o}; a private key must be 0600 (only its owner reads it)"
        ));
    }
    Ok(())
}

/// What is wrong with a key's open directory, if anything.
fn check_private_dir(dir: &Dir) -> Result<(), String> {
    let me = euid();
    let stat = dir.stat().map_err(|e| e.to_string())?;
    let shown = dir.path().display();
    if stat.st_uid != me {
        return Err(format!(
            "its directory {shown} is owned by uid {}, not by uid {me} that runs fleetcert",
            stat.st_uid
        ));
    }
    let mode = mode_bits(&stat);
    if mode != 0o700 {
        return Err(format!(
            "its directory {shown} has mode {mode:04o}; it must be 0700"
        ));
    }
    Ok(())
}

fn euid() -> u32 {
    rustix::process::geteuid().as_raw()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn dropping_a_key_zeroizes_rcgens_copy_of_it() {
        let mut key = DeviceKey::generate();
        assert!(key.pair.serialized_der().iter().any(|b| *b != 0));
        // What Drop does, observed before the memory is freed.
        key.pair.zeroize();
        assert!(key.pair.serialized_der().iter().all(|b| *b == 0));
    }

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
