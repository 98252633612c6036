//! One typed AWS operation at a time, in fleetcert's terms.

use std::collections::BTreeMap;
use std::time::Duration;

use aws_sdk_acmpca::primitives::Blob;
use aws_sdk_acmpca::types as pca;
use aws_sdk_iot::types as iot;

use super::{Cloud, CloudError, failed};
use crate::live::{OWNER_ATTRIBUTE, OWNER_TAG};

/// `GetCertificate` and `GetCertificateAuthorityCsr` answer
/// `RequestInProgressException` until PCA has finished ("Wait, then retry":
/// ACM PCA API reference, GetCertificate, Errors).
const IN_PROGRESS_POLLS: u32 = 60;
const IN_PROGRESS_WAIT: Duration = Duration::from_millis(250);

/// A certificate PCA issued, as fetched back.
#[derive(Debug, Clone)]
pub struct IssuedCertificate {
    pub arn: String,
    pub pem: String,
}

/// A certificate as registered in IoT.
#[derive(Debug, Clone)]
pub struct Registration {
    pub id: String,
    pub arn: String,
}

fn parse_enum<T: From<&'static str>>(value: &'static str) -> T {
    T::from(value)
}

impl Cloud {
    // ---- ACM PCA ----------------------------------------------------------

    /// CreateCertificateAuthority for a root CA, tagged as the fleet's.
    #[allow(clippy::too_many_arguments)]
    pub async fn create_root_ca(
        &self,
        fleet: &str,
        subject: &BTreeMap<String, String>,
        key_algorithm: &'static str,
        signing_algorithm: &'static str,
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
        let config = pca::CertificateAuthorityConfiguration::builder()
            .key_algorithm(parse_enum::<pca::KeyAlgorithm>(key_algorithm))
            .signing_algorithm(parse_enum::<pca::SigningAlgorithm>(signing_algorithm))
            .subject(asn1.build())
            .build()
            .map_err(|e| {
                CloudError::new(
                    "acm-pca:CreateCertificateAuthority",
                    fleet,
                    "BuildError",
                    e.to_string(),
                )
            })?;
        let tag = pca::Tag::builder()
            .key(OWNER_TAG)
            .value(fleet)
            .build()
            .map_err(|e| {
                CloudError::new(
                    "acm-pca:CreateCertificateAuthority",
                    fleet,
                    "BuildError",
                    e.to_string(),
                )
            })?;
        let request = self
            .pca
            .create_certificate_authority()
            .certificate_authority_type(pca::CertificateAuthorityType::Root)
            .certificate_authority_configuration(config)
            .idempotency_token(idempotency_token)
            .tags(tag);
        // The idempotency token makes a retry return the same CA.
        let created = self
            .call("acm-pca:CreateCertificateAuthority", || {
                request.clone().send()
            })
            .await
            .map_err(|e| failed("acm-pca:CreateCertificateAuthority", fleet, e))?;
        created
            .certificate_authority_arn()
            .map(str::to_string)
            .ok_or_else(|| {
                CloudError::new(
                    "acm-pca:CreateCertificateAuthority",
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
                    "acm-pca:TagCertificateAuthority",
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
        self.call("acm-pca:TagCertificateAuthority", || request.clone().send())
            .await
            .map_err(|e| failed("acm-pca:TagCertificateAuthority", arn, e))?;
        Ok(())
    }

    /// The CA's CSR, waiting while PCA still generates the key.
    pub async fn ca_csr(&self, arn: &str) -> Result<String, CloudError> {
        for _ in 0..IN_PROGRESS_POLLS {
            let request = self
                .pca
                .get_certificate_authority_csr()
                .certificate_authority_arn(arn);
            match self
                .call("acm-pca:GetCertificateAuthorityCsr", || {
                    request.clone().send()
                })
                .await
            {
                Ok(out) => {
                    return out.csr().map(str::to_string).ok_or_else(|| {
                        CloudError::new(
                            "acm-pca:GetCertificateAuthorityCsr",
                            arn,
                            "EmptyResponse",
                            "no CSR",
                        )
                    });
                }
                Err(e)
                    if matches!(
                        e.code(),
                        Some("RequestInProgressException") | Some("InvalidStateException")
                    ) =>
                {
                    tokio::time::sleep(IN_PROGRESS_WAIT).await
                }
                Err(e) => return Err(failed("acm-pca:GetCertificateAuthorityCsr", arn, e)),
            }
        }
        Err(CloudError::new(
            "acm-pca:GetCertificateAuthorityCsr",
            arn,
            "RequestInProgressException",
            "the CA's CSR was still not ready after waiting",
        ))
    }

    /// IssueCertificate. `validity` is PCA's (type, value), e.g. ("DAYS", 365).
    #[allow(clippy::too_many_arguments)]
    pub async fn issue_certificate(
        &self,
        ca_arn: &str,
        csr_pem: &str,
        template_arn: &str,
        signing_algorithm: &'static str,
        validity: (&'static str, i64),
        idempotency_token: &str,
        about: &str,
    ) -> Result<String, CloudError> {
        let validity = pca::Validity::builder()
            .r#type(parse_enum::<pca::ValidityPeriodType>(validity.0))
            .value(validity.1)
            .build()
            .map_err(|e| {
                CloudError::new(
                    "acm-pca:IssueCertificate",
                    about,
                    "BuildError",
                    e.to_string(),
                )
            })?;
        let request = self
            .pca
            .issue_certificate()
            .certificate_authority_arn(ca_arn)
            .csr(Blob::new(csr_pem.as_bytes().to_vec()))
            .template_arn(template_arn)
            .signing_algorithm(parse_enum::<pca::SigningAlgorithm>(signing_algorithm))
            .validity(validity)
            .idempotency_token(idempotency_token);
        // The idempotency token makes a retry (after a 5xx or a dropped
        // connection that PCA may have carried out) return the same
        // certificate instead of issuing a second one.
        let issued = self
            .call("acm-pca:IssueCertificate", || request.clone().send())
            .await
            .map_err(|e| failed("acm-pca:IssueCertificate", about, e))?;
        issued.certificate_arn().map(str::to_string).ok_or_else(|| {
            CloudError::new(
                "acm-pca:IssueCertificate",
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
        for _ in 0..IN_PROGRESS_POLLS {
            let request = self
                .pca
                .get_certificate()
                .certificate_authority_arn(ca_arn)
                .certificate_arn(cert_arn);
            match self
                .call("acm-pca:GetCertificate", || request.clone().send())
                .await
            {
                Ok(out) => {
                    let pem = out.certificate().map(str::to_string).ok_or_else(|| {
                        CloudError::new(
                            "acm-pca:GetCertificate",
                            cert_arn,
                            "EmptyResponse",
                            "no certificate",
                        )
                    })?;
                    return Ok(IssuedCertificate {
                        arn: cert_arn.to_string(),
                        pem,
                    });
                }
                Err(e) if e.code() == Some("RequestInProgressException") => {
                    tokio::time::sleep(IN_PROGRESS_WAIT).await
                }
                Err(e) => return Err(failed("acm-pca:GetCertificate", cert_arn, e)),
            }
        }
        Err(CloudError::new(
            "acm-pca:GetCertificate",
            cert_arn,
            "RequestInProgressException",
            "the certificate was still not ready after waiting",
        ))
    }

    pub async fn import_ca_certificate(&self, ca_arn: &str, pem: &str) -> Result<(), CloudError> {
        let request = self
            .pca
            .import_certificate_authority_certificate()
            .certificate_authority_arn(ca_arn)
            .certificate(Blob::new(pem.as_bytes().to_vec()));
        self.call("acm-pca:ImportCertificateAuthorityCertificate", || {
            request.clone().send()
        })
        .await
        .map_err(|e| failed("acm-pca:ImportCertificateAuthorityCertificate", ca_arn, e))?;
        Ok(())
    }

    /// RevokeCertificate. An already revoked serial counts as done.
    pub async fn revoke_certificate(
        &self,
        ca_arn: &str,
        serial: &str,
        reason: &'static str,
    ) -> Result<(), CloudError> {
        let request = self
            .pca
            .revoke_certificate()
            .certificate_authority_arn(ca_arn)
            .certificate_serial(serial)
            .revocation_reason(parse_enum::<pca::RevocationReason>(reason));
        match self
            .call("acm-pca:RevokeCertificate", || request.clone().send())
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if e.code() == Some("RequestAlreadyProcessedException") => Ok(()),
            Err(e) => Err(failed("acm-pca:RevokeCertificate", serial, e)),
        }
    }

    // ---- AWS IoT: the CA ---------------------------------------------------

    pub async fn registration_code(&self) -> Result<String, CloudError> {
        let request = self.iot.get_registration_code();
        let out = self
            .call("iot:GetRegistrationCode", || request.clone().send())
            .await
            .map_err(|e| failed("iot:GetRegistrationCode", "", e))?;
        out.registration_code().map(str::to_string).ok_or_else(|| {
            CloudError::new(
                "iot:GetRegistrationCode",
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
            .call("iot:RegisterCACertificate", || request.clone().send())
            .await
        {
            Ok(out) => out,
            // An earlier attempt was carried out before its answer was lost:
            // the CA is registered; the next plan reads its id.
            Err(e) if e.retried() && e.code() == Some("ResourceAlreadyExistsException") => {
                return Ok(String::new());
            }
            Err(e) => return Err(failed("iot:RegisterCACertificate", "fleet CA", e)),
        };
        out.certificate_id().map(str::to_string).ok_or_else(|| {
            CloudError::new(
                "iot:RegisterCACertificate",
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
        self.call("iot:UpdateCACertificate", || request.clone().send())
            .await
            .map_err(|e| failed("iot:UpdateCACertificate", certificate_id, e))?;
        Ok(())
    }

    /// The account's IoT data endpoint (ATS), for device connection files.
    pub async fn data_endpoint(&self) -> Result<String, CloudError> {
        let request = self.iot.describe_endpoint().endpoint_type("iot:Data-ATS");
        let out = self
            .call("iot:DescribeEndpoint", || request.clone().send())
            .await
            .map_err(|e| failed("iot:DescribeEndpoint", "iot:Data-ATS", e))?;
        out.endpoint_address().map(str::to_string).ok_or_else(|| {
            CloudError::new(
                "iot:DescribeEndpoint",
                "iot:Data-ATS",
                "EmptyResponse",
                "no address",
            )
        })
    }

    // ---- AWS IoT: policies -------------------------------------------------

    pub async fn create_policy(
        &self,
        fleet: &str,
        name: &str,
        document: &str,
    ) -> Result<(), CloudError> {
        let tag = iot::Tag::builder()
            .key(OWNER_TAG)
            .value(fleet)
            .build()
            .map_err(|e| CloudError::new("iot:CreatePolicy", name, "BuildError", e.to_string()))?;
        let request = self
            .iot
            .create_policy()
            .policy_name(name)
            .policy_document(document)
            .tags(tag);
        match self
            .call("iot:CreatePolicy", || request.clone().send())
            .await
        {
            Ok(_) => Ok(()),
            // An earlier attempt was carried out before its answer was lost.
            Err(e) if e.retried() && e.code() == Some("ResourceAlreadyExistsException") => Ok(()),
            Err(e) => Err(failed("iot:CreatePolicy", name, e)),
        }
    }

    pub async fn tag_policy(&self, fleet: &str, arn: &str) -> Result<(), CloudError> {
        let tag = iot::Tag::builder()
            .key(OWNER_TAG)
            .value(fleet)
            .build()
            .map_err(|e| CloudError::new("iot:TagResource", arn, "BuildError", e.to_string()))?;
        let request = self.iot.tag_resource().resource_arn(arn).tags(tag);
        self.call("iot:TagResource", || request.clone().send())
            .await
            .map_err(|e| failed("iot:TagResource", arn, e))?;
        Ok(())
    }

    pub async fn create_policy_version(
        &self,
        name: &str,
        document: &str,
    ) -> Result<(), CloudError> {
        let request = self
            .iot
            .create_policy_version()
            .policy_name(name)
            .policy_document(document)
            .set_as_default(true);
        match self
            .call("iot:CreatePolicyVersion", || request.clone().send())
            .await
        {
            Ok(_) => Ok(()),
            // Retried after an attempt AWS may have carried out: a second
            // version would be a duplicate (and count towards the limit of 5),
            // so check whether the default version already says this.
            Err(e) if e.retried() && self.policy_document_is(name, document).await => Ok(()),
            Err(e) => Err(failed("iot:CreatePolicyVersion", name, e)),
        }
    }

    pub async fn delete_policy_version(
        &self,
        name: &str,
        version_id: &str,
    ) -> Result<(), CloudError> {
        let request = self
            .iot
            .delete_policy_version()
            .policy_name(name)
            .policy_version_id(version_id);
        match self
            .call("iot:DeletePolicyVersion", || request.clone().send())
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if e.code() == Some("ResourceNotFoundException") => Ok(()),
            Err(e) => Err(failed(
                "iot:DeletePolicyVersion",
                format!("{name} v{version_id}"),
                e,
            )),
        }
    }

    pub async fn delete_policy(&self, name: &str) -> Result<(), CloudError> {
        let request = self.iot.delete_policy().policy_name(name);
        match self
            .call("iot:DeletePolicy", || request.clone().send())
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if e.code() == Some("ResourceNotFoundException") => Ok(()),
            Err(e) => Err(failed("iot:DeletePolicy", name, e)),
        }
    }

    pub async fn attach_policy(&self, policy: &str, cert_arn: &str) -> Result<(), CloudError> {
        let request = self
            .iot
            .attach_policy()
            .policy_name(policy)
            .target(cert_arn);
        self.call("iot:AttachPolicy", || request.clone().send())
            .await
            .map_err(|e| failed("iot:AttachPolicy", format!("{policy} -> {cert_arn}"), e))?;
        Ok(())
    }

    pub async fn detach_policy(&self, policy: &str, cert_arn: &str) -> Result<(), CloudError> {
        let request = self
            .iot
            .detach_policy()
            .policy_name(policy)
            .target(cert_arn);
        match self
            .call("iot:DetachPolicy", || request.clone().send())
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if e.code() == Some("ResourceNotFoundException") => Ok(()),
            Err(e) => Err(failed(
                "iot:DetachPolicy",
                format!("{policy} -x- {cert_arn}"),
                e,
            )),
        }
    }

    // ---- AWS IoT: things ---------------------------------------------------

    /// CreateThing with the fleet's marker attribute among the attributes.
    pub async fn create_thing(
        &self,
        fleet: &str,
        name: &str,
        thing_type: Option<&str>,
        attributes: &BTreeMap<String, String>,
    ) -> Result<(), CloudError> {
        let mut payload = iot::AttributePayload::builder().attributes(OWNER_ATTRIBUTE, fleet);
        for (key, value) in attributes {
            payload = payload.attributes(key, value);
        }
        let request = self
            .iot
            .create_thing()
            .thing_name(name)
            .set_thing_type_name(thing_type.map(str::to_string))
            .attribute_payload(payload.build());
        // CreateThing with the same name, type and attributes returns the
        // existing thing (AWS IoT API reference, CreateThing), so a retry is safe.
        self.call("iot:CreateThing", || request.clone().send())
            .await
            .map_err(|e| failed("iot:CreateThing", name, e))?;
        Ok(())
    }

    /// UpdateThing, merging attributes (an empty value removes one: AWS IoT
    /// API reference, AttributePayload), guarded by `expected_version`.
    pub async fn update_thing(
        &self,
        name: &str,
        thing_type: Option<Option<&str>>,
        attributes: &BTreeMap<String, String>,
        expected_version: Option<i64>,
    ) -> Result<(), CloudError> {
        let mut payload = iot::AttributePayload::builder().merge(true);
        for (key, value) in attributes {
            payload = payload.attributes(key, value);
        }
        let mut request = self
            .iot
            .update_thing()
            .thing_name(name)
            .attribute_payload(payload.build())
            .set_expected_version(expected_version);
        match thing_type {
            Some(Some(thing_type)) => request = request.thing_type_name(thing_type),
            Some(None) => request = request.remove_thing_type(true),
            None => {}
        }
        match self
            .call("iot:UpdateThing", || request.clone().send())
            .await
        {
            Ok(_) => Ok(()),
            // Retried after an attempt AWS may have carried out: that attempt
            // bumped the version. Done if the thing now says what we sent.
            Err(e)
                if e.retried()
                    && e.code() == Some("VersionConflictException")
                    && self.thing_has(name, attributes).await =>
            {
                Ok(())
            }
            Err(e) => Err(failed("iot:UpdateThing", name, e)),
        }
    }

    pub async fn create_thing_type(
        &self,
        name: &str,
        description: Option<&str>,
        searchable_attributes: &[String],
    ) -> Result<(), CloudError> {
        let properties = iot::ThingTypeProperties::builder()
            .set_thing_type_description(description.map(str::to_string))
            .set_searchable_attributes(
                Some(searchable_attributes.to_vec()).filter(|a| !a.is_empty()),
            )
            .build();
        let request = self
            .iot
            .create_thing_type()
            .thing_type_name(name)
            .thing_type_properties(properties);
        match self
            .call("iot:CreateThingType", || request.clone().send())
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if e.code() == Some("ResourceAlreadyExistsException") => Ok(()),
            Err(e) => Err(failed("iot:CreateThingType", name, e)),
        }
    }

    pub async fn delete_thing(&self, name: &str) -> Result<(), CloudError> {
        let request = self.iot.delete_thing().thing_name(name);
        match self
            .call("iot:DeleteThing", || request.clone().send())
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if e.code() == Some("ResourceNotFoundException") => Ok(()),
            Err(e) => Err(failed("iot:DeleteThing", name, e)),
        }
    }

    pub async fn attach_thing(&self, thing: &str, cert_arn: &str) -> Result<(), CloudError> {
        let request = self
            .iot
            .attach_thing_principal()
            .thing_name(thing)
            .principal(cert_arn);
        self.call("iot:AttachThingPrincipal", || request.clone().send())
            .await
            .map_err(|e| {
                failed(
                    "iot:AttachThingPrincipal",
                    format!("{thing} -> {cert_arn}"),
                    e,
                )
            })?;
        Ok(())
    }

    pub async fn detach_thing(&self, thing: &str, cert_arn: &str) -> Result<(), CloudError> {
        let request = self
            .iot
            .detach_thing_principal()
            .thing_name(thing)
            .principal(cert_arn);
        match self
            .call("iot:DetachThingPrincipal", || request.clone().send())
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if e.code() == Some("ResourceNotFoundException") => Ok(()),
            Err(e) => Err(failed(
                "iot:DetachThingPrincipal",
                format!("{thing} -x- {cert_arn}"),
                e,
            )),
        }
    }

    // ---- AWS IoT: certificates --------------------------------------------

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
            .call("iot:RegisterCertificate", || request.clone().send())
            .await
        {
            Ok(out) => match (out.certificate_id(), out.certificate_arn()) {
                (Some(id), Some(arn)) => Ok(Registration {
                    id: id.to_string(),
                    arn: arn.to_string(),
                }),
                _ => Err(CloudError::new(
                    "iot:RegisterCertificate",
                    about,
                    "EmptyResponse",
                    "no id or ARN",
                )),
            },
            Err(e) if e.code() == Some("ResourceAlreadyExistsException") => {
                // The certificate id is the SHA-256 of the DER (AWS IoT
                // Developer Guide, "X.509 client certificates").
                let der = crate::pki::cert::pem_to_der(pem).map_err(|err| {
                    CloudError::new(
                        "iot:RegisterCertificate",
                        about,
                        "BadCertificate",
                        err.to_string(),
                    )
                })?;
                let id = crate::pki::cert::sha256_hex(&der);
                let request = self.iot.describe_certificate().certificate_id(&id);
                let described = self
                    .call("iot:DescribeCertificate", || request.clone().send())
                    .await
                    .map_err(|e| failed("iot:DescribeCertificate", &id, e))?;
                let arn = described
                    .certificate_description()
                    .and_then(|d| d.certificate_arn())
                    .map(str::to_string)
                    .ok_or_else(|| {
                        CloudError::new("iot:DescribeCertificate", &id, "EmptyResponse", "no ARN")
                    })?;
                Ok(Registration { id, arn })
            }
            Err(e) => Err(failed("iot:RegisterCertificate", about, e)),
        }
    }

    /// UpdateCertificate to ACTIVE, INACTIVE or REVOKED.
    pub async fn set_certificate_status(
        &self,
        id: &str,
        status: &'static str,
    ) -> Result<(), CloudError> {
        let request = self
            .iot
            .update_certificate()
            .certificate_id(id)
            .new_status(parse_enum::<iot::CertificateStatus>(status));
        match self
            .call("iot:UpdateCertificate", || request.clone().send())
            .await
        {
            Ok(_) => Ok(()),
            // REVOKED is terminal: a retry of a revocation AWS carried out is
            // refused with CertificateStateException. Done if the status is
            // already the one asked for.
            Err(e)
                if e.retried()
                    && e.code() == Some("CertificateStateException")
                    && self.certificate_status(id).await.as_deref() == Some(status) =>
            {
                Ok(())
            }
            Err(e) => Err(failed("iot:UpdateCertificate", id, e)),
        }
    }

    pub async fn delete_certificate(&self, id: &str) -> Result<(), CloudError> {
        let request = self.iot.delete_certificate().certificate_id(id);
        match self
            .call("iot:DeleteCertificate", || request.clone().send())
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if e.code() == Some("ResourceNotFoundException") => Ok(()),
            Err(e) => Err(failed("iot:DeleteCertificate", id, e)),
        }
    }

    /// The CA's status right now (to wait for CREATING to end).
    pub async fn ca_status(&self, arn: &str) -> Result<String, CloudError> {
        let described = self.describe_certificate_authority(arn).await?;
        Ok(described
            .certificate_authority()
            .and_then(|ca| ca.status())
            .map(|s| s.as_str().to_string())
            .unwrap_or_default())
    }

    /// Does policy `name`'s default version say `document` (canonically)?
    async fn policy_document_is(&self, name: &str, document: &str) -> bool {
        let request = self.iot.get_policy().policy_name(name);
        match self.call("iot:GetPolicy", || request.clone().send()).await {
            Ok(got) => {
                super::read::canonical_json(got.policy_document().unwrap_or(""))
                    == super::read::canonical_json(document)
            }
            Err(_) => false,
        }
    }

    /// Does thing `name` carry these attributes (an empty value: absent)?
    async fn thing_has(&self, name: &str, attributes: &BTreeMap<String, String>) -> bool {
        let request = self.iot.describe_thing().thing_name(name);
        match self
            .call("iot:DescribeThing", || request.clone().send())
            .await
        {
            Ok(thing) => {
                let live = thing.attributes().cloned().unwrap_or_default();
                attributes.iter().all(|(key, value)| {
                    live.get(key).map(String::as_str).unwrap_or("") == value.as_str()
                })
            }
            Err(_) => false,
        }
    }

    /// A registered certificate's PEM (DescribeCertificate).
    pub async fn certificate_pem(&self, id: &str) -> Result<String, CloudError> {
        let request = self.iot.describe_certificate().certificate_id(id);
        let described = self
            .call("iot:DescribeCertificate", || request.clone().send())
            .await
            .map_err(|e| failed("iot:DescribeCertificate", id, e))?;
        described
            .certificate_description()
            .and_then(|d| d.certificate_pem())
            .map(str::to_string)
            .ok_or_else(|| {
                CloudError::new("iot:DescribeCertificate", id, "EmptyResponse", "no PEM")
            })
    }

    /// A certificate's status now, if it can be read.
    async fn certificate_status(&self, id: &str) -> Option<String> {
        let request = self.iot.describe_certificate().certificate_id(id);
        let described = self
            .call("iot:DescribeCertificate", || request.clone().send())
            .await
            .ok()?;
        described
            .certificate_description()
            .and_then(|d| d.status())
            .map(|s| s.as_str().to_string())
    }
}
