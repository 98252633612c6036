//! Reading the certificates IoT knows from the fleet CA: from the records
//! fleetcert left on the things where the read mode allows it, else one by
//! one with their attachments.

use std::collections::{BTreeMap, BTreeSet};

use futures_util::{StreamExt, TryStreamExt, stream};

use super::READ_CONCURRENCY;
use crate::aws_op::AwsOp;
use crate::cloud::names;
use crate::cloud::{Cloud, CloudError, failed};
use crate::live::{CertStatus, LiveCertificate};
use crate::marker::{ListedCertificate as Listed, Merged, merge};
use crate::pki::cert;

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
                .call(AwsOp::ListCertificatesByCA, ca_certificate_id, || {
                    request.clone().send()
                })
                .await
                .map_err(|e| failed(AwsOp::ListCertificatesByCA, ca_certificate_id, e))?;
            for c in page.certificates() {
                if let (Some(id), Some(arn)) = (c.certificate_id(), c.certificate_arn()) {
                    listed.push(Listed {
                        id: id.to_string(),
                        arn: arn.to_string(),
                        status: c.status().map(names::cert_status),
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

    /// The listed certificates, from the recorded facts (immutable per id)
    /// where there are some, else one by one; and the things whose record
    /// could not be read. The attachments are verified afterwards as the
    /// read mode says ([`Refresh`]).
    pub(super) async fn read_certificates(
        &self,
        listed: Vec<Listed>,
        markers: &BTreeMap<String, String>,
    ) -> Result<(BTreeMap<String, LiveCertificate>, BTreeSet<String>), CloudError> {
        let Merged {
            known,
            unrecorded,
            unreadable,
        } = merge(listed, markers);
        let certs: Vec<LiveCertificate> = stream::iter(unrecorded)
            .map(|c| self.read_certificate(c.id, c.arn, c.created_at))
            .buffer_unordered(READ_CONCURRENCY)
            .try_collect()
            .await?;
        let mut all = known;
        all.extend(certs.into_iter().map(|c| (c.id.clone(), c)));
        Ok((all, unreadable))
    }

    async fn read_certificate(
        &self,
        id: String,
        arn: String,
        created_at: i64,
    ) -> Result<LiveCertificate, CloudError> {
        let request = self.iot.describe_certificate().certificate_id(&id);
        let described = self
            .call(AwsOp::DescribeCertificate, &id, || request.clone().send())
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
            .map_or(CertStatus::Unknown, names::cert_status);
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
                .call(AwsOp::ListPrincipalThings, arn, || request.clone().send())
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
                .call(AwsOp::ListAttachedPolicies, arn, || request.clone().send())
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
