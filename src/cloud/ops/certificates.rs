//! AWS IoT: device certificates (registration, status, deletion, reading
//! back).

use aws_sdk_iot::types as iot;

use super::Registration;
use crate::aws_op::AwsOp;
use crate::cloud::{Cloud, CloudError, failed};
use crate::live::CertStatus;

impl Cloud {
    /// RegisterCertificate with the CA's PEM, ACTIVE. A certificate already
    /// registered (a retried apply) is looked up instead of failing.
    pub async fn register_certificate(
        &self,
        pem: &str,
        ca_pem: &str,
        about: &str,
    ) -> Result<Registration, CloudError> {
        let request = self
            .iot
            .register_certificate()
            .certificate_pem(pem)
            .ca_certificate_pem(ca_pem)
            .status(iot::CertificateStatus::Active);
        match self
            .call(AwsOp::RegisterCertificate, about, || request.clone().send())
            .await
        {
            Ok(out) => match (out.certificate_id(), out.certificate_arn()) {
                (Some(id), Some(arn)) => Ok(Registration {
                    id: id.to_string(),
                    arn: arn.to_string(),
                }),
                _ => Err(CloudError::new(
                    AwsOp::RegisterCertificate,
                    about,
                    "EmptyResponse",
                    "no id or ARN",
                )),
            },
            Err(e) if e.code() == Some("ResourceAlreadyExistsException") => {
                // The exception names the existing certificate ("resourceId:
                // The ID of the resource that caused the exception",
                // "resourceArn": botocore iot/2015-05-28 service-2.json,
                // ResourceAlreadyExistsException).
                if let Some(aws_sdk_iot::operation::register_certificate::RegisterCertificateError::ResourceAlreadyExistsException(exists)) =
                    e.error.as_service_error()
                    && let (Some(id), Some(arn)) = (exists.resource_id(), exists.resource_arn())
                {
                    return Ok(Registration {
                        id: id.to_string(),
                        arn: arn.to_string(),
                    });
                }
                // Otherwise: the certificate id is the SHA-256 of the DER
                // (AWS IoT Developer Guide, "X.509 client certificates").
                let der = crate::pki::cert::pem_to_der(pem).map_err(|err| {
                    CloudError::new(
                        AwsOp::RegisterCertificate,
                        about,
                        "BadCertificate",
                        err.to_string(),
                    )
                })?;
                let id = crate::pki::cert::sha256_hex(&der);
                let request = self.iot.describe_certificate().certificate_id(&id);
                let described = self
                    .call(AwsOp::DescribeCertificate, &id, || request.clone().send())
                    .await
                    .map_err(|e| failed(AwsOp::DescribeCertificate, &id, e))?;
                let arn = described
                    .certificate_description()
                    .and_then(|d| d.certificate_arn())
                    .map(str::to_string)
                    .ok_or_else(|| {
                        CloudError::new(AwsOp::DescribeCertificate, &id, "EmptyResponse", "no ARN")
                    })?;
                Ok(Registration { id, arn })
            }
            Err(e) => Err(failed(AwsOp::RegisterCertificate, about, e)),
        }
    }

    /// UpdateCertificate to ACTIVE, INACTIVE or REVOKED.
    pub async fn set_certificate_status(
        &self,
        id: &str,
        status: CertStatus,
    ) -> Result<(), CloudError> {
        let request = self
            .iot
            .update_certificate()
            .certificate_id(id)
            .new_status(crate::cloud::names::to_iot_status(status));
        match self
            .call(AwsOp::UpdateCertificate, id, || request.clone().send())
            .await
        {
            Ok(_) => Ok(()),
            // REVOKED is terminal: a retry of a revocation AWS carried out is
            // refused with CertificateStateException. Done if the status is
            // already the one asked for.
            Err(e)
                if e.retried()
                    && e.code() == Some("CertificateStateException")
                    && self.certificate_status(id).await == Some(status) =>
            {
                Ok(())
            }
            Err(e) => Err(failed(AwsOp::UpdateCertificate, id, e)),
        }
    }

    pub async fn delete_certificate(&self, id: &str) -> Result<(), CloudError> {
        // forceDelete: "Forces the deletion of a certificate if it is
        // inactive and is not attached to an IoT thing" (API reference,
        // DeleteCertificate): it does not wait for policy detachments to
        // propagate (up to five minutes, DetachPolicy). fleetcert detaches
        // the fleet's policies first anyway, and deletes only certificates
        // it has deactivated or revoked.
        let request = self
            .iot
            .delete_certificate()
            .certificate_id(id)
            .force_delete(true);
        self.call_done_if(
            AwsOp::DeleteCertificate,
            id,
            "ResourceNotFoundException",
            || request.clone().send(),
        )
        .await
    }

    /// A registered certificate's PEM (DescribeCertificate).
    pub async fn certificate_pem(&self, id: &str) -> Result<String, CloudError> {
        let request = self.iot.describe_certificate().certificate_id(id);
        let described = self
            .call(AwsOp::DescribeCertificate, id, || request.clone().send())
            .await
            .map_err(|e| failed(AwsOp::DescribeCertificate, id, e))?;
        described
            .certificate_description()
            .and_then(|d| d.certificate_pem())
            .map(str::to_string)
            .ok_or_else(|| {
                CloudError::new(AwsOp::DescribeCertificate, id, "EmptyResponse", "no PEM")
            })
    }

    /// A certificate's status now, if it can be read.
    async fn certificate_status(&self, id: &str) -> Option<CertStatus> {
        let request = self.iot.describe_certificate().certificate_id(id);
        let described = self
            .call(AwsOp::DescribeCertificate, id, || request.clone().send())
            .await
            .ok()?;
        described
            .certificate_description()
            .and_then(|d| d.status())
            .map(crate::cloud::names::cert_status)
    }
}
