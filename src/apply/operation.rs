//! One planned operation, carried out: the dispatch from each
//! [`Operation`] to the AWS calls (and local files) behind it.

use std::collections::BTreeMap;
use std::time::Duration;

use super::context::{ChangeState, Context, local_error};
use super::files::{self, DeviceFiles};
use crate::cloud::CloudError;
use crate::pki::keys::DeviceKey;
use crate::plan::marker::CertFacts;
use crate::plan::{CertRef, KeySource, Operation, token};
use crate::spec::DeviceKey as SpecKey;

const CLIENT_AUTH_TEMPLATE: &str = "arn:aws:acm-pca:::template/EndEntityClientAuthCertificate/V1";
const ROOT_CA_TEMPLATE: &str = "arn:aws:acm-pca:::template/RootCACertificate/V1";
const VERIFICATION_TEMPLATE: &str = "arn:aws:acm-pca:::template/EndEntityCertificate/V1";

fn static_str(value: &str) -> &'static str {
    // PCA's enum names, mapped to 'static for the SDK builders.
    match value {
        "DAYS" => "DAYS",
        "MONTHS" => "MONTHS",
        "YEARS" => "YEARS",
        "EC_prime256v1" => "EC_prime256v1",
        "EC_secp384r1" => "EC_secp384r1",
        "RSA_2048" => "RSA_2048",
        "RSA_4096" => "RSA_4096",
        "SHA256WITHECDSA" => "SHA256WITHECDSA",
        "SHA384WITHECDSA" => "SHA384WITHECDSA",
        "SHA512WITHECDSA" => "SHA512WITHECDSA",
        "SHA256WITHRSA" => "SHA256WITHRSA",
        "SHA384WITHRSA" => "SHA384WITHRSA",
        "SHA512WITHRSA" => "SHA512WITHRSA",
        "ACTIVE" => "ACTIVE",
        "INACTIVE" => "INACTIVE",
        "REVOKED" => "REVOKED",
        "KEY_COMPROMISE" => "KEY_COMPROMISE",
        "CERTIFICATE_AUTHORITY_COMPROMISE" => "CERTIFICATE_AUTHORITY_COMPROMISE",
        "AFFILIATION_CHANGED" => "AFFILIATION_CHANGED",
        "SUPERSEDED" => "SUPERSEDED",
        "CESSATION_OF_OPERATION" => "CESSATION_OF_OPERATION",
        "PRIVILEGE_WITHDRAWN" => "PRIVILEGE_WITHDRAWN",
        "A_A_COMPROMISE" => "A_A_COMPROMISE",
        _ => "UNSPECIFIED",
    }
}

fn resolve<'s>(
    state: &'s ChangeState,
    cert: &'s CertRef,
) -> Result<(&'s str, &'s str), CloudError> {
    match cert {
        CertRef::Existing { id, arn } => Ok((id, arn)),
        CertRef::Issued => state
            .registered
            .as_ref()
            .map(|(id, arn)| (id.as_str(), arn.as_str()))
            .ok_or_else(|| {
                local_error(
                    "apply",
                    "certificate",
                    "NotRegistered",
                    "the new certificate is not registered yet",
                )
            }),
    }
}

pub(super) async fn run_operation(
    context: &Context<'_>,
    state: &mut ChangeState,
    operation: &Operation,
) -> Result<(), CloudError> {
    let cloud = context.cloud;
    let fleet = context.spec.fleet.as_str();
    match operation {
        Operation::CreateCa {
            subject,
            key_algorithm,
            signing_algorithm,
            idempotency_token,
        } => {
            let arn = cloud
                .create_root_ca(
                    fleet,
                    subject,
                    static_str(key_algorithm),
                    static_str(signing_algorithm),
                    idempotency_token,
                )
                .await?;
            // CreateCertificateAuthority is asynchronous: wait out CREATING.
            for _ in 0..120 {
                if cloud.ca_status(&arn).await? != "CREATING" {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            let mut ca = context.ca.lock().expect("CA state");
            ca.arn = Some(arn);
            ca.signing_algorithm = signing_algorithm.clone();
        }
        Operation::ActivateRootCa {
            validity_type,
            validity_value,
            signing_algorithm,
        } => {
            let arn = context.ca_arn()?;
            let csr = cloud.ca_csr(&arn).await?;
            let token = token::derive(&["root-ca-certificate", &arn]);
            let cert_arn = cloud
                .issue_certificate(
                    &arn,
                    &csr,
                    ROOT_CA_TEMPLATE,
                    static_str(signing_algorithm),
                    (static_str(validity_type), i64::from(*validity_value)),
                    &token,
                    "fleet CA",
                )
                .await?;
            let issued = cloud.get_certificate(&arn, &cert_arn).await?;
            cloud.import_ca_certificate(&arn, &issued.pem).await?;
            context.ca.lock().expect("CA state").pem = Some(issued.pem);
        }
        Operation::TagCa { arn } => cloud.tag_ca(arn, fleet).await?,
        Operation::RegisterCa {
            sni_only,
            active,
            auto_registration,
        } => {
            let ca_pem = context.ca_pem()?;
            let verification = if *sni_only {
                None
            } else {
                // DEFAULT mode: a certificate whose CN is the account's
                // registration code, signed by the CA being registered (AWS
                // IoT Developer Guide, "Register a CA certificate").
                let code = cloud.registration_code().await?;
                let ca_arn = context.ca_arn()?;
                let key = DeviceKey::generate();
                let csr = key.csr_pem(&code).map_err(|e| {
                    local_error("apply", "verification certificate", "Csr", e.to_string())
                })?;
                let token = token::derive(&[
                    "verification-certificate",
                    &ca_arn,
                    &code,
                    &key.public_key_sha256(),
                ]);
                let cert_arn = cloud
                    .issue_certificate(
                        &ca_arn,
                        &csr,
                        VERIFICATION_TEMPLATE,
                        context.signing_algorithm(),
                        ("DAYS", 1),
                        &token,
                        "verification certificate",
                    )
                    .await?;
                Some(cloud.get_certificate(&ca_arn, &cert_arn).await?.pem)
            };
            cloud
                .register_ca(
                    &ca_pem,
                    verification.as_deref(),
                    *sni_only,
                    *active,
                    *auto_registration,
                )
                .await?;
        }
        Operation::UpdateCaRegistration {
            certificate_id,
            active,
            auto_registration,
        } => {
            cloud
                .update_ca(certificate_id, *active, *auto_registration)
                .await?
        }
        Operation::CreateThingType {
            name,
            description,
            searchable_attributes,
        } => {
            cloud
                .create_thing_type(name, description.as_deref(), searchable_attributes)
                .await?
        }
        Operation::CreatePolicy { name, document } => {
            cloud.create_policy(fleet, name, document).await?
        }
        Operation::TagPolicy { arn, .. } => cloud.tag_policy(fleet, arn).await?,
        Operation::DeletePolicyVersion { name, version_id } => {
            cloud.delete_policy_version(name, version_id).await?
        }
        Operation::CreatePolicyVersion { name, document } => {
            cloud.create_policy_version(name, document).await?
        }
        Operation::DeletePolicy { name } => cloud.delete_policy(name).await?,
        Operation::CreateThing {
            name,
            thing_type,
            attributes,
        } => {
            cloud
                .create_thing(fleet, name, thing_type.as_deref(), attributes)
                .await?
        }
        Operation::UpdateThing {
            name,
            thing_type,
            attributes,
            expected_version,
        } => {
            let thing_type = thing_type.as_ref().map(|t| t.as_deref());
            cloud
                .update_thing(name, thing_type, attributes, Some(*expected_version))
                .await?
        }
        Operation::DeleteThing { name } => cloud.delete_thing(name).await?,
        Operation::GenerateKey { device, avoid } => {
            let path = files::pending_key_path(&context.output_dir(), device);
            let reusable = if path.exists() {
                DeviceKey::read(&path)
                    .ok()
                    .filter(|key| !avoid.contains(&key.public_key_sha256()))
            } else {
                None
            };
            let key = match reusable {
                Some(key) => key,
                None => {
                    let key = DeviceKey::generate();
                    // Written before the certificate is requested.
                    key.write(&path)
                        .map_err(|e| local_error("apply", device, "KeyWrite", e.to_string()))?;
                    key
                }
            };
            state.key = Some(key);
        }
        Operation::IssueCertificate {
            device,
            key,
            validity_type,
            validity_value,
            replaces,
        } => {
            let (csr_pem, key_id) = match key {
                KeySource::Csr { sha256, .. } => {
                    let Some(SpecKey::Csr(csr)) = context.spec.devices.get(device).map(|d| &d.key)
                    else {
                        return Err(local_error(
                            "apply",
                            device,
                            "NoCsr",
                            "the spec has no CSR for this device",
                        ));
                    };
                    if &csr.sha256 != sha256 {
                        return Err(local_error(
                            "apply",
                            device,
                            "CsrChanged",
                            "the CSR changed since the plan was made",
                        ));
                    }
                    (csr.pem.clone(), csr.sha256.clone())
                }
                KeySource::Generated => {
                    let key = state.key.as_ref().ok_or_else(|| {
                        local_error("apply", device, "NoKey", "no key was generated")
                    })?;
                    let csr = key
                        .csr_pem(device)
                        .map_err(|e| local_error("apply", device, "Csr", e.to_string()))?;
                    (csr, key.public_key_sha256())
                }
            };
            let ca_arn = context.ca_arn()?;
            let token = token::for_device_certificate(fleet, device, &key_id, replaces.as_deref());
            let cert_arn = cloud
                .issue_certificate(
                    &ca_arn,
                    &csr_pem,
                    CLIENT_AUTH_TEMPLATE,
                    context.signing_algorithm(),
                    (static_str(validity_type), i64::from(*validity_value)),
                    &token,
                    device,
                )
                .await?;
            state.issued_pem = Some(cloud.get_certificate(&ca_arn, &cert_arn).await?.pem);
        }
        Operation::RegisterCertificate { device } => {
            let pem = state.issued_pem.as_ref().ok_or_else(|| {
                local_error("apply", device, "NotIssued", "no certificate was issued")
            })?;
            let ca_pem = context.ca_pem()?;
            let registration = cloud.register_certificate(pem, &ca_pem, device).await?;
            state.registered = Some((registration.id, registration.arn));
        }
        Operation::AttachThing { thing, cert } => {
            cloud.attach_thing(thing, resolve(state, cert)?.1).await?
        }
        Operation::DetachThing { thing, cert } => {
            cloud.detach_thing(thing, resolve(state, cert)?.1).await?
        }
        Operation::AttachPolicy { policy, cert } => {
            cloud.attach_policy(policy, resolve(state, cert)?.1).await?
        }
        Operation::DetachPolicy { policy, cert } => {
            cloud.detach_policy(policy, resolve(state, cert)?.1).await?
        }
        Operation::SetCertificateStatus { cert, status } => {
            cloud
                .set_certificate_status(resolve(state, cert)?.0, static_str(status))
                .await?
        }
        Operation::RevokeInPca { serial, reason } => {
            let ca_arn = context.ca_arn()?;
            cloud
                .revoke_certificate(&ca_arn, serial, static_str(reason))
                .await?
        }
        Operation::DeleteCertificate { cert } => {
            cloud.delete_certificate(resolve(state, cert)?.0).await?
        }
        Operation::RecordFacts(record) => {
            // The issued certificate's facts come from the certificate itself.
            let issued = match &record.issued_policies {
                None => None,
                Some(policies) => {
                    let pem = state.issued_pem.as_deref().ok_or_else(|| {
                        local_error(
                            "apply",
                            &record.thing,
                            "NotIssued",
                            "no certificate was issued",
                        )
                    })?;
                    let (id, _) = resolve(state, &CertRef::Issued)?;
                    let info = crate::pki::cert::parse_pem(pem).map_err(|e| {
                        local_error("apply", &record.thing, "BadCertificate", e.to_string())
                    })?;
                    Some(CertFacts {
                        id: id.to_string(),
                        serial: info.serial,
                        not_before: info.not_before,
                        not_after: info.not_after,
                        public_key_sha256: info.public_key_sha256,
                        policies: policies.clone(),
                    })
                }
            };
            let value = record.value(fleet, issued);
            let attributes = BTreeMap::from([(crate::live::OWNER_ATTRIBUTE.to_string(), value)]);
            cloud
                .update_thing(&record.thing, None, &attributes, None)
                .await?
        }
        Operation::LoadCertificate { id, arn } => {
            state.issued_pem = Some(cloud.certificate_pem(id).await?);
            state.registered = Some((id.clone(), arn.clone()));
        }
        Operation::WriteDeviceFiles { device } => {
            let pem = state.issued_pem.clone().ok_or_else(|| {
                local_error("apply", device, "NotIssued", "no certificate was issued")
            })?;
            let (id, _) = resolve(state, &CertRef::Issued)?;
            let endpoint = context.endpoint().await?;
            let ca_pem = context.ca_pem()?;
            let output_dir = context.output_dir();
            DeviceFiles {
                output_dir: &output_dir,
                device,
                certificate_pem: &pem,
                certificate_id: id,
                ca_pem: &ca_pem,
                endpoint: &endpoint,
            }
            .write()
            .map_err(|e| local_error("apply", device, "WriteFiles", e.to_string()))?;
        }
    }
    Ok(())
}
