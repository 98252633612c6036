//! One planned operation, carried out: the dispatch from each [`Operation`]
//! to the function (one file per kind of resource) that makes its AWS calls
//! or writes its files.

mod ca;
mod certificates;
mod files;
mod jobs;
mod store;
mod things;

use super::ApplyError;
use super::context::{ChangeState, Context};
use super::settle::{Wait, settled};
use crate::plan::Operation;

pub(super) async fn run_operation(
    cx: &Context<'_>,
    state: &mut ChangeState,
    operation: &Operation,
) -> Result<(), ApplyError> {
    use Operation as Op;
    match operation {
        Op::CreateCa { .. }
        | Op::ActivateRootCa { .. }
        | Op::TagCa { .. }
        | Op::RegisterCa { .. }
        | Op::UpdateCaRegistration { .. } => run_ca(cx, operation).await,
        Op::CreateThingType { .. }
        | Op::CreatePolicy { .. }
        | Op::TagPolicy { .. }
        | Op::DeletePolicyVersion { .. }
        | Op::CreatePolicyVersion { .. }
        | Op::DeletePolicy { .. } => run_policy(cx, operation).await,
        Op::CreateThing { .. }
        | Op::UpdateThing { .. }
        | Op::DeleteThing { .. }
        | Op::RecordFacts(_) => run_thing(cx, state, operation).await,
        Op::GenerateKey { .. }
        | Op::IssueCertificate { .. }
        | Op::RegisterCertificate { .. }
        | Op::LoadCertificate { .. }
        | Op::WriteDeviceFiles { .. }
        | Op::DeleteBundle { .. } => run_certificate(cx, state, operation).await,
        Op::AttachThing { .. }
        | Op::DetachThing { .. }
        | Op::AttachPolicy { .. }
        | Op::DetachPolicy { .. }
        | Op::SetCertificateStatus { .. }
        | Op::RevokeInPca { .. }
        | Op::DeleteCertificate { .. } => run_attachment(cx, state, operation).await,
        Op::StageDelivery { device } => jobs::stage(cx, state, device),
        Op::CreateRotationJob(job) => jobs::create(cx, job).await,
        Op::ConfirmDelivery {
            job_id,
            thing,
            certificate_id,
        } => jobs::confirm(cx, job_id, thing, certificate_id).await,
        Op::DeleteRotationJob { job_id } => Ok(cx.cloud.delete_job(job_id).await?),
    }
}

/// An operation given to the wrong kind's runner: a bug in the dispatch
/// above, reported as an invariant rather than a panic.
fn misdispatched(operation: &Operation) -> ApplyError {
    ApplyError::invariant(
        "apply",
        "Dispatch",
        format!("{} dispatched to the wrong runner", operation.name()),
    )
}

async fn run_ca(cx: &Context<'_>, operation: &Operation) -> Result<(), ApplyError> {
    use Operation as Op;
    match operation {
        Op::CreateCa {
            subject,
            key_algorithm,
            signing_algorithm,
            usage_mode,
            idempotency_token,
        } => {
            ca::create(
                cx,
                subject,
                *key_algorithm,
                *signing_algorithm,
                *usage_mode,
                idempotency_token,
            )
            .await
        }
        Op::ActivateRootCa {
            validity,
            signing_algorithm,
            template,
            idempotency_token,
        } => {
            ca::activate_root(
                cx,
                *validity,
                *signing_algorithm,
                *template,
                idempotency_token,
            )
            .await
        }
        Op::TagCa { arn } => Ok(cx.cloud.tag_ca(arn, cx.fleet).await?),
        Op::RegisterCa {
            mode,
            status,
            auto_registration,
            verification,
        } => {
            ca::register(
                cx,
                *mode,
                *status,
                *auto_registration,
                verification.as_ref(),
            )
            .await
        }
        Op::UpdateCaRegistration {
            certificate_id,
            status,
            auto_registration,
        } => ca::update_registration(cx, certificate_id, *status, *auto_registration).await,
        other => Err(misdispatched(other)),
    }
}

async fn run_policy(cx: &Context<'_>, operation: &Operation) -> Result<(), ApplyError> {
    use Operation as Op;
    match operation {
        Op::CreateThingType {
            name,
            description,
            searchable_attributes,
        } => Ok(cx
            .cloud
            .create_thing_type(name, description.as_deref(), searchable_attributes)
            .await?),
        Op::CreatePolicy { name, document } => {
            Ok(cx.cloud.create_policy(cx.fleet, name, document).await?)
        }
        Op::TagPolicy { arn, .. } => Ok(cx.cloud.tag_policy(cx.fleet, arn).await?),
        Op::DeletePolicyVersion { name, version_id } => {
            Ok(cx.cloud.delete_policy_version(name, version_id).await?)
        }
        Op::CreatePolicyVersion { name, document } => {
            Ok(cx.cloud.create_policy_version(name, document).await?)
        }
        Op::DeletePolicy { name } => {
            settled(cx, Wait::PolicyDetachment, || cx.cloud.delete_policy(name)).await
        }
        other => Err(misdispatched(other)),
    }
}

async fn run_thing(
    cx: &Context<'_>,
    state: &mut ChangeState,
    operation: &Operation,
) -> Result<(), ApplyError> {
    use Operation as Op;
    match operation {
        Op::CreateThing {
            name,
            thing_type,
            attributes,
        } => Ok(cx
            .cloud
            .create_thing(cx.fleet, name, thing_type.as_deref(), attributes)
            .await?),
        Op::UpdateThing {
            name,
            thing_type,
            attributes,
            expected_version,
        } => {
            let thing_type = thing_type.as_ref().map(|t| t.as_deref());
            Ok(cx
                .cloud
                .update_thing(name, thing_type, attributes, Some(*expected_version))
                .await?)
        }
        Op::DeleteThing { name } => {
            settled(cx, Wait::ThingDetachment, || cx.cloud.delete_thing(name)).await
        }
        Op::RecordFacts(record) => things::record_facts(cx, state, record).await,
        other => Err(misdispatched(other)),
    }
}

async fn run_certificate(
    cx: &Context<'_>,
    state: &mut ChangeState,
    operation: &Operation,
) -> Result<(), ApplyError> {
    use Operation as Op;
    match operation {
        Op::GenerateKey {
            device,
            destination,
            key,
        } => certificates::generate_key(cx, state, device, destination, key).await,
        Op::IssueCertificate {
            device,
            key,
            validity,
            signing_algorithm,
            template,
            idempotency_token,
            ..
        } => {
            let issue = certificates::Issue {
                device,
                key,
                validity: *validity,
                signing_algorithm: *signing_algorithm,
                template: *template,
                idempotency_token,
            };
            certificates::issue(cx, state, issue).await
        }
        Op::RegisterCertificate { device } => certificates::register(cx, state, device).await,
        Op::LoadCertificate { id, arn } => certificates::load(cx, state, id, arn).await,
        Op::WriteDeviceFiles {
            device,
            destination,
            generated_key,
        } => files::write(cx, state, device, destination, *generated_key).await,
        Op::DeleteBundle {
            destination,
            recovery_window_days,
            ..
        } => store::delete(cx, destination, *recovery_window_days).await,
        other => Err(misdispatched(other)),
    }
}

async fn run_attachment(
    cx: &Context<'_>,
    state: &mut ChangeState,
    operation: &Operation,
) -> Result<(), ApplyError> {
    use Operation as Op;
    match operation {
        Op::AttachThing { thing, cert } => {
            Ok(cx.cloud.attach_thing(thing, state.resolve(cert)?.1).await?)
        }
        Op::DetachThing { thing, cert } => {
            Ok(cx.cloud.detach_thing(thing, state.resolve(cert)?.1).await?)
        }
        Op::AttachPolicy { policy, cert } => Ok(cx
            .cloud
            .attach_policy(policy, state.resolve(cert)?.1)
            .await?),
        Op::DetachPolicy { policy, cert } => Ok(cx
            .cloud
            .detach_policy(policy, state.resolve(cert)?.1)
            .await?),
        Op::SetCertificateStatus { cert, status } => {
            let id = state.resolve(cert)?.0;
            Ok(cx.cloud.set_certificate_status(id, *status).await?)
        }
        Op::RevokeInPca { serial, reason } => {
            let ca_arn = cx.ca_arn()?;
            Ok(cx
                .cloud
                .revoke_certificate(&ca_arn, serial, *reason)
                .await?)
        }
        Op::DeleteCertificate { cert } => {
            let id = state.resolve(cert)?.0;
            settled(cx, Wait::ThingDetachment, || {
                cx.cloud.delete_certificate(id)
            })
            .await
        }
        other => Err(misdispatched(other)),
    }
}
