//! Reading the certificates IoT knows from the fleet CA: from the records
//! fleetcert left on the things where the read mode allows it, else one by
//! one with their attachments.

use std::collections::{BTreeMap, BTreeSet};

use futures_util::{StreamExt, TryStreamExt, stream};

use super::{READ_CONCURRENCY, Refresh};
use crate::aws_op::AwsOp;
use crate::cloud::{Cloud, CloudError, failed};
use crate::live::LiveCertificate;
use crate::pki::cert;
use crate::plan::marker::{self, CertFacts};

impl Cloud {
    /// Every certificate IoT knows from the CA: (id, ARN, status, created).
    pub(super) async fn list_certificates(
        &self,
        ca_certificate_id: &str,
    ) -> Result<Vec<Listed>, CloudError> {
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
                .call(AwsOp::ListCertificatesByCA, || request.clone().send())
                .await
                .map_err(|e| failed(AwsOp::ListCertificatesByCA, ca_certificate_id, e))?;
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
    pub(super) async fn read_certificates(
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
            .call(AwsOp::DescribeCertificate, || request.clone().send())
            .await
            .map_err(|e| failed(AwsOp::DescribeCertificate, &id, e))?;
        let desc = described.certificate_description().ok_or_else(|| {
            CloudError::new(
                AwsOp::DescribeCertificate,
                &id,
                "EmptyResponse",
                "no certificate in the answer",
            )
        })?;
        let pem = desc.certificate_pem().unwrap_or("");
        let info = cert::parse_pem(pem).map_err(|e| {
            CloudError::new(
                AwsOp::DescribeCertificate,
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
                .call(AwsOp::ListPrincipalThings, || request.clone().send())
                .await
                .map_err(|e| failed(AwsOp::ListPrincipalThings, arn, e))?;
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
                .call(AwsOp::ListAttachedPolicies, || request.clone().send())
                .await
                .map_err(|e| failed(AwsOp::ListAttachedPolicies, arn, e))?;
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
pub(super) struct Listed {
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
