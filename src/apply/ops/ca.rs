//! The fleet CA: created and activated in PCA, tagged, registered in IoT.

use std::collections::BTreeMap;
use std::time::Duration;

use super::{ApplyError, Context};
use crate::live::{CaStatus, CertificateMode, RegistrationStatus};
use crate::pki::keys::DeviceKey;
use crate::plan::{CertValidity, KeyAlgorithm, SigningAlgorithm, UsageMode};
use crate::plan::{Template, Verification};

/// How long apply waits for a new CA to leave CREATING. AWS documents no
/// duration ("AWS Private CA is creating your private certificate
/// authority": DescribeCertificateAuthority); Terraform's aws provider waits
/// one minute by default. If the CA is still CREATING after that, activation
/// waits on: GetCertificateAuthorityCsr is polled for the SDK waiter's 180 s.
const CREATING_BUDGET: Duration = Duration::from_secs(60);

pub(super) async fn create(
    cx: &Context<'_>,
    subject: &BTreeMap<String, String>,
    key_algorithm: KeyAlgorithm,
    signing_algorithm: SigningAlgorithm,
    usage_mode: UsageMode,
    idempotency_token: &str,
) -> Result<(), ApplyError> {
    let cloud = cx.cloud;
    let arn = cloud
        .create_root_ca(
            cx.fleet,
            subject,
            key_algorithm,
            signing_algorithm,
            usage_mode,
            idempotency_token,
        )
        .await?;
    // CreateCertificateAuthority is asynchronous: wait out CREATING.
    let started = std::time::Instant::now();
    let mut delay = Duration::from_millis(250);
    while cloud.ca_status(&arn).await? == CaStatus::Creating
        && started.elapsed() + delay < CREATING_BUDGET
    {
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_secs(3));
    }
    cx.ca.lock().expect("CA state").arn = Some(arn);
    Ok(())
}

pub(super) async fn activate_root(
    cx: &Context<'_>,
    validity: CertValidity,
    signing_algorithm: SigningAlgorithm,
    template: Template,
    idempotency_token: &str,
) -> Result<(), ApplyError> {
    let cloud = cx.cloud;
    let arn = cx.ca_arn()?;
    let csr = cloud.ca_csr(&arn).await?;
    let cert_arn = cloud
        .issue_certificate(
            &arn,
            &csr,
            template,
            signing_algorithm,
            validity,
            idempotency_token,
            "fleet CA",
        )
        .await?;
    let issued = cloud.get_certificate(&arn, &cert_arn).await?;
    cloud.import_ca_certificate(&arn, &issued.pem).await?;
    cx.ca.lock().expect("CA state").pem = Some(issued.pem);
    Ok(())
}

pub(super) async fn register(
    cx: &Context<'_>,
    mode: CertificateMode,
    status: RegistrationStatus,
    auto_registration: bool,
    verification: Option<&Verification>,
) -> Result<(), ApplyError> {
    let ca_pem = cx.ca_pem()?;
    let verification_pem = match verification {
        Some(verification) => Some(verification_certificate(cx, verification).await?),
        None => None,
    };
    cx.cloud
        .register_ca(
            &ca_pem,
            verification_pem.as_deref(),
            mode == CertificateMode::SniOnly,
            status == RegistrationStatus::Active,
            auto_registration,
        )
        .await?;
    Ok(())
}

/// DEFAULT mode: a certificate whose CN is the account's registration code,
/// signed by the CA being registered (AWS IoT Developer Guide, "Register a
/// CA certificate"). The key is thrown away once IoT has checked it.
async fn verification_certificate(
    cx: &Context<'_>,
    verification: &Verification,
) -> Result<String, ApplyError> {
    let code = cx.cloud.registration_code().await?;
    let ca_arn = cx.ca_arn()?;
    let key = DeviceKey::generate();
    let csr = key
        .csr_pem(&code)
        .map_err(|e| ApplyError::local("verification certificate", "Csr", e))?;
    let token = verification
        .idempotency_token
        .resolve(&key.public_key_sha256());
    let cert_arn = cx
        .cloud
        .issue_certificate(
            &ca_arn,
            &csr,
            verification.template,
            verification.signing_algorithm,
            verification.validity,
            &token,
            "verification certificate",
        )
        .await?;
    Ok(cx.cloud.get_certificate(&ca_arn, &cert_arn).await?.pem)
}

pub(super) async fn update_registration(
    cx: &Context<'_>,
    certificate_id: &str,
    status: Option<RegistrationStatus>,
    auto_registration: Option<bool>,
) -> Result<(), ApplyError> {
    let active = status.map(|s| s == RegistrationStatus::Active);
    Ok(cx
        .cloud
        .update_ca(certificate_id, active, auto_registration)
        .await?)
}
