//! Reading the fleet's policies (and the unowned ones the spec names).

use std::collections::{BTreeMap, BTreeSet};

use futures_util::{StreamExt, TryStreamExt, stream};

use super::READ_CONCURRENCY;
use crate::aws_op::AwsOp;
use crate::cloud::{Cloud, CloudError, failed};
use crate::live::{LivePolicy, OWNER_TAG, PolicyVersion};

/// Canonical text of a policy document: sorted keys, 2-space indent, so that
/// formatting differences never read as changes.
pub fn canonical_json(document: &str) -> String {
    match serde_json::from_str::<serde_json::Value>(document) {
        Ok(value) => crate::spec::canonical_json(&value),
        Err(_) => document.to_string(),
    }
}
impl Cloud {
    /// The fleet's policies (and the unowned ones the spec names), and the
    /// names of every policy in the account and region.
    pub(super) async fn read_policies(
        &self,
        fleet: &str,
        wanted: &BTreeSet<String>,
    ) -> Result<(BTreeMap<String, LivePolicy>, BTreeSet<String>), CloudError> {
        let mut listed = Vec::new();
        let mut marker = None;
        loop {
            let request = self.iot.list_policies().set_marker(marker).page_size(250);
            let page = self
                .call(AwsOp::ListPolicies, "", || request.clone().send())
                .await
                .map_err(|e| failed(AwsOp::ListPolicies, "", e))?;
            for policy in page.policies() {
                if let (Some(name), Some(arn)) = (policy.policy_name(), policy.policy_arn()) {
                    listed.push((name.to_string(), arn.to_string()));
                }
            }
            marker = page.next_marker().map(str::to_string);
            if marker.is_none() {
                break;
            }
        }
        let names: BTreeSet<String> = listed.iter().map(|(name, _)| name.clone()).collect();
        let policies: Vec<Option<LivePolicy>> = stream::iter(listed)
            .map(|(name, arn)| async move {
                let owner = self.resource_owner(&arn).await?;
                if owner.as_deref() != Some(fleet) && !wanted.contains(&name) {
                    return Ok(None);
                }
                self.read_policy(name, arn, owner).await.map(Some)
            })
            .buffer_unordered(READ_CONCURRENCY)
            .try_collect()
            .await?;
        let policies = policies
            .into_iter()
            .flatten()
            .map(|p| (p.name.clone(), p))
            .collect();
        Ok((policies, names))
    }

    /// Which of `policies` each principal carries: ListTargetsForPolicy,
    /// 250 targets a page (API reference, ListTargetsForPolicy: pageSize
    /// 1-250), so a fleet's policy attachments cost a few pages per policy
    /// instead of a call per certificate. Keyed by target (a certificate
    /// ARN, a thing group ARN or a Cognito id).
    pub(super) async fn policy_targets(
        &self,
        policies: &BTreeSet<String>,
    ) -> Result<BTreeMap<String, BTreeSet<String>>, CloudError> {
        super::inverted(policies.iter().cloned(), |name| async move {
            let targets = self.targets_of(&name).await?;
            Ok((name, targets))
        })
        .await
    }

    async fn targets_of(&self, policy: &str) -> Result<Vec<String>, CloudError> {
        let mut targets = Vec::new();
        let mut marker = None;
        loop {
            let request = self
                .iot
                .list_targets_for_policy()
                .policy_name(policy)
                .set_marker(marker)
                .page_size(250);
            let page = match self
                .call(AwsOp::ListTargetsForPolicy, policy, || {
                    request.clone().send()
                })
                .await
            {
                Ok(page) => page,
                // Deleted between ListPolicies and now: no targets.
                Err(e) if e.code() == Some("ResourceNotFoundException") => return Ok(targets),
                Err(e) => return Err(failed(AwsOp::ListTargetsForPolicy, policy, e)),
            };
            targets.extend(page.targets().iter().cloned());
            marker = page.next_marker().map(str::to_string);
            if marker.is_none() {
                return Ok(targets);
            }
        }
    }

    async fn read_policy(
        &self,
        name: String,
        arn: String,
        owner: Option<String>,
    ) -> Result<LivePolicy, CloudError> {
        let request = self.iot.get_policy().policy_name(&name);
        let got = self
            .call(AwsOp::GetPolicy, &name, || request.clone().send())
            .await
            .map_err(|e| failed(AwsOp::GetPolicy, &name, e))?;
        let request = self.iot.list_policy_versions().policy_name(&name);
        let versions = self
            .call(AwsOp::ListPolicyVersions, &name, || request.clone().send())
            .await
            .map_err(|e| failed(AwsOp::ListPolicyVersions, &name, e))?;
        let mut versions: Vec<PolicyVersion> = versions
            .policy_versions()
            .iter()
            .filter_map(|v| {
                Some(PolicyVersion {
                    id: v.version_id()?.to_string(),
                    is_default: v.is_default_version(),
                })
            })
            .collect();
        // Version ids are increasing integers: oldest first.
        versions.sort_by_key(|v| v.id.parse::<u64>().unwrap_or(u64::MAX));
        Ok(LivePolicy {
            document: canonical_json(got.policy_document().unwrap_or("")),
            default_version: got.default_version_id().unwrap_or("").to_string(),
            name,
            arn,
            owner,
            versions,
        })
    }

    /// The fleet owner tag of an IoT resource (policy), if any.
    async fn resource_owner(&self, arn: &str) -> Result<Option<String>, CloudError> {
        let mut token = None;
        loop {
            let request = self
                .iot
                .list_tags_for_resource()
                .resource_arn(arn)
                .set_next_token(token);
            let page = self
                .call(AwsOp::ListTagsForResource, arn, || request.clone().send())
                .await
                .map_err(|e| failed(AwsOp::ListTagsForResource, arn, e))?;
            if let Some(tag) = page.tags().iter().find(|t| t.key() == OWNER_TAG) {
                return Ok(tag.value().map(str::to_string));
            }
            token = page.next_token().map(str::to_string);
            if token.is_none() {
                return Ok(None);
            }
        }
    }
}
