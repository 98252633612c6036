//! Reading the live state: the fleet's CA, its IoT registration, policies,
//! things and certificates, every list paginated.

use std::collections::{BTreeMap, BTreeSet};

use futures_util::{StreamExt, TryStreamExt, stream};

use super::{Cloud, CloudError, aws_error};
use crate::live::{
    LiveCa, LiveCertificate, LiveIotCa, LivePolicy, LiveState, LiveThing, OWNER_ATTRIBUTE,
    OWNER_TAG, PolicyVersion,
};
use crate::pki::cert;

/// How many reads run at once (each still paced by AWS's quotas).
const READ_CONCURRENCY: usize = 8;

/// How to find the fleet's CA.
#[derive(Debug, Clone)]
pub enum CaLookup {
    /// The spec names it.
    Arn(String),
    /// fleetcert created it: find it by its ownership tag.
    Tagged,
}

/// Canonical text of a policy document: sorted keys, 2-space indent, so that
/// formatting differences never read as changes.
pub fn canonical_json(document: &str) -> String {
    match serde_json::from_str::<serde_json::Value>(document) {
        Ok(value) => crate::spec::canonical_json(&value),
        Err(_) => document.to_string(),
    }
}

impl Cloud {
    /// Read everything the planner needs for `fleet`. `wanted_*` are names the
    /// spec asks for: they are read even when another owner has them, so the
    /// planner can refuse to take them over.
    pub async fn read_live(
        &self,
        fleet: &str,
        ca: &CaLookup,
        wanted_policies: &BTreeSet<String>,
        wanted_things: &BTreeSet<String>,
        wanted_thing_types: &BTreeSet<String>,
    ) -> Result<LiveState, CloudError> {
        let ca = self.read_ca(fleet, ca).await?;
        let iot_ca = match ca.as_ref().and_then(|ca| ca.certificate_pem.as_deref()) {
            Some(pem) => self.find_iot_ca(pem).await?,
            None => None,
        };
        let policies = self.read_policies(fleet, wanted_policies).await?;
        let things = self.read_things(fleet, wanted_things).await?;
        let certificates = match &iot_ca {
            Some(iot_ca) => self.read_certificates(&iot_ca.certificate_id).await?,
            None => BTreeMap::new(),
        };
        let thing_types = self.read_thing_types(wanted_thing_types).await?;
        Ok(LiveState {
            ca,
            iot_ca,
            policies,
            things,
            certificates,
            thing_types,
        })
    }

    async fn read_ca(&self, fleet: &str, lookup: &CaLookup) -> Result<Option<LiveCa>, CloudError> {
        match lookup {
            CaLookup::Arn(arn) => self.describe_ca(arn).await.map(Some),
            CaLookup::Tagged => {
                let mut found = Vec::new();
                let mut token = None;
                loop {
                    let page = self
                        .pca
                        .list_certificate_authorities()
                        .set_next_token(token)
                        .max_results(100)
                        .send()
                        .await
                        .map_err(|e| aws_error("acm-pca:ListCertificateAuthorities", "", e))?;
                    for ca in page.certificate_authorities() {
                        let status = ca.status().map(|s| s.as_str()).unwrap_or("");
                        if status == "DELETED" || status == "FAILED" {
                            continue;
                        }
                        let Some(arn) = ca.arn() else { continue };
                        if self.ca_owner(arn).await?.as_deref() == Some(fleet) {
                            found.push(arn.to_string());
                        }
                    }
                    token = page.next_token().map(str::to_string);
                    if token.is_none() {
                        break;
                    }
                }
                match found.as_slice() {
                    [] => Ok(None),
                    [arn] => self.describe_ca(arn).await.map(Some),
                    many => Err(CloudError::new(
                        "acm-pca:ListCertificateAuthorities",
                        fleet,
                        "AmbiguousCa",
                        format!(
                            "{} CAs carry the tag {OWNER_TAG}={fleet}: {}; name the one to use with ca.arn",
                            many.len(),
                            many.join(", ")
                        ),
                    )),
                }
            }
        }
    }

    async fn ca_owner(&self, arn: &str) -> Result<Option<String>, CloudError> {
        let mut token = None;
        loop {
            let page = self
                .pca
                .list_tags()
                .certificate_authority_arn(arn)
                .set_next_token(token)
                .send()
                .await
                .map_err(|e| aws_error("acm-pca:ListTags", arn, e))?;
            if let Some(tag) = page.tags().iter().find(|t| t.key() == OWNER_TAG) {
                return Ok(tag.value().map(str::to_string));
            }
            token = page.next_token().map(str::to_string);
            if token.is_none() {
                return Ok(None);
            }
        }
    }

    async fn describe_ca(&self, arn: &str) -> Result<LiveCa, CloudError> {
        let described = self
            .pca
            .describe_certificate_authority()
            .certificate_authority_arn(arn)
            .send()
            .await
            .map_err(|e| aws_error("acm-pca:DescribeCertificateAuthority", arn, e))?;
        let ca = described.certificate_authority().ok_or_else(|| {
            CloudError::new(
                "acm-pca:DescribeCertificateAuthority",
                arn,
                "EmptyResponse",
                "no CA in the answer",
            )
        })?;
        let status = ca
            .status()
            .map(|s| s.as_str().to_string())
            .unwrap_or_default();
        let config = ca.certificate_authority_configuration();
        let key_algorithm = config
            .map(|c| c.key_algorithm().as_str().to_string())
            .unwrap_or_default();
        let signing_algorithm = config
            .map(|c| c.signing_algorithm().as_str().to_string())
            .unwrap_or_default();
        let certificate_pem = if matches!(status.as_str(), "ACTIVE" | "DISABLED" | "EXPIRED") {
            let got = self
                .pca
                .get_certificate_authority_certificate()
                .certificate_authority_arn(arn)
                .send()
                .await
                .map_err(|e| aws_error("acm-pca:GetCertificateAuthorityCertificate", arn, e))?;
            got.certificate().map(str::to_string)
        } else {
            None
        };
        let not_after = certificate_pem
            .as_deref()
            .and_then(|pem| cert::parse_pem(pem).ok())
            .map(|c| c.not_after);
        Ok(LiveCa {
            arn: arn.to_string(),
            status,
            key_algorithm,
            signing_algorithm,
            owner: self.ca_owner(arn).await?,
            certificate_pem,
            not_after,
        })
    }

    /// The IoT registration of the CA certificate `ca_pem`, if any: IoT's
    /// CA list compared by certificate DER, not by any id convention.
    async fn find_iot_ca(&self, ca_pem: &str) -> Result<Option<LiveIotCa>, CloudError> {
        let want = cert::pem_to_der(ca_pem).ok();
        let mut marker = None;
        loop {
            let page = self
                .iot
                .list_ca_certificates()
                .set_marker(marker)
                .page_size(100)
                .send()
                .await
                .map_err(|e| aws_error("iot:ListCACertificates", "", e))?;
            for listed in page.certificates() {
                let Some(id) = listed.certificate_id() else {
                    continue;
                };
                let described = self
                    .iot
                    .describe_ca_certificate()
                    .certificate_id(id)
                    .send()
                    .await
                    .map_err(|e| aws_error("iot:DescribeCACertificate", id, e))?;
                let Some(desc) = described.certificate_description() else {
                    continue;
                };
                let der = desc
                    .certificate_pem()
                    .and_then(|pem| cert::pem_to_der(pem).ok());
                if der.is_some() && der == want {
                    return Ok(Some(LiveIotCa {
                        certificate_id: id.to_string(),
                        status: desc
                            .status()
                            .map(|s| s.as_str().to_string())
                            .unwrap_or_default(),
                        mode: desc
                            .certificate_mode()
                            .map(|m| m.as_str().to_string())
                            .unwrap_or("DEFAULT".into()),
                        auto_registration: desc.auto_registration_status().map(|s| s.as_str())
                            == Some("ENABLE"),
                    }));
                }
            }
            marker = page.next_marker().map(str::to_string);
            if marker.is_none() {
                return Ok(None);
            }
        }
    }

    async fn read_policies(
        &self,
        fleet: &str,
        wanted: &BTreeSet<String>,
    ) -> Result<BTreeMap<String, LivePolicy>, CloudError> {
        let mut listed = Vec::new();
        let mut marker = None;
        loop {
            let page = self
                .iot
                .list_policies()
                .set_marker(marker)
                .page_size(250)
                .send()
                .await
                .map_err(|e| aws_error("iot:ListPolicies", "", e))?;
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
        Ok(policies
            .into_iter()
            .flatten()
            .map(|p| (p.name.clone(), p))
            .collect())
    }

    async fn read_policy(
        &self,
        name: String,
        arn: String,
        owner: Option<String>,
    ) -> Result<LivePolicy, CloudError> {
        let got = self
            .iot
            .get_policy()
            .policy_name(&name)
            .send()
            .await
            .map_err(|e| aws_error("iot:GetPolicy", &name, e))?;
        let versions = self
            .iot
            .list_policy_versions()
            .policy_name(&name)
            .send()
            .await
            .map_err(|e| aws_error("iot:ListPolicyVersions", &name, e))?;
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
            let page = self
                .iot
                .list_tags_for_resource()
                .resource_arn(arn)
                .set_next_token(token)
                .send()
                .await
                .map_err(|e| aws_error("iot:ListTagsForResource", arn, e))?;
            if let Some(tag) = page.tags().iter().find(|t| t.key() == OWNER_TAG) {
                return Ok(tag.value().map(str::to_string));
            }
            token = page.next_token().map(str::to_string);
            if token.is_none() {
                return Ok(None);
            }
        }
    }

    async fn read_things(
        &self,
        fleet: &str,
        wanted: &BTreeSet<String>,
    ) -> Result<BTreeMap<String, LiveThing>, CloudError> {
        let mut things = BTreeMap::new();
        let mut token = None;
        loop {
            let page = self
                .iot
                .list_things()
                .set_next_token(token)
                .max_results(250)
                .send()
                .await
                .map_err(|e| aws_error("iot:ListThings", "", e))?;
            for thing in page.things() {
                let Some(name) = thing.thing_name() else {
                    continue;
                };
                let mut attributes: BTreeMap<String, String> = thing
                    .attributes()
                    .cloned()
                    .unwrap_or_default()
                    .into_iter()
                    .collect();
                let owner = attributes.remove(OWNER_ATTRIBUTE);
                if owner.as_deref() != Some(fleet) && !wanted.contains(name) {
                    continue;
                }
                things.insert(
                    name.to_string(),
                    LiveThing {
                        name: name.to_string(),
                        thing_type: thing.thing_type_name().map(str::to_string),
                        attributes,
                        owner,
                        version: thing.version(),
                    },
                );
            }
            token = page.next_token().map(str::to_string);
            if token.is_none() {
                return Ok(things);
            }
        }
    }

    async fn read_certificates(
        &self,
        ca_certificate_id: &str,
    ) -> Result<BTreeMap<String, LiveCertificate>, CloudError> {
        let mut listed = Vec::new();
        let mut marker = None;
        loop {
            let page = self
                .iot
                .list_certificates_by_ca()
                .ca_certificate_id(ca_certificate_id)
                .set_marker(marker)
                .page_size(250)
                .send()
                .await
                .map_err(|e| aws_error("iot:ListCertificatesByCA", ca_certificate_id, e))?;
            for c in page.certificates() {
                if let (Some(id), Some(arn)) = (c.certificate_id(), c.certificate_arn()) {
                    let created = c.creation_date().map(|d| d.secs()).unwrap_or(0);
                    listed.push((id.to_string(), arn.to_string(), created));
                }
            }
            marker = page.next_marker().map(str::to_string);
            if marker.is_none() {
                break;
            }
        }
        let certs: Vec<LiveCertificate> = stream::iter(listed)
            .map(|(id, arn, created)| self.read_certificate(id, arn, created))
            .buffer_unordered(READ_CONCURRENCY)
            .try_collect()
            .await?;
        Ok(certs.into_iter().map(|c| (c.id.clone(), c)).collect())
    }

    async fn read_certificate(
        &self,
        id: String,
        arn: String,
        created_at: i64,
    ) -> Result<LiveCertificate, CloudError> {
        let described = self
            .iot
            .describe_certificate()
            .certificate_id(&id)
            .send()
            .await
            .map_err(|e| aws_error("iot:DescribeCertificate", &id, e))?;
        let desc = described.certificate_description().ok_or_else(|| {
            CloudError::new(
                "iot:DescribeCertificate",
                &id,
                "EmptyResponse",
                "no certificate in the answer",
            )
        })?;
        let pem = desc.certificate_pem().unwrap_or("");
        let info = cert::parse_pem(pem).map_err(|e| {
            CloudError::new(
                "iot:DescribeCertificate",
                &id,
                "BadCertificate",
                e.to_string(),
            )
        })?;
        let status = desc
            .status()
            .map(|s| s.as_str().to_string())
            .unwrap_or_default();
        let things = self.principal_things(&arn).await?;
        let policies = self.principal_policies(&arn).await?;
        Ok(LiveCertificate {
            id,
            arn,
            status,
            serial: info.serial,
            subject_cn: info.subject_cn,
            not_before: info.not_before,
            not_after: info.not_after,
            created_at,
            public_key_sha256: info.public_key_sha256,
            things,
            policies,
        })
    }

    async fn read_thing_types(
        &self,
        wanted: &BTreeSet<String>,
    ) -> Result<BTreeSet<String>, CloudError> {
        let mut found = BTreeSet::new();
        if wanted.is_empty() {
            return Ok(found);
        }
        let mut token = None;
        loop {
            let page = self
                .iot
                .list_thing_types()
                .set_next_token(token)
                .max_results(250)
                .send()
                .await
                .map_err(|e| aws_error("iot:ListThingTypes", "", e))?;
            for thing_type in page.thing_types() {
                if let Some(name) = thing_type.thing_type_name() {
                    if wanted.contains(name) {
                        found.insert(name.to_string());
                    }
                }
            }
            token = page.next_token().map(str::to_string);
            if token.is_none() {
                return Ok(found);
            }
        }
    }

    async fn principal_things(&self, arn: &str) -> Result<BTreeSet<String>, CloudError> {
        let mut things = BTreeSet::new();
        let mut token = None;
        loop {
            let page = self
                .iot
                .list_principal_things()
                .principal(arn)
                .set_next_token(token)
                .max_results(250)
                .send()
                .await
                .map_err(|e| aws_error("iot:ListPrincipalThings", arn, e))?;
            things.extend(page.things().iter().cloned());
            token = page.next_token().map(str::to_string);
            if token.is_none() {
                return Ok(things);
            }
        }
    }

    async fn principal_policies(&self, arn: &str) -> Result<BTreeSet<String>, CloudError> {
        let mut policies = BTreeSet::new();
        let mut marker = None;
        loop {
            let page = self
                .iot
                .list_attached_policies()
                .target(arn)
                .set_marker(marker)
                .page_size(250)
                .send()
                .await
                .map_err(|e| aws_error("iot:ListAttachedPolicies", arn, e))?;
            policies.extend(
                page.policies()
                    .iter()
                    .filter_map(|p| p.policy_name().map(str::to_string)),
            );
            marker = page.next_marker().map(str::to_string);
            if marker.is_none() {
                return Ok(policies);
            }
        }
    }
}
