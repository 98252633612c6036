//! A device's key and bundle in a secret store (Secrets Manager or SSM
//! Parameter Store). The same invariants as the files under `output.dir`: a
//! generated key is stored (a Secrets Manager version labelled
//! FLEETCERT_PENDING, never the bundle; the parameter `<name>/pending-key`)
//! before its certificate is requested, a re-run reuses it, and it joins the
//! bundle (the current version; the previous bundle stays readable as
//! AWSPREVIOUS or in the parameter's history) only once the certificate is
//! registered. Nothing of it touches the local disk.

use super::{ApplyError, ChangeState, Context};
use crate::apply::bundle::{Bundle, PENDING_FORMAT, PendingKey, placeholder};
use crate::cloud::{CERTIFICATE_TAG, PENDING_STAGE, PENDING_TAG};
use crate::pki::keys::DeviceKey;
use crate::plan::Destination;

/// The parameter that holds a device's pending key, beside its bundle.
pub fn pending_parameter(name: &str) -> String {
    format!("{name}/pending-key")
}

/// The descriptions SSM parameters carry for plans (`<tag>=<value>`).
pub fn description(tag: &str, value: &str) -> String {
    format!("{tag}={value}")
}

/// Store a new key at `destination` as pending.
pub(super) async fn store_pending(
    cx: &Context<'_>,
    device: &str,
    destination: &Destination,
    key: &DeviceKey,
) -> Result<(), ApplyError> {
    let sha = key.public_key_sha256();
    let pending = PendingKey {
        format: PENDING_FORMAT.into(),
        public_key_sha256: sha.clone(),
        private_key_pem: key.pem().to_string(),
    };
    let value = zeroize::Zeroizing::new(serde_json::to_string(&pending).expect("serializes"));
    match destination {
        Destination::Dir { .. } => unreachable!("a store destination"),
        Destination::SecretsManager { name, kms_key_id } => {
            cx.cloud
                .ensure_secret(cx.fleet, name, kms_key_id.as_deref(), &placeholder(device))
                .await?;
            // The key's digest (64 hex) is the version's token: a retry is a no-op.
            cx.cloud
                .put_secret(name, &sha, &value, Some(&[PENDING_STAGE]))
                .await?;
            cx.cloud.tag_secret(name, PENDING_TAG, &sha).await?;
        }
        Destination::Ssm { name, kms_key_id } => {
            cx.cloud
                .put_parameter(
                    &pending_parameter(name),
                    &value,
                    kms_key_id.as_deref(),
                    &description(PENDING_TAG, &sha),
                )
                .await?;
        }
    }
    Ok(())
}

/// The pending key's text at `destination`, and (Secrets Manager) its
/// version id; `None` if no key is pending.
async fn pending_text(
    cx: &Context<'_>,
    destination: &Destination,
) -> Result<Option<(String, Option<String>)>, ApplyError> {
    Ok(match destination {
        Destination::Dir { .. } => None,
        Destination::SecretsManager { name, .. } => cx
            .cloud
            .secret_at_stage(name, PENDING_STAGE)
            .await?
            .map(|(text, version)| (text, Some(version))),
        Destination::Ssm { name, .. } => cx
            .cloud
            .get_parameter(&pending_parameter(name))
            .await?
            .map(|text| (text, None)),
    })
}

/// The key waiting at `destination`, and (Secrets Manager) its version id.
pub(super) async fn read_pending(
    cx: &Context<'_>,
    device: &str,
    destination: &Destination,
) -> Result<(DeviceKey, Option<String>), ApplyError> {
    let Some((text, version)) = pending_text(cx, destination).await? else {
        return Err(ApplyError::invariant(
            device,
            "NoPendingKey",
            format!("{destination} holds no pending key; make the plan again"),
        ));
    };
    let text = zeroize::Zeroizing::new(text);
    let pending: PendingKey = serde_json::from_str(&text)
        .map_err(|e| ApplyError::local(device, "PendingKeyRead", format!("{destination}: {e}")))?;
    let key = DeviceKey::from_pem(&pending.private_key_pem, &destination.to_string())
        .map_err(|e| ApplyError::local(device, "PendingKeyRead", e))?;
    Ok((key, version))
}

/// Write the bundle as the current version at `destination`; with
/// `generated_key`, the pending key joins it and stops being pending.
pub(super) async fn write_bundle(
    cx: &Context<'_>,
    state: &mut ChangeState,
    device: &str,
    destination: &Destination,
    generated_key: bool,
) -> Result<(), ApplyError> {
    let pem = state.issued_pem(device)?.to_string();
    let (id, _) = state.resolve(&crate::plan::CertRef::Issued)?;
    let id = id.to_string();
    let endpoint = cx.endpoint().await?;
    let mut bundle = Bundle::new(device, &endpoint, &id, &pem, &cx.ca_pem()?);
    let mut pending_version = None;
    if generated_key {
        let key = match state.key.take() {
            Some(key) => key,
            None if pending_text(cx, destination).await?.is_none()
                && current_holds(cx, destination, &id).await? =>
            {
                // An apply stopped after the bundle was written, before the
                // pending key was let go: only that is left to do.
                return let_go_of_pending(cx, destination, None).await;
            }
            None => {
                let (key, version) = read_pending(cx, device, destination).await?;
                pending_version = version;
                key
            }
        };
        let cert = crate::pki::cert::parse_pem(&pem)
            .map_err(|e| ApplyError::local(device, "BadCertificate", e))?;
        if cert.public_key_sha256 != key.public_key_sha256() {
            return Err(ApplyError::invariant(
                device,
                "PendingKeyChanged",
                format!(
                    "the key in {destination} is not the key of certificate {id}; make the plan again"
                ),
            ));
        }
        bundle.private_key_pem = Some(key.pem().to_string());
    }
    put_bundle(cx, destination, &id, &bundle).await?;
    if generated_key {
        let_go_of_pending(cx, destination, pending_version).await?;
    }
    Ok(())
}

async fn put_bundle(
    cx: &Context<'_>,
    destination: &Destination,
    id: &str,
    bundle: &Bundle,
) -> Result<(), ApplyError> {
    match destination {
        Destination::Dir { .. } => unreachable!("a store destination"),
        Destination::SecretsManager { name, kms_key_id } => {
            cx.cloud
                .ensure_secret(
                    cx.fleet,
                    name,
                    kms_key_id.as_deref(),
                    &placeholder(&bundle.device),
                )
                .await?;
            // The certificate id (64 hex) is the version's token: a retry is a no-op.
            cx.cloud
                .put_secret(name, id, &bundle.to_json(), None)
                .await?;
            cx.cloud.tag_secret(name, CERTIFICATE_TAG, id).await?;
        }
        Destination::Ssm { name, kms_key_id } => {
            cx.cloud
                .put_parameter(
                    name,
                    &bundle.to_json(),
                    kms_key_id.as_deref(),
                    &description(CERTIFICATE_TAG, id),
                )
                .await?;
        }
    }
    Ok(())
}

/// The key joined the bundle: it is pending no more.
async fn let_go_of_pending(
    cx: &Context<'_>,
    destination: &Destination,
    version: Option<String>,
) -> Result<(), ApplyError> {
    match destination {
        Destination::Dir { .. } => {}
        Destination::SecretsManager { name, .. } => {
            let version = match version {
                Some(version) => Some(version),
                None => cx
                    .cloud
                    .secret_at_stage(name, PENDING_STAGE)
                    .await?
                    .map(|(_, v)| v),
            };
            if let Some(version) = version {
                cx.cloud.remove_stage(name, PENDING_STAGE, &version).await?;
            }
            cx.cloud.untag_secret(name, PENDING_TAG).await?;
        }
        Destination::Ssm { name, .. } => {
            cx.cloud.delete_parameter(&pending_parameter(name)).await?;
        }
    }
    Ok(())
}

/// Whether the current bundle at `destination` is certificate `id`'s, with its key.
async fn current_holds(
    cx: &Context<'_>,
    destination: &Destination,
    id: &str,
) -> Result<bool, ApplyError> {
    let text = match destination {
        Destination::Dir { .. } => None,
        Destination::SecretsManager { name, .. } => cx
            .cloud
            .secret_at_stage(name, "AWSCURRENT")
            .await?
            .map(|(text, _)| text),
        Destination::Ssm { name, .. } => cx.cloud.get_parameter(name).await?,
    };
    let Some(text) = text.map(zeroize::Zeroizing::new) else {
        return Ok(false);
    };
    Ok(serde_json::from_str::<Bundle>(&text)
        .is_ok_and(|bundle| bundle.certificate_id == id && bundle.private_key_pem.is_some()))
}

/// Delete a departed device's bundle (and any pending key).
pub(super) async fn delete(
    cx: &Context<'_>,
    destination: &Destination,
    recovery_window_days: Option<u32>,
) -> Result<(), ApplyError> {
    match destination {
        Destination::Dir { .. } => {}
        Destination::SecretsManager { name, .. } => {
            cx.cloud
                .delete_secret(name, recovery_window_days.unwrap_or(30))
                .await?;
        }
        Destination::Ssm { name, .. } => {
            cx.cloud.delete_parameter(&pending_parameter(name)).await?;
            cx.cloud.delete_parameter(name).await?;
        }
    }
    Ok(())
}
