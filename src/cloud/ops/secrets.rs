//! AWS Secrets Manager: one secret per device holding its bundle, with a
//! generated key kept as a pending version (staging label
//! `FLEETCERT_PENDING`) until its certificate is registered. Facts a plan
//! needs (the bundle's certificate, a pending key's digest) are tags, so a
//! plan reads a whole fleet's secrets with ListSecrets (100 a page) and no
//! call per device.

use std::collections::BTreeMap;

use aws_sdk_secretsmanager::types as sm;

use crate::aws_op::AwsOp;
use crate::cloud::{Cloud, CloudError, failed};
use crate::live::OWNER_TAG;

/// The staging label of a generated key waiting for its certificate.
/// "Staging labels ... a version can have ... up to 20 labels", and a label
/// is on one version at a time: PutSecretValue with this label moves it
/// (API reference, PutSecretValue, VersionStages).
pub const PENDING_STAGE: &str = "FLEETCERT_PENDING";
/// Tag: the id of the certificate in the bundle labelled AWSCURRENT.
pub const CERTIFICATE_TAG: &str = "fleetcert:certificate-id";
/// Tag: the public-key SHA-256 of the key waiting in `PENDING_STAGE`.
pub const PENDING_TAG: &str = "fleetcert:pending-key-sha256";

/// One of the fleet's secrets as ListSecrets shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredSecret {
    pub name: String,
    pub tags: BTreeMap<String, String>,
    /// Scheduled for deletion (DeletedDate is set).
    pub deleted: bool,
}

impl Cloud {
    /// CreateSecret, tagged as the fleet's, holding `placeholder` as its
    /// first version. Secrets Manager labels a secret's first version
    /// AWSCURRENT whatever stages it is given ("If this operation creates the
    /// first version for the secret, then Secrets Manager automatically
    /// attaches the staging label AWSCURRENT to the new version", API
    /// reference, PutSecretValue): a placeholder takes that place, so a
    /// pending key is never the current value. An existing secret is kept.
    pub async fn ensure_secret(
        &self,
        fleet: &str,
        name: &str,
        kms_key_id: Option<&str>,
        placeholder: &str,
    ) -> Result<(), CloudError> {
        let owner = sm::Tag::builder().key(OWNER_TAG).value(fleet).build();
        let request = self
            .secrets
            .create_secret()
            .name(name)
            .description(format!("fleetcert device bundle (fleet {fleet})"))
            .set_kms_key_id(kms_key_id.map(str::to_string))
            .secret_string(placeholder)
            .tags(owner);
        self.call_done_if(AwsOp::CreateSecret, name, "ResourceExistsException", || {
            request.clone().send()
        })
        .await
    }

    /// PutSecretValue. `token` (32 to 64 characters) makes a retry of the
    /// same value a no-op ("If a version with this value already exists ...
    /// the operation succeeds", ClientRequestToken). With `stages`, only
    /// those labels move to the new version; without, AWSCURRENT does (and
    /// the previous version becomes AWSPREVIOUS).
    pub async fn put_secret(
        &self,
        name: &str,
        token: &str,
        value: &str,
        stages: Option<&[&str]>,
    ) -> Result<String, CloudError> {
        let request = self
            .secrets
            .put_secret_value()
            .secret_id(name)
            .client_request_token(token)
            .secret_string(value)
            .set_version_stages(stages.map(|s| s.iter().map(|l| l.to_string()).collect()));
        let out = self
            .call(AwsOp::PutSecretValue, name, || request.clone().send())
            .await
            .map_err(|e| failed(AwsOp::PutSecretValue, name, e))?;
        Ok(out.version_id().unwrap_or(token).to_string())
    }

    /// The value labelled `stage`, and its version id; `None` if the secret
    /// or a version with that label does not exist.
    pub async fn secret_at_stage(
        &self,
        name: &str,
        stage: &str,
    ) -> Result<Option<(String, String)>, CloudError> {
        let request = self
            .secrets
            .get_secret_value()
            .secret_id(name)
            .version_stage(stage);
        match self
            .call(AwsOp::GetSecretValue, name, || request.clone().send())
            .await
        {
            Ok(out) => Ok(Some((
                out.secret_string().unwrap_or_default().to_string(),
                out.version_id().unwrap_or_default().to_string(),
            ))),
            Err(e) if e.code() == Some("ResourceNotFoundException") => Ok(None),
            Err(e) => Err(failed(AwsOp::GetSecretValue, name, e)),
        }
    }

    /// Take the label `stage` off version `version_id`.
    pub async fn remove_stage(
        &self,
        name: &str,
        stage: &str,
        version_id: &str,
    ) -> Result<(), CloudError> {
        let request = self
            .secrets
            .update_secret_version_stage()
            .secret_id(name)
            .version_stage(stage)
            .remove_from_version_id(version_id);
        self.call(AwsOp::UpdateSecretVersionStage, name, || {
            request.clone().send()
        })
        .await
        .map_err(|e| failed(AwsOp::UpdateSecretVersionStage, name, e))?;
        Ok(())
    }

    /// Set one tag on the secret.
    pub async fn tag_secret(&self, name: &str, key: &str, value: &str) -> Result<(), CloudError> {
        let tag = sm::Tag::builder().key(key).value(value).build();
        let request = self.secrets.tag_resource().secret_id(name).tags(tag);
        self.call(AwsOp::TagSecret, name, || request.clone().send())
            .await
            .map_err(|e| failed(AwsOp::TagSecret, name, e))?;
        Ok(())
    }

    /// Remove one tag from the secret.
    pub async fn untag_secret(&self, name: &str, key: &str) -> Result<(), CloudError> {
        let request = self.secrets.untag_resource().secret_id(name).tag_keys(key);
        self.call(AwsOp::UntagSecret, name, || request.clone().send())
            .await
            .map_err(|e| failed(AwsOp::UntagSecret, name, e))?;
        Ok(())
    }

    /// DeleteSecret, restorable for `recovery_window_days` (7 to 30). A
    /// secret that is gone, or already scheduled, counts as done.
    pub async fn delete_secret(
        &self,
        name: &str,
        recovery_window_days: u32,
    ) -> Result<(), CloudError> {
        let request = self
            .secrets
            .delete_secret()
            .secret_id(name)
            .recovery_window_in_days(i64::from(recovery_window_days));
        match self
            .call(AwsOp::DeleteSecret, name, || request.clone().send())
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if e.code() == Some("ResourceNotFoundException") => Ok(()),
            // "You can't perform this operation on the secret because it was
            // marked for deletion" (InvalidRequestException).
            Err(e) if e.code() == Some("InvalidRequestException") && e.retried() => Ok(()),
            Err(e) => Err(failed(AwsOp::DeleteSecret, name, e)),
        }
    }

    /// Every secret whose name starts with `prefix`, with its tags, those
    /// scheduled for deletion included (ListSecrets, 100 a page, filtered by
    /// name on the server: "name: Prefix match, not case-sensitive").
    pub async fn list_secrets(&self, prefix: &str) -> Result<Vec<StoredSecret>, CloudError> {
        let filter = sm::Filter::builder()
            .key(sm::FilterNameStringType::Name)
            .values(prefix)
            .build();
        let mut found = Vec::new();
        let mut token = None;
        loop {
            let request = self
                .secrets
                .list_secrets()
                .filters(filter.clone())
                .include_planned_deletion(true)
                .max_results(100)
                .set_next_token(token);
            let page = self
                .call(AwsOp::ListSecrets, prefix, || request.clone().send())
                .await
                .map_err(|e| failed(AwsOp::ListSecrets, prefix, e))?;
            for secret in page.secret_list() {
                let Some(name) = secret.name() else { continue };
                // The filter ignores case; the names fleetcert makes do not.
                if !name.starts_with(prefix) {
                    continue;
                }
                found.push(StoredSecret {
                    name: name.to_string(),
                    tags: secret
                        .tags()
                        .iter()
                        .filter_map(|t| Some((t.key()?.to_string(), t.value()?.to_string())))
                        .collect(),
                    deleted: secret.deleted_date().is_some(),
                });
            }
            token = page.next_token().map(str::to_string);
            if token.is_none() {
                return Ok(found);
            }
        }
    }
}
