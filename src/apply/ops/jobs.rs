//! Rotation jobs: hand a registered certificate to the delivery phase,
//! create the job that carries it, confirm a device's report before its old
//! certificate retires, delete a job nothing waits on.

use std::collections::BTreeMap;

use crate::apply::ApplyError;
use crate::apply::context::{ChangeState, Context};
use crate::cloud::JobRequest;
use crate::live::ExecutionStatus;
use crate::plan::{Delivered, RotationJob};
use crate::rotation_job::{DETAIL_CERTIFICATE, Document, Entry, MAX_DOCUMENT_CHARS};

pub(super) fn stage(cx: &Context<'_>, state: &ChangeState, device: &str) -> Result<(), ApplyError> {
    let (id, _) = state.registered.clone().ok_or_else(|| {
        ApplyError::invariant(
            device,
            "NotRegistered",
            "no certificate was registered to deliver",
        )
    })?;
    let pem = state.issued_pem(device)?.to_string();
    cx.staged
        .lock()
        .expect("staged deliveries")
        .insert(device.to_string(), (id, pem));
    Ok(())
}

/// `arn:aws:iot:<region>:<account>:thing/<thing>`, in the CA's partition,
/// region and account (a fleet's CA and things live side by side).
fn thing_arn(ca_arn: &str, thing: &str) -> Result<String, ApplyError> {
    let parts: Vec<&str> = ca_arn.splitn(6, ':').collect();
    match parts.as_slice() {
        ["arn", partition, _, region, account, _] => Ok(format!(
            "arn:{partition}:iot:{region}:{account}:thing/{thing}"
        )),
        _ => Err(ApplyError::invariant(
            "ca",
            "BadArn",
            format!("cannot read CA ARN {ca_arn}"),
        )),
    }
}

pub(super) async fn create(cx: &Context<'_>, job: &RotationJob) -> Result<(), ApplyError> {
    let mut entries = BTreeMap::new();
    for delivery in &job.devices {
        let certificate = match &delivery.certificate {
            Delivered::Existing { id } => Some((id.clone(), cx.cloud.certificate_pem(id).await?)),
            // Left out when the device's change failed: the next plan delivers it.
            Delivered::RegisteredFor { device } => cx
                .staged
                .lock()
                .expect("staged deliveries")
                .get(device)
                .cloned(),
        };
        if let Some((certificate_id, certificate_pem)) = certificate {
            let entry = Entry {
                certificate_id,
                certificate_pem,
                key: delivery.key.clone(),
            };
            entries.insert(delivery.thing.clone(), entry);
        }
    }
    if entries.is_empty() {
        return Ok(());
    }
    let ca_arn = cx.ca_arn()?;
    let targets = entries
        .keys()
        .map(|t| thing_arn(&ca_arn, t))
        .collect::<Result<_, _>>()?;
    let count = entries.len();
    let document = Document::new(cx.fleet, &cx.ca_pem()?, entries).to_json();
    if document.len() > MAX_DOCUMENT_CHARS {
        return Err(ApplyError::invariant(
            &job.job_id,
            "DocumentTooLarge",
            format!(
                "the job document is {} characters, over CreateJob's {MAX_DOCUMENT_CHARS}",
                document.len()
            ),
        ));
    }
    let request = JobRequest {
        job_id: &job.job_id,
        document: &document,
        targets,
        description: format!(
            "fleetcert {}: new certificates for {count} devices",
            cx.fleet
        ),
        maximum_per_minute: job.maximum_per_minute,
        abort_failed_percent: f64::from(job.abort_failed_hundredths) / 100.0,
        abort_min_executed: job.abort_min_executed,
        in_progress_timeout_minutes: job.in_progress_timeout_minutes,
    };
    Ok(cx.cloud.create_rotation_job(cx.fleet, &request).await?)
}

/// The device said SUCCEEDED and named its new certificate; anything else
/// stops the change before its old certificate is touched.
pub(super) async fn confirm(
    cx: &Context<'_>,
    job_id: &str,
    thing: &str,
    certificate_id: &str,
) -> Result<(), ApplyError> {
    let (status, details) = cx.cloud.job_execution(job_id, thing).await?;
    let named = details.get(DETAIL_CERTIFICATE).map(String::as_str);
    if status == ExecutionStatus::Succeeded && named == Some(certificate_id) {
        return Ok(());
    }
    Err(ApplyError::invariant(
        thing,
        "NotConfirmed",
        format!(
            "job {job_id}: device {thing}'s execution is {status} with statusDetails.{DETAIL_CERTIFICATE} {}, \
             not certificate {certificate_id}: its old certificate stays ACTIVE",
            named.unwrap_or("absent")
        ),
    ))
}
