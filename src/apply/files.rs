//! What a device needs to connect, written under `output.dir/<device>/`:
//! certificate.pem, chain.pem (the CA certificate, not the leaf),
//! AmazonRootCA1.pem (the root AWS IoT's ATS server certificates chain to),
//! connection.json, and private-key.pem (0600) when fleetcert made the key.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::pki::keys::{DeviceKey, KeyError};
use crate::safe_fs::Dir;

/// Amazon Root CA 1: public, from Debian's ca-certificates
/// (`/usr/share/ca-certificates/mozilla/Amazon_Root_CA_1.crt`).
pub const AMAZON_ROOT_CA_1: &str = include_str!("../../data/AmazonRootCA1.pem");

pub fn device_dir(output_dir: &Path, device: &str) -> PathBuf {
    output_dir.join(device)
}

/// A key generated for a certificate not yet written out.
pub fn pending_key_path(output_dir: &Path, device: &str) -> PathBuf {
    device_dir(output_dir, device).join(PENDING_KEY)
}

const PENDING_KEY: &str = "pending-key.pem";
const PRIVATE_KEY: &str = "private-key.pem";

/// Check the directories `devices` will be written to, and read the
/// public-key SHA-256 of each generated device's pending key, as
/// `PlanOptions::pending_keys` wants them. `devices` are (name, whether
/// fleetcert makes its key). A device directory that is a symlink or not
/// this user's fails the whole call, as does a pending key that fails
/// [`DeviceKey::read`]'s ownership and mode check: either may have been
/// planted, and must be looked at rather than written through or replaced.
/// A key that is not a usable P-256 key is left out: the next GenerateKey
/// replaces it.
pub fn pending_keys<'a>(
    output_dir: &Path,
    devices: impl IntoIterator<Item = (&'a str, bool)>,
) -> Result<BTreeMap<String, String>, KeyError> {
    let mut keys = BTreeMap::new();
    let output = match Dir::open(output_dir) {
        Ok(dir) => dir,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(keys),
        Err(source) => return Err(KeyError::OutputDir(source)),
    };
    for (device, generated) in devices {
        let dir = output.existing_child(device).map_err(KeyError::OutputDir)?;
        let Some(dir) = dir else { continue };
        if !generated || dir.entry(PENDING_KEY).ok().flatten().is_none() {
            continue;
        }
        match DeviceKey::read(&pending_key_path(output_dir, device)) {
            Ok(key) => {
                keys.insert(device.to_string(), key.public_key_sha256());
            }
            Err(error @ KeyError::Unsafe { .. }) => return Err(error),
            Err(_) => {}
        }
    }
    Ok(keys)
}

pub fn key_path(output_dir: &Path, device: &str) -> PathBuf {
    device_dir(output_dir, device).join(PRIVATE_KEY)
}

#[derive(Serialize)]
struct Connection<'a> {
    endpoint: &'a str,
    port: u16,
    client_id: &'a str,
    thing_name: &'a str,
    certificate_id: &'a str,
    certificate: &'static str,
    chain: &'static str,
    private_key: Option<&'static str>,
    server_root_ca: &'static str,
}

pub struct DeviceFiles<'a> {
    pub output_dir: &'a Path,
    pub device: &'a str,
    pub certificate_pem: &'a str,
    pub certificate_id: &'a str,
    pub ca_pem: &'a str,
    pub endpoint: &'a str,
    /// fleetcert made the key: promote the pending key (if it is still
    /// pending) and name private-key.pem in connection.json.
    pub generated_key: bool,
    /// The key itself, written as private-key.pem (0600) instead of
    /// promoting a pending one (`fleetcert export`, from a secret store).
    pub key_pem: Option<&'a str>,
}

impl DeviceFiles<'_> {
    /// Write everything; promote a pending generated key to private-key.pem
    /// last, so the key file always matches certificate.pem once both exist.
    /// The device directory is opened once (a symlink there is refused) and
    /// every file is written relative to it (`safe_fs`).
    pub fn write(&self) -> std::io::Result<()> {
        let dir = Dir::create_all(self.output_dir)?.private_child(self.device)?;
        dir.write_file("certificate.pem", self.certificate_pem.as_bytes(), 0o644)?;
        dir.write_file("chain.pem", self.ca_pem.as_bytes(), 0o644)?;
        dir.write_file("AmazonRootCA1.pem", AMAZON_ROOT_CA_1.as_bytes(), 0o644)?;
        let connection = Connection {
            endpoint: self.endpoint,
            port: 8883,
            client_id: self.device,
            thing_name: self.device,
            certificate_id: self.certificate_id,
            certificate: "certificate.pem",
            chain: "chain.pem",
            private_key: (self.generated_key || self.key_pem.is_some())
                .then_some("private-key.pem"),
            server_root_ca: "AmazonRootCA1.pem",
        };
        let mut json = serde_json::to_string_pretty(&connection).expect("connection serializes");
        json.push('\n');
        dir.write_file("connection.json", json.as_bytes(), 0o644)?;
        // A re-run after a crash between the rename and the end of this
        // operation finds the key already promoted.
        if let Some(pem) = self.key_pem {
            dir.write_file(PRIVATE_KEY, pem.as_bytes(), 0o600)?;
        } else if self.generated_key && dir.entry(PENDING_KEY)?.is_some() {
            dir.rename(PENDING_KEY, PRIVATE_KEY)?;
        }
        Ok(())
    }
}
