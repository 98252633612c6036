//! Deterministic idempotency tokens. ACM PCA keeps a token for about five
//! minutes (API reference, IssueCertificate, IdempotencyToken: "at most 36
//! characters"; "Idempotency tokens for IssueCertificate time out after five
//! minutes"), so a retried apply that re-sends the same request gets the same
//! certificate instead of a second one; a deliberate reissue changes an input
//! (the replaced certificate, the key) and so gets a new token.

use sha2::{Digest, Sha256};

/// A token (32 hex characters) derived from `parts`.
pub fn derive(parts: &[&str]) -> String {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update(part.len().to_be_bytes());
        hasher.update(part.as_bytes());
    }
    hex::encode(hasher.finalize())[..32].to_string()
}

/// The token for a device certificate: fleet, device, the key (CSR or public
/// key hash) and the certificate it replaces.
pub fn for_device_certificate(
    fleet: &str,
    device: &str,
    key_sha256: &str,
    replaces: Option<&str>,
) -> String {
    derive(&[
        "device-certificate",
        fleet,
        device,
        key_sha256,
        replaces.unwrap_or(""),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_short_stable_and_change_with_every_input() {
        let base = for_device_certificate("f", "d", "k", None);
        assert_eq!(base.len(), 32);
        assert_eq!(base, for_device_certificate("f", "d", "k", None));
        assert_ne!(base, for_device_certificate("f", "d", "k", Some("old")));
        assert_ne!(base, for_device_certificate("f", "d", "k2", None));
        assert_ne!(base, for_device_certificate("f", "d2", "k", None));
        // Length-prefixing keeps ("ab","c") and ("a","bc") apart.
        assert_ne!(derive(&["ab", "c"]), derive(&["a", "bc"]));
    }
}
