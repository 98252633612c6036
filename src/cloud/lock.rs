//! The AWS calls behind the fleet's apply lock (`crate::lock`) and the
//! evidence `drift` reads besides the live state. The lock is an IoT thing
//! whose attributes hold the holder and the lease's expiry; UpdateThing's
//! `expectedVersion` makes each change a compare-and-swap: "If the version of
//! the thing record in the registry does not match the expected version
//! specified in the request, the UpdateThing request is rejected with a
//! VersionConflictException" (AWS IoT API reference, UpdateThing).

use std::collections::BTreeMap;

use aws_sdk_iot::types as iot;

use super::{Cloud, CloudError, failed};
use crate::aws_op::AwsOp;

/// The lock thing as read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockThing {
    pub version: i64,
    pub attributes: BTreeMap<String, String>,
}

impl Cloud {
    /// DescribeThing; `None` when the thing does not exist.
    pub async fn describe_lock_thing(&self, name: &str) -> Result<Option<LockThing>, CloudError> {
        let request = self.iot.describe_thing().thing_name(name);
        match self
            .call(AwsOp::DescribeThing, name, || request.clone().send())
            .await
        {
            Ok(out) => Ok(Some(LockThing {
                version: out.version(),
                attributes: out
                    .attributes()
                    .cloned()
                    .unwrap_or_default()
                    .into_iter()
                    .collect(),
            })),
            Err(e) if e.code() == Some("ResourceNotFoundException") => Ok(None),
            Err(e) => Err(failed(AwsOp::DescribeThing, name, e)),
        }
    }

    /// CreateThing with no attributes. "If this call is made multiple times
    /// using the same thing name and configuration, the call will succeed. If
    /// this call is made with the same thing name but different configuration
    /// a ResourceAlreadyExistsException is thrown" (AWS IoT API reference,
    /// CreateThing): either way the thing exists afterwards.
    pub async fn create_lock_thing(&self, name: &str) -> Result<(), CloudError> {
        let request = self.iot.create_thing().thing_name(name);
        self.call_done_if(
            AwsOp::CreateThing,
            name,
            "ResourceAlreadyExistsException",
            || request.clone().send(),
        )
        .await
    }

    /// UpdateThing merging `attributes` (an empty value removes one) if the
    /// thing is still at `expected_version`. `Ok(false)`: someone else changed
    /// it first (VersionConflictException).
    pub async fn swap_lock_thing(
        &self,
        name: &str,
        attributes: &BTreeMap<String, String>,
        expected_version: i64,
    ) -> Result<bool, CloudError> {
        let mut payload = iot::AttributePayload::builder().merge(true);
        for (key, value) in attributes {
            payload = payload.attributes(key, value);
        }
        let request = self
            .iot
            .update_thing()
            .thing_name(name)
            .attribute_payload(payload.build())
            .expected_version(expected_version);
        match self
            .call(AwsOp::UpdateThing, name, || request.clone().send())
            .await
        {
            Ok(_) => Ok(true),
            // A retried attempt that AWS carried out also reads as a conflict:
            // the caller re-reads the thing to see who holds it.
            Err(e) if e.code() == Some("VersionConflictException") => Ok(false),
            Err(e) => Err(failed(AwsOp::UpdateThing, name, e)),
        }
    }

    /// Every version of policy `name`, as canonical JSON, by version id
    /// (ListPolicyVersions, then GetPolicyVersion each).
    pub async fn policy_version_documents(
        &self,
        name: &str,
    ) -> Result<BTreeMap<String, String>, CloudError> {
        let request = self.iot.list_policy_versions().policy_name(name);
        let listed = self
            .call(AwsOp::ListPolicyVersions, name, || request.clone().send())
            .await
            .map_err(|e| failed(AwsOp::ListPolicyVersions, name, e))?;
        let mut documents = BTreeMap::new();
        for version in listed.policy_versions() {
            let Some(id) = version.version_id() else {
                continue;
            };
            let request = self
                .iot
                .get_policy_version()
                .policy_name(name)
                .policy_version_id(id);
            let got = self
                .call(AwsOp::GetPolicyVersion, &format!("{name} v{id}"), || {
                    request.clone().send()
                })
                .await
                .map_err(|e| failed(AwsOp::GetPolicyVersion, format!("{name} v{id}"), e))?;
            documents.insert(
                id.to_string(),
                super::read::canonical_json(got.policy_document().unwrap_or("")),
            );
        }
        Ok(documents)
    }
}
