//! A device's key and bundle in Secrets Manager. The same invariants as the
//! files under `output.dir`: a generated key is stored (a version labelled
//! FLEETCERT_PENDING, never AWSCURRENT) before its certificate is requested,
//! a re-run reuses it, and it joins the bundle (the AWSCURRENT version; the
//! previous bundle stays readable as AWSPREVIOUS) only once the certificate
//! is registered. Nothing of it touches the local disk.

use super::{ApplyError, ChangeState, Context};
use crate::apply::bundle::{Bundle, PENDING_FORMAT, PendingKey};
use crate::cloud::{CERTIFICATE_TAG, PENDING_STAGE, PENDING_TAG};
use crate::pki::keys::DeviceKey;

/// Store a new key as the secret's pending version.
pub(super) async fn store_pending(
    cx: &Context<'_>,
    name: &str,
    kms_key_id: Option<&str>,
    key: &DeviceKey,
) -> Result<(), ApplyError> {
    let sha = key.public_key_sha256();
    let pending = PendingKey {
        format: PENDING_FORMAT.into(),
        public_key_sha256: sha.clone(),
        private_key_pem: key.pem().to_string(),
    };
    let value = zeroize::Zeroizing::new(serde_json::to_string(&pending).expect("serializes"));
    cx.cloud.ensure_secret(cx.fleet, name, kms_key_id).await?;
    // The key's digest (64 hex) is the version's token: a retry is a no-op.
    cx.cloud
        .put_secret(name, &sha, &value, Some(&[PENDING_STAGE]))
        .await?;
    cx.cloud.tag_secret(name, PENDING_TAG, &sha).await?;
    Ok(())
}

/// The key waiting in the secret's pending version, and that version's id.
pub(super) async fn read_pending(
    cx: &Context<'_>,
    device: &str,
    name: &str,
) -> Result<(DeviceKey, String), ApplyError> {
    let Some((text, version)) = cx.cloud.secret_at_stage(name, PENDING_STAGE).await? else {
        return Err(ApplyError::invariant(
            device,
            "NoPendingKey",
            format!("{name} has no version labelled {PENDING_STAGE}; make the plan again"),
        ));
    };
    let text = zeroize::Zeroizing::new(text);
    let pending: PendingKey = serde_json::from_str(&text).map_err(|e| {
        ApplyError::local(
            device,
            "PendingKeyRead",
            format!("{name} ({PENDING_STAGE}): {e}"),
        )
    })?;
    let key = DeviceKey::from_pem(&pending.private_key_pem, name)
        .map_err(|e| ApplyError::local(device, "PendingKeyRead", e))?;
    Ok((key, version))
}

/// Write the bundle as the secret's current version; with `generated_key`,
/// the pending key joins it and stops being pending.
pub(super) async fn write_bundle(
    cx: &Context<'_>,
    state: &mut ChangeState,
    device: &str,
    name: &str,
    kms_key_id: Option<&str>,
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
            None => match cx.cloud.secret_at_stage(name, PENDING_STAGE).await? {
                Some(_) => {
                    let (key, version) = read_pending(cx, device, name).await?;
                    pending_version = Some(version);
                    key
                }
                // An apply stopped after the bundle was written and its
                // pending label removed, before the tag was: done but the tag.
                None if current_holds(cx, name, &id).await? => {
                    cx.cloud.untag_secret(name, PENDING_TAG).await?;
                    return Ok(());
                }
                None => read_pending(cx, device, name).await?.0,
            },
        };
        let cert = crate::pki::cert::parse_pem(&pem)
            .map_err(|e| ApplyError::local(device, "BadCertificate", e))?;
        if cert.public_key_sha256 != key.public_key_sha256() {
            return Err(ApplyError::invariant(
                device,
                "PendingKeyChanged",
                format!(
                    "the key in {name} is not the key of certificate {id}; make the plan again"
                ),
            ));
        }
        bundle.private_key_pem = Some(key.pem().to_string());
    }
    cx.cloud.ensure_secret(cx.fleet, name, kms_key_id).await?;
    // The certificate id (64 hex) is the version's token: a retry is a no-op.
    cx.cloud
        .put_secret(name, &id, &bundle.to_json(), None)
        .await?;
    cx.cloud.tag_secret(name, CERTIFICATE_TAG, &id).await?;
    if generated_key {
        let version = match pending_version {
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
    Ok(())
}

/// Whether the secret's current version is the bundle of certificate `id`.
async fn current_holds(cx: &Context<'_>, name: &str, id: &str) -> Result<bool, ApplyError> {
    let Some((text, _)) = cx.cloud.secret_at_stage(name, "AWSCURRENT").await? else {
        return Ok(false);
    };
    let text = zeroize::Zeroizing::new(text);
    Ok(serde_json::from_str::<Bundle>(&text)
        .is_ok_and(|bundle| bundle.certificate_id == id && bundle.private_key_pem.is_some()))
}
