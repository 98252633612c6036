//! AWS IoT: the fleet CA's registration, and the account's data endpoint.

use aws_sdk_iot::types as iot;

use crate::aws_op::AwsOp;
use crate::cloud::{Cloud, CloudError, failed};

impl Cloud {
    pub async fn registration_code(&self) -> Result<String, CloudError> {
        let request = self.iot.get_registration_code();
        let out = self
            .call(AwsOp::GetRegistrationCode, "", || request.clone().send())
            .await
            .map_err(|e| failed(AwsOp::GetRegistrationCode, "", e))?;
        out.registration_code().map(str::to_string).ok_or_else(|| {
            CloudError::new(
                AwsOp::GetRegistrationCode,
                "",
                "EmptyResponse",
                "no registration code",
            )
        })
    }

    /// RegisterCACertificate; `verification_pem` is required in DEFAULT mode.
    pub async fn register_ca(
        &self,
        ca_pem: &str,
        verification_pem: Option<&str>,
        sni_only: bool,
        active: bool,
        auto_registration: bool,
    ) -> Result<String, CloudError> {
        let mode = if sni_only {
            iot::CertificateMode::SniOnly
        } else {
            iot::CertificateMode::Default
        };
        let request = self
            .iot
            .register_ca_certificate()
            .ca_certificate(ca_pem)
            .set_verification_certificate(verification_pem.map(str::to_string))
            .certificate_mode(mode)
            .set_as_active(active)
            .allow_auto_registration(auto_registration);
        let out = match self
            .call(AwsOp::RegisterCACertificate, "fleet CA", || {
                request.clone().send()
            })
            .await
        {
            Ok(out) => out,
            // An earlier attempt was carried out before its answer was lost:
            // the CA is registered; the next plan reads its id.
            Err(e) if e.retried() && e.code() == Some("ResourceAlreadyExistsException") => {
                return Ok(String::new());
            }
            Err(e) => return Err(failed(AwsOp::RegisterCACertificate, "fleet CA", e)),
        };
        out.certificate_id().map(str::to_string).ok_or_else(|| {
            CloudError::new(
                AwsOp::RegisterCACertificate,
                "fleet CA",
                "EmptyResponse",
                "no id",
            )
        })
    }

    pub async fn update_ca(
        &self,
        certificate_id: &str,
        active: Option<bool>,
        auto_registration: Option<bool>,
    ) -> Result<(), CloudError> {
        let request = self
            .iot
            .update_ca_certificate()
            .certificate_id(certificate_id)
            .set_new_status(active.map(|a| {
                if a {
                    iot::CaCertificateStatus::Active
                } else {
                    iot::CaCertificateStatus::Inactive
                }
            }))
            .set_new_auto_registration_status(auto_registration.map(|a| {
                if a {
                    iot::AutoRegistrationStatus::Enable
                } else {
                    iot::AutoRegistrationStatus::Disable
                }
            }));
        self.call(AwsOp::UpdateCACertificate, certificate_id, || {
            request.clone().send()
        })
        .await
        .map_err(|e| failed(AwsOp::UpdateCACertificate, certificate_id, e))?;
        Ok(())
    }

    /// The account's IoT data endpoint (ATS), for device connection files.
    pub async fn data_endpoint(&self) -> Result<String, CloudError> {
        let request = self.iot.describe_endpoint().endpoint_type("iot:Data-ATS");
        let out = self
            .call(AwsOp::DescribeEndpoint, "iot:Data-ATS", || {
                request.clone().send()
            })
            .await
            .map_err(|e| failed(AwsOp::DescribeEndpoint, "iot:Data-ATS", e))?;
        out.endpoint_address().map(str::to_string).ok_or_else(|| {
            CloudError::new(
                AwsOp::DescribeEndpoint,
                "iot:Data-ATS",
                "EmptyResponse",
                "no address",
            )
        })
    }
}
