//! The fleet's device bundles in a secret store, from one listing: the
//! Secrets Manager secrets `fleetcert/<fleet>/` (ListSecrets, 100 a page,
//! with the tags apply sets), or the SSM parameters under `/fleetcert/<fleet>`
//! (DescribeParameters, 50 a page, with the descriptions apply sets).

use std::collections::BTreeMap;

use crate::cloud::ops::{CERTIFICATE_TAG, PENDING_TAG};
use crate::cloud::{Cloud, CloudError};
use crate::live::{LiveBundle, OWNER_TAG};
use crate::spec::Output;

impl Cloud {
    /// The fleet's bundles by device, where `output` keeps them.
    pub async fn read_bundles(
        &self,
        fleet: &str,
        output: &Output,
    ) -> Result<BTreeMap<String, LiveBundle>, CloudError> {
        match output {
            Output::Dir { .. } => Ok(BTreeMap::new()),
            Output::SecretsManager { .. } => self.read_secret_bundles(fleet).await,
            Output::Ssm { .. } => self.read_parameter_bundles(fleet).await,
        }
    }

    /// Parameters `/fleetcert/<fleet>/<device>` and `<device>/pending-key`;
    /// the path is the fleet's (parameters updated with Overwrite carry no tags).
    async fn read_parameter_bundles(
        &self,
        fleet: &str,
    ) -> Result<BTreeMap<String, LiveBundle>, CloudError> {
        let prefix = crate::spec::parameter_name(fleet, "");
        let mut bundles: BTreeMap<String, LiveBundle> = BTreeMap::new();
        let tagged = |description: &str, tag: &str| {
            description
                .strip_prefix(tag)
                .and_then(|rest| rest.strip_prefix('='))
                .map(str::to_string)
        };
        for (name, description) in self
            .describe_parameters(prefix.trim_end_matches('/'))
            .await?
        {
            let Some(rest) = name.strip_prefix(&prefix) else {
                continue;
            };
            match rest.split_once('/') {
                None if !rest.is_empty() => {
                    bundles.entry(rest.to_string()).or_default().certificate_id =
                        tagged(&description, CERTIFICATE_TAG);
                }
                Some((device, "pending-key")) => {
                    bundles
                        .entry(device.to_string())
                        .or_default()
                        .pending_key_sha256 = tagged(&description, PENDING_TAG);
                }
                _ => {}
            }
        }
        Ok(bundles)
    }

    /// Secrets named `fleetcert/<fleet>/<device>` that carry the fleet's
    /// ownership tag.
    async fn read_secret_bundles(
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
