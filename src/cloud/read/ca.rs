//! Reading the fleet's CA in ACM PCA and its registration in AWS IoT.

use super::CaLookup;
use crate::aws_op::AwsOp;
use crate::cloud::names;
use crate::cloud::{AwsFailure, Cloud, CloudError, failed};
use crate::live::{CaStatus, CertificateMode, LiveCa, LiveIotCa, OWNER_TAG, RegistrationStatus};
use crate::pki::cert;

impl Cloud {
    pub(super) async fn read_ca(
        &self,
        fleet: &str,
        lookup: &CaLookup,
    ) -> Result<Option<LiveCa>, CloudError> {
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
                        .call(AwsOp::ListCertificateAuthorities, "", || {
                            request.clone().send()
                        })
                        .await
                        .map_err(|e| failed(AwsOp::ListCertificateAuthorities, "", e))?;
                    for ca in page.certificate_authorities() {
                        let status = ca.status().map(names::ca_status);
                        if matches!(status, Some(CaStatus::Deleted | CaStatus::Failed)) {
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
                        AwsOp::ListCertificateAuthorities,
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
                .call(AwsOp::ListTags, arn, || request.clone().send())
                .await
                .map_err(|e| failed(AwsOp::ListTags, arn, e))?;
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
    pub(in crate::cloud) async fn describe_certificate_authority(
        &self,
        arn: &str,
    ) -> Result<aws_sdk_acmpca::operation::describe_certificate_authority::DescribeCertificateAuthorityOutput, CloudError>
    {
        let request = self
            .pca
            .describe_certificate_authority()
            .certificate_authority_arn(arn);
        self.call(AwsOp::DescribeCertificateAuthority, arn, || {
            request.clone().send()
        })
        .await
        .map_err(|e| {
            let not_found = e.code() == Some("ResourceNotFoundException");
            let mut error = failed(AwsOp::DescribeCertificateAuthority, arn, e);
            if not_found {
                error.failure = Some(Box::new(self.ca_not_found(arn)));
                error.message = error
                    .failure
                    .as_ref()
                    .map(ToString::to_string)
                    .unwrap_or_default();
            }
            error
        })
    }

    /// The CA `arn` is not in this account and region; the ARN may name
    /// another region (an ARN's fourth field).
    fn ca_not_found(&self, arn: &str) -> AwsFailure {
        let named = arn
            .split(':')
            .nth(3)
            .filter(|r| !r.is_empty() && *r != self.region());
        AwsFailure::CaNotFound {
            arn: arn.to_string(),
            region: match named {
                Some(other) => format!("{} (the ARN names {other})", self.region()),
                None => self.region().to_string(),
            },
        }
    }

    async fn describe_ca(&self, arn: &str) -> Result<LiveCa, CloudError> {
        let described = self.describe_certificate_authority(arn).await?;
        let ca = described.certificate_authority().ok_or_else(|| {
            CloudError::new(
                AwsOp::DescribeCertificateAuthority,
                arn,
                "EmptyResponse",
                "no CA in the answer",
            )
        })?;
        let status = ca.status().map_or(CaStatus::Unknown, names::ca_status);
        let config = ca.certificate_authority_configuration();
        let key_algorithm = config
            .map(|c| c.key_algorithm().as_str().to_string())
            .unwrap_or_default();
        let signing_algorithm = config
            .map(|c| c.signing_algorithm().as_str().to_string())
            .unwrap_or_default();
        let certificate_pem = if status.has_certificate() {
            let request = self
                .pca
                .get_certificate_authority_certificate()
                .certificate_authority_arn(arn);
            let got = self
                .call(AwsOp::GetCertificateAuthorityCertificate, arn, || {
                    request.clone().send()
                })
                .await
                .map_err(|e| failed(AwsOp::GetCertificateAuthorityCertificate, arn, e))?;
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
            usage_mode: names::usage_mode(ca.usage_mode()),
        })
    }

    /// The IoT registration of the CA certificate `ca_pem`, if any: IoT's
    /// CA list compared by certificate DER, not by any id convention.
    pub(super) async fn find_iot_ca(&self, ca_pem: &str) -> Result<Option<LiveIotCa>, CloudError> {
        let want = cert::pem_to_der(ca_pem).ok();
        let mut marker = None;
        loop {
            let request = self
                .iot
                .list_ca_certificates()
                .set_marker(marker)
                .page_size(100);
            let page = self
                .call(AwsOp::ListCACertificates, "", || request.clone().send())
                .await
                .map_err(|e| failed(AwsOp::ListCACertificates, "", e))?;
            for listed in page.certificates() {
                let Some(id) = listed.certificate_id() else {
                    continue;
                };
                let request = self.iot.describe_ca_certificate().certificate_id(id);
                let described = self
                    .call(AwsOp::DescribeCACertificate, id, || request.clone().send())
                    .await
                    .map_err(|e| failed(AwsOp::DescribeCACertificate, id, e))?;
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
                            .map_or(RegistrationStatus::Inactive, names::registration_status),
                        mode: desc
                            .certificate_mode()
                            .map_or(CertificateMode::Default, names::certificate_mode),
                        auto_registration: matches!(
                            desc.auto_registration_status(),
                            Some(aws_sdk_iot::types::AutoRegistrationStatus::Enable)
                        ),
                    }));
                }
            }
            marker = page.next_marker().map(str::to_string);
            if marker.is_none() {
                return Ok(None);
            }
        }
    }
}
