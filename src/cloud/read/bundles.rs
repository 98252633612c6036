//! The fleet's device bundles in Secrets Manager: one ListSecrets listing
//! (100 a page) of `fleetcert/<fleet>/`, read from the tags apply sets.

use std::collections::BTreeMap;

use crate::cloud::ops::{CERTIFICATE_TAG, PENDING_TAG};
use crate::cloud::{Cloud, CloudError};
use crate::live::{LiveBundle, OWNER_TAG};

impl Cloud {
    /// The fleet's bundles by device: secrets named `fleetcert/<fleet>/<device>`
    /// that carry the fleet's ownership tag.
    pub async fn read_bundles(
        &self,
        fleet: &str,
    ) -> Result<BTreeMap<String, LiveBundle>, CloudError> {
        let prefix = crate::spec::secret_name(fleet, "");
        let mut bundles = BTreeMap::new();
        for secret in self.list_secrets(&prefix).await? {
            if secret.tags.get(OWNER_TAG).map(String::as_str) != Some(fleet) {
                continue;
            }
            let device = &secret.name[prefix.len()..];
            if device.is_empty() || device.contains('/') {
                continue;
            }
            bundles.insert(
                device.to_string(),
                LiveBundle {
                    certificate_id: secret.tags.get(CERTIFICATE_TAG).cloned(),
                    pending_key_sha256: secret.tags.get(PENDING_TAG).cloned(),
                    deleted: secret.deleted,
                },
            );
        }
        Ok(bundles)
    }
}
