//! Device certificates: the key, the issue, the registration, loading a
//! registered certificate back.

use super::{ApplyError, ChangeState, Context, store};
use crate::apply::files;
use crate::pki::keys::DeviceKey;
use crate::plan::{CertValidity, SigningAlgorithm};
use crate::plan::{Destination, IdempotencyToken, KeyPlan, KeySource, Template};

/// Make the key the plan asks for, or take the pending one it names, where
/// the device's bundle goes.
pub(super) async fn generate_key(
    cx: &Context<'_>,
    state: &mut ChangeState,
    device: &str,
    destination: &Destination,
    plan: &KeyPlan,
) -> Result<(), ApplyError> {
    let key = match (plan, destination) {
        (KeyPlan::ReusePending { public_key_sha256 }, Destination::Dir { dir }) => {
            let path = files::pending_key_path(dir, device);
            let key = DeviceKey::read(&path)
                .map_err(|e| ApplyError::local(device, "PendingKeyRead", e))?;
            same_key(device, &path.display().to_string(), &key, public_key_sha256)?;
            key
        }
        (KeyPlan::ReusePending { public_key_sha256 }, store) => {
            let (key, _) = store::read_pending(cx, device, store).await?;
            same_key(device, &store.to_string(), &key, public_key_sha256)?;
            key
        }
        (KeyPlan::New, Destination::Dir { dir }) => {
            let key = DeviceKey::generate();
            // Written before the certificate is requested.
            key.write(&files::pending_key_path(dir, device))
                .map_err(|e| ApplyError::local(device, "KeyWrite", e))?;
            key
        }
        (KeyPlan::New, store) => {
            let key = DeviceKey::generate();
            // Stored before the certificate is requested.
            store::store_pending(cx, device, store, &key).await?;
            key
        }
    };
    state.key = Some(key);
    Ok(())
}

/// The pending key must be the one the plan reuses.
fn same_key(device: &str, place: &str, key: &DeviceKey, planned: &str) -> Result<(), ApplyError> {
    let found = key.public_key_sha256();
    if found == planned {
        return Ok(());
    }
    Err(ApplyError::invariant(
        device,
        "PendingKeyChanged",
        format!(
            "{place} holds a key with public key sha256:{found}, not the sha256:{planned} \
             the plan reuses; make the plan again"
        ),
    ))
}

/// What IssueCertificate needs, from the plan.
pub(super) struct Issue<'a> {
    pub(super) device: &'a str,
    pub(super) key: &'a KeySource,
    pub(super) validity: CertValidity,
    pub(super) signing_algorithm: SigningAlgorithm,
    pub(super) template: Template,
    pub(super) idempotency_token: &'a IdempotencyToken,
}

pub(super) async fn issue(
    cx: &Context<'_>,
    state: &mut ChangeState,
    issue: Issue<'_>,
) -> Result<(), ApplyError> {
    let device = issue.device;
    let (csr_pem, key_sha256) = match issue.key {
        KeySource::Csr { pem, sha256, .. } => (pem.clone(), sha256.clone()),
        KeySource::Generated => {
            let key = state.key.as_ref().ok_or_else(|| {
                ApplyError::invariant(device, "NoKey", "no key was generated in this change")
            })?;
            let csr = key
                .csr_pem(device)
                .map_err(|e| ApplyError::local(device, "Csr", e))?;
            (csr, key.public_key_sha256())
        }
    };
    let ca_arn = cx.ca_arn()?;
    let token = issue.idempotency_token.resolve(&key_sha256);
    let cert_arn = cx
        .cloud
        .issue_certificate(
            &ca_arn,
            &csr_pem,
            issue.template,
            issue.signing_algorithm,
            issue.validity,
            &token,
            device,
        )
        .await?;
    state.issued_pem = Some(cx.cloud.get_certificate(&ca_arn, &cert_arn).await?.pem);
    Ok(())
}

pub(super) async fn register(
    cx: &Context<'_>,
    state: &mut ChangeState,
    device: &str,
) -> Result<(), ApplyError> {
    let pem = state.issued_pem(device)?;
    let ca_pem = cx.ca_pem()?;
    let registration = cx.cloud.register_certificate(pem, &ca_pem, device).await?;
    state.registered = Some((registration.id, registration.arn));
    Ok(())
}

pub(super) async fn load(
    cx: &Context<'_>,
    state: &mut ChangeState,
    id: &str,
    arn: &str,
) -> Result<(), ApplyError> {
    state.issued_pem = Some(cx.cloud.certificate_pem(id).await?);
    state.registered = Some((id.to_string(), arn.to_string()));
    Ok(())
}
