//! AWS IoT Jobs: the fleet's rotation jobs (create, confirm an execution,
//! delete).

use std::collections::BTreeMap;

use aws_sdk_iot::types as iot;

use crate::aws_op::AwsOp;
use crate::cloud::{Cloud, CloudError, failed};
use crate::live::{ExecutionStatus, OWNER_TAG};

/// What CreateJob needs besides the document.
pub struct JobRequest<'a> {
    pub job_id: &'a str,
    pub document: &'a str,
    pub targets: Vec<String>,
    pub description: String,
    pub maximum_per_minute: u32,
    pub abort_failed_percent: f64,
    pub abort_min_executed: u32,
    pub in_progress_timeout_minutes: u32,
}

fn build<T, E: std::fmt::Display>(op: AwsOp, id: &str, r: Result<T, E>) -> Result<T, CloudError> {
    r.map_err(|e| CloudError::new(op, id, "BuildError", e.to_string()))
}

impl Cloud {
    /// CreateJob: a SNAPSHOT job (its targets fixed at creation), tagged as
    /// the fleet's, rolled out at `maximumPerMinute`, cancelled when the
    /// failed share reaches the threshold (abortConfig, failureType ALL:
    /// FAILED, REJECTED and TIMED_OUT count), each execution TIMED_OUT after
    /// the in-progress timeout (IoT API reference, CreateJob;
    /// "How job configurations work",
    /// https://docs.aws.amazon.com/iot/latest/developerguide/jobs-configurations-details.html).
    /// A job id that exists already with the same document is this apply's
    /// own earlier attempt: taken as created.
    pub async fn create_rotation_job(
        &self,
        fleet: &str,
        job: &JobRequest<'_>,
    ) -> Result<(), CloudError> {
        let op = AwsOp::CreateJob;
        let id = job.job_id;
        let tag = build(
            op,
            id,
            iot::Tag::builder().key(OWNER_TAG).value(fleet).build(),
        )?;
        let rollout = iot::JobExecutionsRolloutConfig::builder()
            .maximum_per_minute(job.maximum_per_minute as i32)
            .build();
        let criteria = build(
            op,
            id,
            iot::AbortCriteria::builder()
                .failure_type(iot::JobExecutionFailureType::All)
                .action(iot::AbortAction::Cancel)
                .threshold_percentage(job.abort_failed_percent)
                .min_number_of_executed_things(job.abort_min_executed as i32)
                .build(),
        )?;
        let abort = build(
            op,
            id,
            iot::AbortConfig::builder().criteria_list(criteria).build(),
        )?;
        let timeout = iot::TimeoutConfig::builder()
            .in_progress_timeout_in_minutes(i64::from(job.in_progress_timeout_minutes))
            .build();
        let request = self
            .iot
            .create_job()
            .job_id(id)
            .set_targets(Some(job.targets.clone()))
            .document(job.document)
            .description(&job.description)
            .target_selection(iot::TargetSelection::Snapshot)
            .job_executions_rollout_config(rollout)
            .abort_config(abort)
            .timeout_config(timeout)
            .tags(tag);
        match self.call(op, id, || request.clone().send()).await {
            Ok(_) => Ok(()),
            Err(e) if e.code() == Some("ResourceAlreadyExistsException") => {
                let existing = self.job_document(id).await?;
                if existing.as_deref() == Some(job.document) {
                    Ok(())
                } else {
                    Err(failed(op, id, e))
                }
            }
            Err(e) => Err(failed(op, id, e)),
        }
    }

    /// GetJobDocument; `None` when there is no such job.
    pub async fn job_document(&self, job_id: &str) -> Result<Option<String>, CloudError> {
        let request = self.iot.get_job_document().job_id(job_id);
        match self
            .call(AwsOp::GetJobDocument, job_id, || request.clone().send())
            .await
        {
            Ok(out) => Ok(out.document().map(str::to_string)),
            Err(e) if e.code() == Some("ResourceNotFoundException") => Ok(None),
            Err(e) => Err(failed(AwsOp::GetJobDocument, job_id, e)),
        }
    }

    /// DescribeJobExecution: the thing's execution status and statusDetails.
    pub async fn job_execution(
        &self,
        job_id: &str,
        thing: &str,
    ) -> Result<(ExecutionStatus, BTreeMap<String, String>), CloudError> {
        let resource = format!("{job_id}/{thing}");
        let request = self
            .iot
            .describe_job_execution()
            .job_id(job_id)
            .thing_name(thing);
        let out = self
            .call(AwsOp::DescribeJobExecution, &resource, || {
                request.clone().send()
            })
            .await
            .map_err(|e| failed(AwsOp::DescribeJobExecution, resource.clone(), e))?;
        let execution = out.execution();
        let status = super::super::read::execution_status(execution.and_then(|e| e.status()));
        let details = execution
            .and_then(|e| e.status_details())
            .and_then(|d| d.details_map())
            .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default();
        Ok((status, details))
    }

    /// DeleteJob (not forced: a rotation job is deleted only when no
    /// execution is pending). Gone already counts as deleted.
    pub async fn delete_job(&self, job_id: &str) -> Result<(), CloudError> {
        let request = self.iot.delete_job().job_id(job_id).force(false);
        match self
            .call(AwsOp::DeleteJob, job_id, || request.clone().send())
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if e.code() == Some("ResourceNotFoundException") => Ok(()),
            Err(e) => Err(failed(AwsOp::DeleteJob, job_id, e)),
        }
    }
}
