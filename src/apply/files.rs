//! What a device needs to connect, written under `output.dir/<device>/`:
//! certificate.pem, chain.pem (the CA certificate, not the leaf),
//! AmazonRootCA1.pem (the root AWS IoT's ATS server certificates chain to),
//! connection.json, and private-key.pem (0600) when fleetcert made the key.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::pki::keys::{DeviceKey, KeyError, create_private_dir};

/// Amazon Root CA 1: public, from Debian's ca-certificates
/// (`/usr/share/ca-certificates/mozilla/Amazon_Root_CA_1.crt`).
pub const AMAZON_ROOT_CA_1: &str = include_str!("../../data/AmazonRootCA1.pem");

pub fn device_dir(output_dir: &Path, device: &str) -> PathBuf {
    output_dir.join(device)
}

/// A key generated for a certificate not yet written out.
pub fn pending_key_path(output_dir: &Path, device: &str) -> PathBuf {
    device_dir(output_dir, device).join("pending-key.pem")
}

/// The public-key SHA-256 of each of `devices`' pending keys, as
/// `PlanOptions::pending_keys` wants them. A key that is not a usable P-256
/// key is left out: the next GenerateKey replaces it. A key that fails
/// [`DeviceKey::read`]'s ownership and mode check fails the whole call: it
/// may have been planted, and must be looked at rather than replaced.
pub fn pending_keys<'a>(
    output_dir: &Path,
    devices: impl IntoIterator<Item = &'a str>,
) -> Result<BTreeMap<String, String>, KeyError> {
    let mut keys = BTreeMap::new();
    for device in devices {
        let path = pending_key_path(output_dir, device);
        // symlink_metadata: a dangling symlink is still refused.
        if path.symlink_metadata().is_err() {
            continue;
        }
        match DeviceKey::read(&path) {
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
    device_dir(output_dir, device).join("private-key.pem")
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
}

fn write_atomic(path: &Path, contents: &str) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp");
    fs::write(&tmp, contents)?;
    fs::rename(&tmp, path)
}

impl DeviceFiles<'_> {
    /// Write everything; promote a pending generated key to private-key.pem
    /// last, so the key file always matches certificate.pem once both exist.
    pub fn write(&self) -> std::io::Result<()> {
        let dir = device_dir(self.output_dir, self.device);
        create_private_dir(&dir)?;
        let pending = pending_key_path(self.output_dir, self.device);
        write_atomic(&dir.join("certificate.pem"), self.certificate_pem)?;
        write_atomic(&dir.join("chain.pem"), self.ca_pem)?;
        write_atomic(&dir.join("AmazonRootCA1.pem"), AMAZON_ROOT_CA_1)?;
        let connection = Connection {
            endpoint: self.endpoint,
            port: 8883,
            client_id: self.device,
            thing_name: self.device,
            certificate_id: self.certificate_id,
            certificate: "certificate.pem",
            chain: "chain.pem",
            private_key: self.generated_key.then_some("private-key.pem"),
            server_root_ca: "AmazonRootCA1.pem",
        };
        let mut json = serde_json::to_string_pretty(&connection).expect("connection serializes");
        json.push('\n');
        write_atomic(&dir.join("connection.json"), &json)?;
        // A re-run after a crash between the rename and the end of this
        // operation finds the key already promoted.
        if self.generated_key && pending.exists() {
            fs::rename(&pending, key_path(self.output_dir, self.device))?;
        }
        Ok(())
    }
}
