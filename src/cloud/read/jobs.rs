//! The fleet's rotation jobs, read in bulk: one ListJobs listing of the
//! account (250 a page), then per fleet job its document (GetJobDocument)
//! and its executions (ListJobExecutionsForJob, 250 a page; API reference,
//! ListJobExecutionsForJob, maxResults "Valid Range: Minimum value of 1.
//! Maximum value of 250"). Never a call per device: a 1,000-device rotation
//! is about 50 jobs.

use std::collections::BTreeMap;

use futures_util::{StreamExt, TryStreamExt, stream};

use super::READ_CONCURRENCY;
use crate::aws_op::AwsOp;
use crate::cloud::{Cloud, CloudError, failed};
use crate::live::{ExecutionStatus, JobStatus, LiveExecution, LiveJob};
use crate::rotation_job::{Document, job_prefix};

/// A job as ListJobs shows it.
struct Listed {
    id: String,
    status: JobStatus,
    created_at: i64,
}

fn job_status(status: Option<&aws_sdk_iot::types::JobStatus>) -> JobStatus {
    use aws_sdk_iot::types::JobStatus as S;
    match status {
        Some(S::InProgress) => JobStatus::InProgress,
        Some(S::Canceled) => JobStatus::Canceled,
        Some(S::Completed) => JobStatus::Completed,
        Some(S::DeletionInProgress) => JobStatus::DeletionInProgress,
        Some(S::Scheduled) => JobStatus::Scheduled,
        _ => JobStatus::Unknown,
    }
}

pub(in crate::cloud) fn execution_status(
    status: Option<&aws_sdk_iot::types::JobExecutionStatus>,
) -> ExecutionStatus {
    use aws_sdk_iot::types::JobExecutionStatus as S;
    match status {
        Some(S::Queued) => ExecutionStatus::Queued,
        Some(S::InProgress) => ExecutionStatus::InProgress,
        Some(S::Succeeded) => ExecutionStatus::Succeeded,
        Some(S::Failed) => ExecutionStatus::Failed,
        Some(S::TimedOut) => ExecutionStatus::TimedOut,
        Some(S::Rejected) => ExecutionStatus::Rejected,
        Some(S::Removed) => ExecutionStatus::Removed,
        Some(S::Canceled) => ExecutionStatus::Canceled,
        _ => ExecutionStatus::Unknown,
    }
}

impl Cloud {
    /// The fleet's rotation jobs by id, and how many jobs of the account are
    /// IN_PROGRESS (all count towards the active-jobs limit).
    pub async fn read_rotation_jobs(
        &self,
        fleet: &str,
    ) -> Result<(BTreeMap<String, LiveJob>, usize), CloudError> {
        let listed = self.list_jobs().await?;
        let active = listed
            .iter()
            .filter(|j| j.status == JobStatus::InProgress)
            .count();
        let prefix = job_prefix(fleet);
        let ours: Vec<Listed> = listed
            .into_iter()
            .filter(|j| j.id.starts_with(&prefix) && j.status != JobStatus::DeletionInProgress)
            .collect();
        let jobs: Vec<Option<LiveJob>> = stream::iter(ours)
            .map(|job| self.read_job(fleet, job))
            .buffer_unordered(READ_CONCURRENCY)
            .try_collect()
            .await?;
        let jobs = jobs
            .into_iter()
            .flatten()
            .map(|j| (j.id.clone(), j))
            .collect();
        Ok((jobs, active))
    }

    async fn list_jobs(&self) -> Result<Vec<Listed>, CloudError> {
        let mut out = Vec::new();
        let mut token = None;
        loop {
            let request = self.iot.list_jobs().set_next_token(token).max_results(250);
            let page = self
                .call(AwsOp::ListJobs, "", || request.clone().send())
                .await
                .map_err(|e| failed(AwsOp::ListJobs, "", e))?;
            for job in page.jobs() {
                let Some(id) = job.job_id() else { continue };
                out.push(Listed {
                    id: id.to_string(),
                    status: job_status(job.status()),
                    created_at: job.created_at().map(|d| d.secs()).unwrap_or(0),
                });
            }
            token = page.next_token().map(str::to_string);
            if token.is_none() {
                return Ok(out);
            }
        }
    }

    /// One job's document and executions; `None` when its document is not
    /// this fleet's rotation (a job that merely shares the prefix) or the
    /// job was deleted meanwhile.
    async fn read_job(&self, fleet: &str, job: Listed) -> Result<Option<LiveJob>, CloudError> {
        let Some(document) = self.job_document(&job.id).await? else {
            return Ok(None);
        };
        let Some(document) = Document::parse(&document, fleet) else {
            return Ok(None);
        };
        let executions = self.job_executions(&job.id).await?;
        Ok(Some(LiveJob {
            id: job.id,
            status: job.status,
            created_at: job.created_at,
            deliveries: document
                .devices
                .into_iter()
                .map(|(thing, entry)| (thing, entry.certificate_id))
                .collect(),
            executions,
        }))
    }

    async fn job_executions(
        &self,
        job_id: &str,
    ) -> Result<BTreeMap<String, LiveExecution>, CloudError> {
        let mut out = BTreeMap::new();
        let mut token = None;
        loop {
            let request = self
                .iot
                .list_job_executions_for_job()
                .job_id(job_id)
                .set_next_token(token)
                .max_results(250);
            let page = self
                .call(AwsOp::ListJobExecutionsForJob, job_id, || {
                    request.clone().send()
                })
                .await
                .map_err(|e| failed(AwsOp::ListJobExecutionsForJob, job_id, e))?;
            for summary in page.execution_summaries() {
                let Some(thing) = summary
                    .thing_arn()
                    .and_then(|arn| arn.split_once(":thing/"))
                else {
                    continue;
                };
                let execution = summary.job_execution_summary();
                out.insert(
                    thing.1.to_string(),
                    LiveExecution {
                        status: execution_status(execution.and_then(|e| e.status())),
                        queued_at: execution
                            .and_then(|e| e.queued_at())
                            .map(|d| d.secs())
                            .unwrap_or(0),
                    },
                );
            }
            token = page.next_token().map(str::to_string);
            if token.is_none() {
                return Ok(out);
            }
        }
    }
}
