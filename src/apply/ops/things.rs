//! The facts fleetcert records on a thing (marker.rs).

use std::collections::BTreeMap;

use super::{ApplyError, ChangeState, Context};
use crate::live::OWNER_ATTRIBUTE;
use crate::marker::{CertFacts, Record};
use crate::plan::CertRef;

/// Write the record; the facts of a certificate issued in this change come
/// from the certificate itself, its policies from the plan.
pub(super) async fn record_facts(
    cx: &Context<'_>,
    state: &ChangeState,
    record: &Record,
) -> Result<(), ApplyError> {
    let issued = match &record.issued_policies {
        None => None,
        Some(policies) => {
            let pem = state.issued_pem(&record.thing)?;
            let (id, _) = state.resolve(&CertRef::Issued)?;
            let info = crate::pki::cert::parse_pem(pem)
                .map_err(|e| ApplyError::invariant(&record.thing, "BadCertificate", e))?;
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
    let value = record.value(cx.fleet, issued);
    let attributes = BTreeMap::from([(OWNER_ATTRIBUTE.to_string(), value)]);
    Ok(cx
        .cloud
        .update_thing(&record.thing, None, &attributes, None)
        .await?)
}
