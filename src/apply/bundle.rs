//! A device's bundle as a secret store holds it: one JSON document with
//! everything the device (or the factory that provisions it) needs. The
//! format is a contract (docs/bundles.md); `format` names its version.

use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use super::files::AMAZON_ROOT_CA_1;

/// The bundle format this build writes.
pub const BUNDLE_FORMAT: &str = "fleetcert.device-bundle.v1";
/// The pending-key format: a generated key waiting for its certificate.
pub const PENDING_FORMAT: &str = "fleetcert.pending-key.v1";
/// A new secret's first value, before the device has a bundle.
pub const PLACEHOLDER_FORMAT: &str = "fleetcert.no-bundle-yet.v1";

/// The first value of a device's new secret (it holds nothing secret).
pub fn placeholder(device: &str) -> String {
    serde_json::json!({"format": PLACEHOLDER_FORMAT, "device": device}).to_string()
}

#[derive(Serialize, Deserialize)]
pub struct Bundle {
    pub format: String,
    pub device: String,
    pub thing_name: String,
    pub client_id: String,
    /// The account's AWS IoT data endpoint (iot:Data-ATS), port 8883.
    pub endpoint: String,
    pub port: u16,
    pub certificate_id: String,
    pub certificate_pem: String,
    /// The fleet CA's certificate (not the leaf).
    pub chain_pem: String,
    /// Amazon Root CA 1, which AWS IoT's ATS server certificates chain to.
    pub server_root_ca_pem: String,
    /// Only when fleetcert generated the key.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub private_key_pem: Option<String>,
}

impl Bundle {
    pub fn new(
        device: &str,
        endpoint: &str,
        certificate_id: &str,
        certificate_pem: &str,
        chain_pem: &str,
    ) -> Self {
        Self {
            format: BUNDLE_FORMAT.into(),
            device: device.into(),
            thing_name: device.into(),
            client_id: device.into(),
            endpoint: endpoint.into(),
            port: 8883,
            certificate_id: certificate_id.into(),
            certificate_pem: certificate_pem.into(),
            chain_pem: chain_pem.into(),
            server_root_ca_pem: AMAZON_ROOT_CA_1.into(),
            private_key_pem: None,
        }
    }

    /// The JSON text, in memory zeroized on drop (it may hold a key).
    pub fn to_json(&self) -> Zeroizing<String> {
        Zeroizing::new(serde_json::to_string(self).expect("bundles serialize"))
    }
}

impl Drop for Bundle {
    fn drop(&mut self) {
        if let Some(key) = self.private_key_pem.as_mut() {
            zeroize::Zeroize::zeroize(key);
        }
    }
}

/// A generated key kept until its certificate is written.
#[derive(Serialize, Deserialize)]
pub struct PendingKey {
    pub format: String,
    pub public_key_sha256: String,
    pub private_key_pem: String,
}

impl Drop for PendingKey {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.private_key_pem);
    }
}
