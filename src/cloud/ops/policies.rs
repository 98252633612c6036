//! AWS IoT: policies, their versions and their attachments to certificates.

use aws_sdk_iot::types as iot;

use crate::aws_op::AwsOp;
use crate::cloud::{Cloud, CloudError, failed};
use crate::live::OWNER_TAG;

impl Cloud {
    pub async fn create_policy(
        &self,
        fleet: &str,
        name: &str,
        document: &str,
    ) -> Result<(), CloudError> {
        let tag = iot::Tag::builder()
            .key(OWNER_TAG)
            .value(fleet)
            .build()
            .map_err(|e| CloudError::new(AwsOp::CreatePolicy, name, "BuildError", e.to_string()))?;
        let request = self
            .iot
            .create_policy()
            .policy_name(name)
            .policy_document(document)
            .tags(tag);
        match self
            .call(AwsOp::CreatePolicy, name, || request.clone().send())
            .await
        {
            Ok(_) => Ok(()),
            // An earlier attempt was carried out before its answer was lost.
            Err(e) if e.retried() && e.code() == Some("ResourceAlreadyExistsException") => Ok(()),
            Err(e) => Err(failed(AwsOp::CreatePolicy, name, e)),
        }
    }

    pub async fn tag_policy(&self, fleet: &str, arn: &str) -> Result<(), CloudError> {
        let tag = iot::Tag::builder()
            .key(OWNER_TAG)
            .value(fleet)
            .build()
            .map_err(|e| CloudError::new(AwsOp::TagResource, arn, "BuildError", e.to_string()))?;
        let request = self.iot.tag_resource().resource_arn(arn).tags(tag);
        self.call(AwsOp::TagResource, arn, || request.clone().send())
            .await
            .map_err(|e| failed(AwsOp::TagResource, arn, e))?;
        Ok(())
    }

    pub async fn create_policy_version(
        &self,
        name: &str,
        document: &str,
    ) -> Result<(), CloudError> {
        let request = self
            .iot
            .create_policy_version()
            .policy_name(name)
            .policy_document(document)
            .set_as_default(true);
        match self
            .call(AwsOp::CreatePolicyVersion, name, || request.clone().send())
            .await
        {
            Ok(_) => Ok(()),
            // Retried after an attempt AWS may have carried out: a second
            // version would be a duplicate (and count towards the limit of 5),
            // so check whether the default version already says this.
            Err(e) if e.retried() && self.policy_document_is(name, document).await => Ok(()),
            Err(e) => Err(failed(AwsOp::CreatePolicyVersion, name, e)),
        }
    }

    pub async fn delete_policy_version(
        &self,
        name: &str,
        version_id: &str,
    ) -> Result<(), CloudError> {
        let request = self
            .iot
            .delete_policy_version()
            .policy_name(name)
            .policy_version_id(version_id);
        self.call_done_if(
            AwsOp::DeletePolicyVersion,
            format!("{name} v{version_id}"),
            "ResourceNotFoundException",
            || request.clone().send(),
        )
        .await
    }

    pub async fn delete_policy(&self, name: &str) -> Result<(), CloudError> {
        let request = self.iot.delete_policy().policy_name(name);
        self.call_done_if(
            AwsOp::DeletePolicy,
            name,
            "ResourceNotFoundException",
            || request.clone().send(),
        )
        .await
    }

    pub async fn attach_policy(&self, policy: &str, cert_arn: &str) -> Result<(), CloudError> {
        let request = self
            .iot
            .attach_policy()
            .policy_name(policy)
            .target(cert_arn);
        self.call(
            AwsOp::AttachPolicy,
            &format!("{policy} -> {cert_arn}"),
            || request.clone().send(),
        )
        .await
        .map_err(|e| failed(AwsOp::AttachPolicy, format!("{policy} -> {cert_arn}"), e))?;
        Ok(())
    }

    pub async fn detach_policy(&self, policy: &str, cert_arn: &str) -> Result<(), CloudError> {
        let request = self
            .iot
            .detach_policy()
            .policy_name(policy)
            .target(cert_arn);
        self.call_done_if(
            AwsOp::DetachPolicy,
            format!("{policy} -x- {cert_arn}"),
            "ResourceNotFoundException",
            || request.clone().send(),
        )
        .await
    }

    /// Does policy `name`'s default version say `document` (canonically)?
    async fn policy_document_is(&self, name: &str, document: &str) -> bool {
        let request = self.iot.get_policy().policy_name(name);
        match self
            .call(AwsOp::GetPolicy, name, || request.clone().send())
            .await
        {
            Ok(got) => {
                crate::cloud::read::canonical_json(got.policy_document().unwrap_or(""))
                    == crate::cloud::read::canonical_json(document)
            }
            Err(_) => false,
        }
    }
}
