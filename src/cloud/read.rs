//! Reading the live state: the fleet's CA, its IoT registration, policies,
//! things and certificates, every list paginated.

use std::collections::{BTreeMap, BTreeSet};

use futures_util::{StreamExt, TryStreamExt, stream};

use super::{Cloud, CloudError, failed};
use crate::live::{
    LiveCa, LiveCertificate, LiveIotCa, LivePolicy, LiveState, LiveThing, OWNER_ATTRIBUTE,
    OWNER_TAG, PolicyVersion,
};
use crate::pki::cert;
use crate::plan::marker::{self, CertFacts};

/// How many reads run at once (each still paced: pacing.rs).
const READ_CONCURRENCY: usize = 16;

/// How certificates are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Refresh {
    /// From the lists (ListThings, ListCertificatesByCA) and the facts
    /// fleetcert recorded on each thing (plan/marker.rs): certificate
    /// contents are immutable per id, statuses come from the list, and the
    /// attachments are trusted to be what fleetcert left. Certificates without
    /// a recorded fact are read one by one; REVOKED ones without a fact are
    /// left out (terminal, and fleetcert detaches before it revokes).
    #[default]
    Recorded,
    /// Every certificate read one by one (DescribeCertificate,
    /// ListPrincipalThings, ListAttachedPolicies): verifies every attachment.
    Full,
}

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
        // Things and certificates are the long lists: read them side by side.
        let (things, listed) =
            futures_util::try_join!(self.read_things(fleet, wanted_things), async {
                match &iot_ca {
                    Some(iot_ca) => self.list_certificates(&iot_ca.certificate_id).await,
                    None => Ok(Vec::new()),
                }
            })?;
        let (things, markers) = things;
        let certificates = self.read_certificates(listed, &markers).await?;
        let thing_types = self.read_thing_types(wanted_thing_types).await?;
        Ok(LiveState {
            ca,
            iot_ca,
            policies,
            things,
            certificates,
            thing_types,
            markers,
        })
    }

    async fn read_ca(&self, fleet: &str, lookup: &CaLookup) -> Result<Option<LiveCa>, CloudError> {
        match lookup {
            CaLookup::Arn(arn) => self.describe_ca(arn).await.map(Some),
            CaLookup::Tagged => {
                let mut found = Vec::new();
                let mut token = None;
                loop {
                    let request = self
                        .pca
                        .list_certificate_authorities()
                        .set_next_token(token)
                        .max_results(100);
                    let page = self
                        .call("acm-pca:ListCertificateAuthorities", || {
                            request.clone().send()
                        })
                        .await
                        .map_err(|e| failed("acm-pca:ListCertificateAuthorities", "", e))?;
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
            let request = self
                .pca
                .list_tags()
                .certificate_authority_arn(arn)
                .set_next_token(token);
            let page = self
                .call("acm-pca:ListTags", || request.clone().send())
                .await
                .map_err(|e| failed("acm-pca:ListTags", arn, e))?;
            if let Some(tag) = page.tags().iter().find(|t| t.key() == OWNER_TAG) {
                return Ok(tag.value().map(str::to_string));
            }
            token = page.next_token().map(str::to_string);
            if token.is_none() {
                return Ok(None);
            }
        }
    }

    /// DescribeCertificateAuthority, paced; shared by reading and by
    /// apply's wait for a new CA to leave CREATING.
    pub(super) async fn describe_certificate_authority(
        &self,
        arn: &str,
    ) -> Result<aws_sdk_acmpca::operation::describe_certificate_authority::DescribeCertificateAuthorityOutput, CloudError>
    {
        let request = self
            .pca
            .describe_certificate_authority()
            .certificate_authority_arn(arn);
        self.call("acm-pca:DescribeCertificateAuthority", || {
            request.clone().send()
        })
        .await
        .map_err(|e| failed("acm-pca:DescribeCertificateAuthority", arn, e))
    }

    async fn describe_ca(&self, arn: &str) -> Result<LiveCa, CloudError> {
        let described = self.describe_certificate_authority(arn).await?;
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
            let request = self
                .pca
                .get_certificate_authority_certificate()
                .certificate_authority_arn(arn);
            let got = self
                .call("acm-pca:GetCertificateAuthorityCertificate", || {
                    request.clone().send()
                })
                .await
                .map_err(|e| failed("acm-pca:GetCertificateAuthorityCertificate", arn, e))?;
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
            let request = self
                .iot
                .list_ca_certificates()
                .set_marker(marker)
                .page_size(100);
            let page = self
                .call("iot:ListCACertificates", || request.clone().send())
                .await
                .map_err(|e| failed("iot:ListCACertificates", "", e))?;
            for listed in page.certificates() {
                let Some(id) = listed.certificate_id() else {
                    continue;
                };
                let request = self.iot.describe_ca_certificate().certificate_id(id);
                let described = self
                    .call("iot:DescribeCACertificate", || request.clone().send())
                    .await
                    .map_err(|e| failed("iot:DescribeCACertificate", id, e))?;
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
            let request = self.iot.list_policies().set_marker(marker).page_size(250);
            let page = self
                .call("iot:ListPolicies", || request.clone().send())
                .await
                .map_err(|e| failed("iot:ListPolicies", "", e))?;
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
        let request = self.iot.get_policy().policy_name(&name);
        let got = self
            .call("iot:GetPolicy", || request.clone().send())
            .await
            .map_err(|e| failed("iot:GetPolicy", &name, e))?;
        let request = self.iot.list_policy_versions().policy_name(&name);
        let versions = self
            .call("iot:ListPolicyVersions", || request.clone().send())
            .await
            .map_err(|e| failed("iot:ListPolicyVersions", &name, e))?;
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
                .call("iot:ListTagsForResource", || request.clone().send())
                .await
                .map_err(|e| failed("iot:ListTagsForResource", arn, e))?;
            if let Some(tag) = page.tags().iter().find(|t| t.key() == OWNER_TAG) {
                return Ok(tag.value().map(str::to_string));
            }
            token = page.next_token().map(str::to_string);
            if token.is_none() {
                return Ok(None);
            }
        }
    }

    /// The fleet's things (and the unowned ones the spec names), with the
    /// `fleetcert` attribute of each fleet thing (its recorded facts).
    #[allow(clippy::type_complexity)]
    async fn read_things(
        &self,
        fleet: &str,
        wanted: &BTreeSet<String>,
    ) -> Result<(BTreeMap<String, LiveThing>, BTreeMap<String, String>), CloudError> {
        let mut things = BTreeMap::new();
        let mut markers = BTreeMap::new();
        let mut token = None;
        loop {
            let request = self
                .iot
                .list_things()
                .set_next_token(token)
                .max_results(250);
            let page = self
                .call("iot:ListThings", || request.clone().send())
                .await
                .map_err(|e| failed("iot:ListThings", "", e))?;
            for thing in page.things() {
                let Some(name) = thing.thing_name() else {
                    continue;
                };
                // The fleet's apply lock (crate::lock) is no device: never in a plan, fingerprint or drift.
                if name == crate::lock::thing_name(fleet) {
                    continue;
                }
                let mut attributes: BTreeMap<String, String> = thing
                    .attributes()
                    .cloned()
                    .unwrap_or_default()
                    .into_iter()
                    .collect();
                let marker = attributes.remove(OWNER_ATTRIBUTE);
                let owner = marker.as_deref().map(|m| marker::fleet_of(m).to_string());
                if owner.as_deref() != Some(fleet) && !wanted.contains(name) {
                    continue;
                }
                if owner.as_deref() == Some(fleet)
                    && let Some(marker) = marker
                {
                    markers.insert(name.to_string(), marker);
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
                return Ok((things, markers));
            }
        }
    }

    /// Every certificate IoT knows from the CA: (id, ARN, status, created).
    async fn list_certificates(&self, ca_certificate_id: &str) -> Result<Vec<Listed>, CloudError> {
        let mut listed = Vec::new();
        let mut marker = None;
        loop {
            let request = self
                .iot
                .list_certificates_by_ca()
                .ca_certificate_id(ca_certificate_id)
                .set_marker(marker)
                .page_size(250);
            let page = self
                .call("iot:ListCertificatesByCA", || request.clone().send())
                .await
                .map_err(|e| failed("iot:ListCertificatesByCA", ca_certificate_id, e))?;
            for c in page.certificates() {
                if let (Some(id), Some(arn)) = (c.certificate_id(), c.certificate_arn()) {
                    listed.push(Listed {
                        id: id.to_string(),
                        arn: arn.to_string(),
                        status: c.status().map(|s| s.as_str().to_string()),
                        created_at: c.creation_date().map(|d| d.secs()).unwrap_or(0),
                    });
                }
            }
            marker = page.next_marker().map(str::to_string);
            if marker.is_none() {
                return Ok(listed);
            }
        }
    }

    /// The listed certificates, from the recorded facts where the read mode
    /// allows it (see [`Refresh`]), else one by one.
    async fn read_certificates(
        &self,
        listed: Vec<Listed>,
        markers: &BTreeMap<String, String>,
    ) -> Result<BTreeMap<String, LiveCertificate>, CloudError> {
        let (known, unknown) = match self.refresh {
            Refresh::Full => (BTreeMap::new(), listed),
            Refresh::Recorded => from_records(listed, markers),
        };
        let certs: Vec<LiveCertificate> = stream::iter(unknown)
            .map(|c| self.read_certificate(c.id, c.arn, c.created_at))
            .buffer_unordered(READ_CONCURRENCY)
            .try_collect()
            .await?;
        let mut all = known;
        all.extend(certs.into_iter().map(|c| (c.id.clone(), c)));
        Ok(all)
    }

    async fn read_certificate(
        &self,
        id: String,
        arn: String,
        created_at: i64,
    ) -> Result<LiveCertificate, CloudError> {
        let request = self.iot.describe_certificate().certificate_id(&id);
        let described = self
            .call("iot:DescribeCertificate", || request.clone().send())
            .await
            .map_err(|e| failed("iot:DescribeCertificate", &id, e))?;
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
        let (things, policies) =
            futures_util::try_join!(self.principal_things(&arn), self.principal_policies(&arn))?;
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
            let request = self
                .iot
                .list_thing_types()
                .set_next_token(token)
                .max_results(250);
            let page = self
                .call("iot:ListThingTypes", || request.clone().send())
                .await
                .map_err(|e| failed("iot:ListThingTypes", "", e))?;
            for thing_type in page.thing_types() {
                if let Some(name) = thing_type.thing_type_name()
                    && wanted.contains(name)
                {
                    found.insert(name.to_string());
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
            let request = self
                .iot
                .list_principal_things()
                .principal(arn)
                .set_next_token(token)
                .max_results(250);
            let page = self
                .call("iot:ListPrincipalThings", || request.clone().send())
                .await
                .map_err(|e| failed("iot:ListPrincipalThings", arn, e))?;
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
            let request = self
                .iot
                .list_attached_policies()
                .target(arn)
                .set_marker(marker)
                .page_size(250);
            let page = self
                .call("iot:ListAttachedPolicies", || request.clone().send())
                .await
                .map_err(|e| failed("iot:ListAttachedPolicies", arn, e))?;
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

/// One entry of ListCertificatesByCA.
#[derive(Debug, Clone)]
struct Listed {
    id: String,
    arn: String,
    status: Option<String>,
    created_at: i64,
}

/// Split the listed certificates into those the things' records describe
/// (built here, no call) and those to read one by one. A certificate is
/// taken from the records only when every record that names it agrees.
fn from_records(
    listed: Vec<Listed>,
    markers: &BTreeMap<String, String>,
) -> (BTreeMap<String, LiveCertificate>, Vec<Listed>) {
    // certificate id -> (facts, things whose record names it); None when two
    // records disagree about the certificate.
    let mut recorded: BTreeMap<String, Option<(CertFacts, BTreeSet<String>)>> = BTreeMap::new();
    for (thing, value) in markers {
        for facts in marker::decode(value).certificates {
            match recorded.get_mut(&facts.id) {
                None => {
                    let id = facts.id.clone();
                    recorded.insert(id, Some((facts, BTreeSet::from([thing.clone()]))));
                }
                Some(Some((known, things))) if *known == facts => {
                    things.insert(thing.clone());
                }
                Some(entry) => *entry = None,
            }
        }
    }
    let mut known = BTreeMap::new();
    let mut unknown = Vec::new();
    for cert in listed {
        let status = cert.status.clone().unwrap_or_default();
        match recorded.get(&cert.id) {
            // A record names the certificate and the list gives its status:
            // its content never changes (the id is the SHA-256 of its DER).
            Some(Some((facts, things))) if !status.is_empty() && things.len() == 1 => {
                let subject_cn = things.iter().next().cloned();
                known.insert(
                    cert.id.clone(),
                    LiveCertificate {
                        id: cert.id,
                        arn: cert.arn,
                        status,
                        serial: facts.serial.clone(),
                        subject_cn,
                        not_before: facts.not_before,
                        not_after: facts.not_after,
                        created_at: cert.created_at,
                        public_key_sha256: facts.public_key_sha256.clone(),
                        things: things.clone(),
                        policies: facts.policies.clone(),
                    },
                );
            }
            // REVOKED is terminal, and fleetcert detaches a certificate
            // before revoking it: nothing left to plan for it.
            _ if status == "REVOKED" => {}
            _ => unknown.push(cert),
        }
    }
    (known, unknown)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listed(id: char, status: &str) -> Listed {
        Listed {
            id: id.to_string().repeat(64),
            arn: format!("arn:cert/{id}"),
            status: Some(status.to_string()),
            created_at: 5,
        }
    }

    fn facts(id: char) -> CertFacts {
        CertFacts {
            id: id.to_string().repeat(64),
            serial: "ab".into(),
            not_before: 1,
            not_after: 2,
            public_key_sha256: "c".repeat(64),
            policies: BTreeSet::from(["telemetry".to_string()]),
        }
    }

    #[test]
    fn recorded_certificates_need_no_call_and_others_are_read_one_by_one() {
        let mut markers = BTreeMap::new();
        markers.insert("dev-1".to_string(), marker::encode("f", &[facts('a')]));
        markers.insert("dev-2".to_string(), "f".to_string());
        let (known, unknown) = from_records(
            vec![
                listed('a', "ACTIVE"),
                listed('b', "ACTIVE"),
                listed('d', "REVOKED"),
            ],
            &markers,
        );
        let a = &known[&"a".repeat(64)];
        assert_eq!(a.subject_cn.as_deref(), Some("dev-1"));
        assert_eq!(a.status, "ACTIVE");
        assert_eq!(a.things, BTreeSet::from(["dev-1".to_string()]));
        assert_eq!(a.policies, BTreeSet::from(["telemetry".to_string()]));
        assert_eq!(unknown.len(), 1);
        assert_eq!(unknown[0].id, "b".repeat(64));
    }

    #[test]
    fn records_that_disagree_are_not_trusted() {
        let mut other = facts('a');
        other.policies.clear();
        let mut markers = BTreeMap::new();
        markers.insert("dev-1".to_string(), marker::encode("f", &[facts('a')]));
        markers.insert("dev-2".to_string(), marker::encode("f", &[other]));
        let (known, unknown) = from_records(vec![listed('a', "ACTIVE")], &markers);
        assert!(known.is_empty());
        assert_eq!(unknown.len(), 1);
    }
}
