//! SSM Parameter Store: one SecureString per device holding its bundle, and
//! `<name>/pending-key` for a generated key waiting for its certificate.
//! What a plan needs (the bundle's certificate, a pending key's digest) is in
//! each parameter's description, so one DescribeParameters listing (50 a
//! page) reads a whole fleet. (Tags cannot be set with `Overwrite`: API
//! reference, PutParameter, Tags.)

use aws_sdk_ssm::types as ssm;

use crate::aws_op::AwsOp;
use crate::cloud::{Cloud, CloudError, failed};

/// Standard-tier parameters hold at most 4 KB ("Standard: 4 KB, Advanced:
/// 8 KB", Systems Manager User Guide, Managing parameter tiers).
const STANDARD_MAX_BYTES: usize = 4096;

impl Cloud {
    /// PutParameter as a SecureString, overwriting (a new version; the
    /// previous ones stay in the parameter's history), in the tier its size
    /// needs.
    pub async fn put_parameter(
        &self,
        name: &str,
        value: &str,
        kms_key_id: Option<&str>,
        description: &str,
    ) -> Result<(), CloudError> {
        let tier = if value.len() <= STANDARD_MAX_BYTES {
            ssm::ParameterTier::Standard
        } else {
            ssm::ParameterTier::Advanced
        };
        let request = self
            .ssm
            .put_parameter()
            .name(name)
            .value(value)
            .r#type(ssm::ParameterType::SecureString)
            .set_key_id(kms_key_id.map(str::to_string))
            .description(description)
            .overwrite(true)
            .tier(tier);
        self.call(AwsOp::PutParameter, name, || request.clone().send())
            .await
            .map_err(|e| failed(AwsOp::PutParameter, name, e))?;
        Ok(())
    }

    /// The decrypted value; `None` if there is no such parameter.
    pub async fn get_parameter(&self, name: &str) -> Result<Option<String>, CloudError> {
        let request = self.ssm.get_parameter().name(name).with_decryption(true);
        match self
            .call(AwsOp::GetParameter, name, || request.clone().send())
            .await
        {
            Ok(out) => Ok(out.parameter().and_then(|p| p.value()).map(str::to_string)),
            Err(e) if e.code() == Some("ParameterNotFound") => Ok(None),
            Err(e) => Err(failed(AwsOp::GetParameter, name, e)),
        }
    }

    /// DeleteParameter; one that is gone counts as done.
    pub async fn delete_parameter(&self, name: &str) -> Result<(), CloudError> {
        let request = self.ssm.delete_parameter().name(name);
        self.call_done_if(AwsOp::DeleteParameter, name, "ParameterNotFound", || {
            request.clone().send()
        })
        .await
    }

    /// (name, description) of every parameter under `path`, at any depth.
    pub async fn describe_parameters(
        &self,
        path: &str,
    ) -> Result<Vec<(String, String)>, CloudError> {
        let filter = ssm::ParameterStringFilter::builder()
            .key("Path")
            .option("Recursive")
            .values(path)
            .build()
            .map_err(|e| {
                CloudError::new(AwsOp::DescribeParameters, path, "BuildError", e.to_string())
            })?;
        let mut found = Vec::new();
        let mut token = None;
        loop {
            let request = self
                .ssm
                .describe_parameters()
                .parameter_filters(filter.clone())
                .max_results(50)
                .set_next_token(token);
            let page = self
                .call(AwsOp::DescribeParameters, path, || request.clone().send())
                .await
                .map_err(|e| failed(AwsOp::DescribeParameters, path, e))?;
            for parameter in page.parameters() {
                if let Some(name) = parameter.name() {
                    found.push((
                        name.to_string(),
                        parameter.description().unwrap_or_default().to_string(),
                    ));
                }
            }
            token = page.next_token().map(str::to_string);
            if token.is_none() {
                return Ok(found);
            }
        }
    }
}
