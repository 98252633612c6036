//! ACM PCA: the fleet's private CA (create, tag, activate) and the
//! certificates it issues and revokes.

use std::collections::BTreeMap;
use std::time::Duration;

use aws_sdk_acmpca::primitives::Blob;
use aws_sdk_acmpca::types as pca;

use super::IssuedCertificate;
use crate::aws_op::AwsOp;
use crate::cloud::names;
use crate::cloud::{Cloud, CloudError, failed};
use crate::live::CaStatus;
use crate::live::OWNER_TAG;
use crate::plan::Template;
use crate::spec::{CertValidity, KeyAlgorithm, RevocationReason, SigningAlgorithm, UsageMode};

/// `GetCertificate` and `GetCertificateAuthorityCsr` answer
/// `RequestInProgressException` until PCA has finished ("Wait, then retry":
/// ACM PCA API reference, GetCertificate, Errors). fleetcert waits as long as
/// the AWS SDKs' own waiters do (botocore `acm-pca/2017-08-22/waiters-2.json`):
/// `CertificateIssued` polls every 1 s, 60 times; `CertificateAuthorityCSRCreated`
/// every 3 s, 60 times. The first polls come sooner (a certificate is usually
/// ready within a second), backing off to the waiter's delay.
struct InProgressBudget {
    max_delay: Duration,
    total: Duration,
    /// What is awaited, for the message when the budget runs out.
    what: &'static str,
}

const CERTIFICATE_ISSUED: InProgressBudget = InProgressBudget {
    max_delay: Duration::from_secs(1),
    total: Duration::from_secs(60),
    what: "the certificate",
};

const CSR_CREATED: InProgressBudget = InProgressBudget {
    max_delay: Duration::from_secs(3),
    total: Duration::from_secs(180),
    what: "the CA's CSR",
};

impl InProgressBudget {
    /// Poll `attempt` while it answers one of `codes`, within the budget.
    async fn poll<T, F, Fut>(
        &self,
        operation: AwsOp,
        resource: &str,
        codes: &[&str],
        mut attempt: F,
    ) -> Result<T, CloudError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, CloudError>>,
    {
        let started = std::time::Instant::now();
        let mut delay = Duration::from_millis(200);
        loop {
            match attempt().await {
                Err(e) if codes.contains(&e.code.as_str()) => {
                    if started.elapsed() + delay > self.total {
                        return Err(CloudError::new(
                            operation,
                            resource,
                            &e.code,
                            format!(
                                "{} was still not ready after {} s (the AWS SDK waiter's budget); \
                                 a re-run of apply picks it up",
                                self.what,
                                self.total.as_secs()
                            ),
                        ));
                    }
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(self.max_delay);
                }
                other => return other,
            }
        }
    }
}

impl Cloud {
    /// CreateCertificateAuthority for a root CA, tagged as the fleet's.
    #[allow(clippy::too_many_arguments)]
    pub async fn create_root_ca(
        &self,
        fleet: &str,
        subject: &BTreeMap<String, String>,
        key_algorithm: KeyAlgorithm,
        signing_algorithm: SigningAlgorithm,
        usage_mode: UsageMode,
        idempotency_token: &str,
    ) -> Result<String, CloudError> {
        let mut asn1 = pca::Asn1Subject::builder();
        for (field, value) in subject {
            asn1 = match field.as_str() {
                "common_name" => asn1.common_name(value),
                "organization" => asn1.organization(value),
                "organizational_unit" => asn1.organizational_unit(value),
                "country" => asn1.country(value),
                "state" => asn1.state(value),
                "locality" => asn1.locality(value),
                _ => asn1,
            };
        }
        let build_error = |e: aws_sdk_acmpca::error::BuildError| {
            CloudError::new(
                AwsOp::CreateCertificateAuthority,
                fleet,
                "BuildError",
                e.to_string(),
            )
        };
        let config = pca::CertificateAuthorityConfiguration::builder()
            .key_algorithm(names::key_algorithm(key_algorithm))
            .signing_algorithm(names::signing_algorithm(signing_algorithm))
            .subject(asn1.build())
            .build()
            .map_err(build_error)?;
        let tag = pca::Tag::builder()
            .key(OWNER_TAG)
            .value(fleet)
            .build()
            .map_err(build_error)?;
        let request = self
            .pca
            .create_certificate_authority()
            .certificate_authority_type(pca::CertificateAuthorityType::Root)
            .certificate_authority_configuration(config)
            .usage_mode(names::ca_usage_mode(usage_mode))
            .idempotency_token(idempotency_token)
            .tags(tag);
        // The idempotency token makes a retry return the same CA.
        let created = self
            .call(AwsOp::CreateCertificateAuthority, fleet, || {
                request.clone().send()
            })
            .await
            .map_err(|e| failed(AwsOp::CreateCertificateAuthority, fleet, e))?;
        created
            .certificate_authority_arn()
            .map(str::to_string)
            .ok_or_else(|| {
                CloudError::new(
                    AwsOp::CreateCertificateAuthority,
                    fleet,
                    "EmptyResponse",
                    "no CA ARN in the answer",
                )
            })
    }

    /// Tag an existing CA as the fleet's (adoption).
    pub async fn tag_ca(&self, arn: &str, fleet: &str) -> Result<(), CloudError> {
        let tag = pca::Tag::builder()
            .key(OWNER_TAG)
            .value(fleet)
            .build()
            .map_err(|e| {
                CloudError::new(
                    AwsOp::TagCertificateAuthority,
                    arn,
                    "BuildError",
                    e.to_string(),
                )
            })?;
        let request = self
            .pca
            .tag_certificate_authority()
            .certificate_authority_arn(arn)
            .tags(tag);
        self.call(AwsOp::TagCertificateAuthority, arn, || {
            request.clone().send()
        })
        .await
        .map_err(|e| failed(AwsOp::TagCertificateAuthority, arn, e))?;
        Ok(())
    }

    /// The CA's CSR, waiting while PCA still generates the key.
    pub async fn ca_csr(&self, arn: &str) -> Result<String, CloudError> {
        let op = AwsOp::GetCertificateAuthorityCsr;
        let request = self
            .pca
            .get_certificate_authority_csr()
            .certificate_authority_arn(arn);
        let out = CSR_CREATED
            .poll(
                op,
                arn,
                &["RequestInProgressException", "InvalidStateException"],
                || async {
                    self.call(op, arn, || request.clone().send())
                        .await
                        .map_err(|e| failed(op, arn, e))
                },
            )
            .await?;
        out.csr()
            .map(str::to_string)
            .ok_or_else(|| CloudError::new(op, arn, "EmptyResponse", "no CSR"))
    }

    /// IssueCertificate with `template`.
    #[allow(clippy::too_many_arguments)]
    pub async fn issue_certificate(
        &self,
        ca_arn: &str,
        csr_pem: &str,
        template: Template,
        signing_algorithm: SigningAlgorithm,
        validity: CertValidity,
        idempotency_token: &str,
        about: &str,
    ) -> Result<String, CloudError> {
        let (validity_type, validity_value) = names::validity(validity);
        let validity = pca::Validity::builder()
            .r#type(validity_type)
            .value(validity_value)
            .build()
            .map_err(|e| {
                CloudError::new(AwsOp::IssueCertificate, about, "BuildError", e.to_string())
            })?;
        let request = self
            .pca
            .issue_certificate()
            .certificate_authority_arn(ca_arn)
            .csr(Blob::new(csr_pem.as_bytes().to_vec()))
            .template_arn(names::template_arn(template))
            .signing_algorithm(names::signing_algorithm(signing_algorithm))
            .validity(validity)
            .idempotency_token(idempotency_token);
        // The idempotency token makes a retry (after a 5xx or a dropped
        // connection that PCA may have carried out) return the same
        // certificate instead of issuing a second one.
        let issued = self
            .call(AwsOp::IssueCertificate, about, || request.clone().send())
            .await
            .map_err(|e| failed(AwsOp::IssueCertificate, about, e))?;
        issued.certificate_arn().map(str::to_string).ok_or_else(|| {
            CloudError::new(
                AwsOp::IssueCertificate,
                about,
                "EmptyResponse",
                "no certificate ARN",
            )
        })
    }

    /// GetCertificate, waiting out `RequestInProgressException`.
    pub async fn get_certificate(
        &self,
        ca_arn: &str,
        cert_arn: &str,
    ) -> Result<IssuedCertificate, CloudError> {
        let op = AwsOp::GetCertificate;
        let request = self
            .pca
            .get_certificate()
            .certificate_authority_arn(ca_arn)
            .certificate_arn(cert_arn);
        let out = CERTIFICATE_ISSUED
            .poll(op, cert_arn, &["RequestInProgressException"], || async {
                self.call(op, cert_arn, || request.clone().send())
                    .await
                    .map_err(|e| failed(op, cert_arn, e))
            })
            .await?;
        let pem = out
            .certificate()
            .map(str::to_string)
            .ok_or_else(|| CloudError::new(op, cert_arn, "EmptyResponse", "no certificate"))?;
        Ok(IssuedCertificate {
            arn: cert_arn.to_string(),
            pem,
        })
    }

    pub async fn import_ca_certificate(&self, ca_arn: &str, pem: &str) -> Result<(), CloudError> {
        let request = self
            .pca
            .import_certificate_authority_certificate()
            .certificate_authority_arn(ca_arn)
            .certificate(Blob::new(pem.as_bytes().to_vec()));
        self.call(AwsOp::ImportCertificateAuthorityCertificate, ca_arn, || {
            request.clone().send()
        })
        .await
        .map_err(|e| failed(AwsOp::ImportCertificateAuthorityCertificate, ca_arn, e))?;
        Ok(())
    }

    /// RevokeCertificate. An already revoked serial counts as done.
    pub async fn revoke_certificate(
        &self,
        ca_arn: &str,
        serial: &str,
        reason: RevocationReason,
    ) -> Result<(), CloudError> {
        let request = self
            .pca
            .revoke_certificate()
            .certificate_authority_arn(ca_arn)
            .certificate_serial(names::revocation_serial(serial))
            .revocation_reason(names::revocation_reason(reason));
        self.call_done_if(
            AwsOp::RevokeCertificate,
            serial,
            "RequestAlreadyProcessedException",
            || request.clone().send(),
        )
        .await
    }

    /// The CA's status right now (to wait for CREATING to end).
    pub async fn ca_status(&self, arn: &str) -> Result<CaStatus, CloudError> {
        let described = self.describe_certificate_authority(arn).await?;
        Ok(described
            .certificate_authority()
            .and_then(|ca| ca.status())
            .map(crate::cloud::names::ca_status)
            .unwrap_or(CaStatus::Unknown))
    }
}
