//! Rotation by IoT job (`lifecycle.rotation.delivery: job`): where each
//! rotating device stands, the jobs that carry new certificates, and the
//! jobs nothing waits on any more. The old certificate retires only once the
//! device's execution is SUCCEEDED (apply re-checks that it names the new
//! certificate: ConfirmDelivery), or after `max_wait` when `on_timeout:
//! retire` says so.

use super::{Planner, date, field, short};
use crate::live::{ExecutionStatus, JobStatus, LiveCertificate, LiveExecution};
use crate::plan::{
    Action, Address, Change, Delivered, Delivery, Operation, Phase, Reason, ReasonCode, RotationJob,
};
use crate::rotation_job::{KeyLocation, MAX_ACTIVE_JOBS, devices_per_job, job_id};
use crate::spec::{DeviceKey, DeviceSpec, OnTimeout, Output};

/// DeleteJob: "Only 10 jobs may have status DELETION_IN_PROGRESS at the
/// same time, or a LimitExceededException will occur" (IoT API reference).
const DELETIONS_PER_PLAN: usize = 10;

/// Where a device's rotation stands (the plan's rotation progress).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// Its new certificate is (or is being) registered and not yet delivered.
    Issued,
    /// A job carries it; the device has not answered yet.
    Delivered,
    /// The device reported SUCCEEDED: the old certificate retires.
    Confirmed,
    /// The execution ended FAILED, REJECTED, TIMED_OUT, CANCELED or
    /// REMOVED: the old certificate stays, the certificate is delivered again.
    Failed,
    /// No answer within `max_wait`: `on_timeout` decided.
    TimedOut,
}

/// One device's rotation, as the plan shows it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DeviceRotation {
    pub stage: Stage,
    /// The new certificate (absent while this plan issues it).
    pub certificate_id: Option<String>,
    pub job_id: Option<String>,
    /// The execution's status, once there is one.
    pub execution: Option<ExecutionStatus>,
}

/// What the planner keeps while it walks the devices.
#[derive(Default)]
pub(in crate::plan) struct Deliveries {
    pub(in crate::plan) pending: Vec<Delivery>,
    pub(in crate::plan) devices: std::collections::BTreeMap<String, DeviceRotation>,
}

impl Planner<'_> {
    pub(super) fn delivers_by_job(&self) -> bool {
        self.spec.lifecycle.rotation.delivery == crate::spec::Delivery::Job
    }

    /// Where the device finds the key of a certificate for `public_key_sha256`.
    fn key_location(&self, device: &DeviceSpec, public_key_sha256: &str) -> KeyLocation {
        match (&device.key, &self.spec.output) {
            (DeviceKey::Generated, Output::SecretsManager { .. }) => KeyLocation::SecretsManager {
                secret_id: crate::spec::secret_name(self.fleet(), &device.name),
            },
            (DeviceKey::Generated, Output::Ssm { .. }) => KeyLocation::Ssm {
                parameter_name: crate::spec::parameter_name(self.fleet(), &device.name),
            },
            _ => KeyLocation::Device {
                public_key_sha256: public_key_sha256.to_string(),
            },
        }
    }

    /// A certificate this plan issues to a rotating device: delivered by the
    /// delivery phase once the devices phase registered it.
    pub(super) fn deliver_new(&mut self, device: &DeviceSpec, operations: &mut Vec<Operation>) {
        operations.push(Operation::StageDelivery {
            device: device.name.clone(),
        });
        let public_key = match &device.key {
            DeviceKey::Csr(csr) => crate::pki::cert::spki_sha256(&csr.public_key_der),
            _ => String::new(),
        };
        let key = self.key_location(device, &public_key);
        self.deliveries.pending.push(Delivery {
            thing: device.name.clone(),
            certificate: Delivered::RegisteredFor {
                device: device.name.clone(),
            },
            key,
        });
        self.deliveries.devices.insert(
            device.name.clone(),
            DeviceRotation {
                stage: Stage::Issued,
                certificate_id: None,
                job_id: None,
                execution: None,
            },
        );
    }

    /// Deliver `cert`, registered before, in this plan's delivery phase.
    fn queue_existing(&mut self, device: &DeviceSpec, cert: &LiveCertificate) {
        let key = self.key_location(device, &cert.public_key_sha256);
        self.deliveries.pending.push(Delivery {
            thing: device.name.clone(),
            certificate: Delivered::Existing {
                id: cert.id.clone(),
            },
            key,
        });
    }

    /// The latest execution that delivers `cert` to `device`.
    ///
    /// A job still rolling out has not created every execution yet (it
    /// notifies at most `maximumPerMinute` things a minute: "How job
    /// configurations work", jobExecutionsRolloutConfig), so a device its
    /// document names counts as QUEUED since the job's creation; once the
    /// job has ended, a device without an execution was never reached.
    fn delivery_of(&self, device: &str, cert: &str) -> Option<(&str, LiveExecution)> {
        self.live
            .jobs
            .values()
            .filter(|job| job.deliveries.get(device).map(String::as_str) == Some(cert))
            .filter_map(|job| {
                let rolling_out =
                    matches!(job.status, JobStatus::InProgress | JobStatus::Scheduled).then_some(
                        LiveExecution {
                            status: ExecutionStatus::Queued,
                            queued_at: job.created_at,
                        },
                    );
                let execution = job.executions.get(device).copied().or(rolling_out)?;
                Some((job.id.as_str(), execution))
            })
            .max_by_key(|(id, e)| (e.queued_at, *id))
    }

    /// The device has its new certificate `cert` and older ACTIVE ones:
    /// whether they may retire now (and, when confirmed, the job to check).
    pub(super) fn rotation_state(
        &mut self,
        device: &DeviceSpec,
        cert: &LiveCertificate,
    ) -> RetireDecision {
        let name = device.name.as_str();
        let delivery = self
            .delivery_of(name, &cert.id)
            .map(|(j, e)| (j.to_string(), e));
        let rotation = self.spec.lifecycle.rotation;
        let now = self.options.now;
        let (stage, decision) = match &delivery {
            None => {
                self.queue_existing(device, cert);
                (Stage::Issued, RetireDecision::Keep)
            }
            Some((job, e)) if e.status == ExecutionStatus::Succeeded => (
                Stage::Confirmed,
                RetireDecision::Confirmed {
                    job_id: job.clone(),
                },
            ),
            Some((_, e)) if e.status.is_pending() => {
                let deadline = e.queued_at + rotation.max_wait.as_secs() as i64;
                if now < deadline {
                    (Stage::Delivered, RetireDecision::Keep)
                } else {
                    self.warnings.push(format!(
                        "device {name}: no confirmation of certificate {} since {} (max_wait {}); on_timeout: {}",
                        short(&cert.id),
                        date(e.queued_at),
                        rotation.max_wait,
                        crate::spec::types::Named::spelling(rotation.on_timeout),
                    ));
                    let decision = match rotation.on_timeout {
                        OnTimeout::Keep => RetireDecision::Keep,
                        OnTimeout::Retire => RetireDecision::TimedOut,
                    };
                    (Stage::TimedOut, decision)
                }
            }
            Some(_) => {
                self.queue_existing(device, cert);
                (Stage::Failed, RetireDecision::Keep)
            }
        };
        self.deliveries.devices.insert(
            name.to_string(),
            DeviceRotation {
                stage,
                certificate_id: Some(cert.id.clone()),
                job_id: delivery.as_ref().map(|(j, _)| j.clone()),
                execution: delivery.map(|(_, e)| e.status),
            },
        );
        decision
    }

    /// The delivery phase: the pending deliveries in jobs of at most
    /// `devices_per_job`, as many jobs as the account's active-jobs limit
    /// leaves room for; the rest wait for a later plan.
    pub(super) fn plan_delivery_jobs(&mut self) {
        let pending = std::mem::take(&mut self.deliveries.pending);
        if pending.is_empty() {
            return;
        }
        let ca_pem = self
            .live
            .ca
            .as_ref()
            .and_then(|ca| ca.certificate_pem.as_ref())
            .map_or(1_000, String::len);
        let per_job = devices_per_job(ca_pem);
        let room = MAX_ACTIVE_JOBS.saturating_sub(self.live.active_jobs);
        let chunks: Vec<&[Delivery]> = pending.chunks(per_job).collect();
        let waiting: usize = chunks.iter().skip(room).map(|c| c.len()).sum();
        if waiting > 0 {
            self.warnings.push(format!(
                "{waiting} devices wait to be delivered: the account has {} of IoT's {MAX_ACTIVE_JOBS} active jobs; a later plan delivers them",
                self.live.active_jobs
            ));
        }
        let rotation = self.spec.lifecycle.rotation;
        for chunk in chunks.into_iter().take(room) {
            let seed: Vec<String> = chunk
                .iter()
                .map(|d| format!("{}={:?}", d.thing, d.certificate))
                .chain([self.options.now.to_string()])
                .collect();
            let job_id = job_id(self.fleet(), &seed.join(","));
            let things: Vec<&str> = chunk.iter().map(|d| d.thing.as_str()).collect();
            self.push(Change {
                address: Address::RotationJob(job_id.clone()),
                device: None,
                action: Action::Create,
                phase: Phase::Delivery,
                reason: Reason::new(
                    ReasonCode::CertificateUndelivered,
                    format!(
                        "{} rotated devices need their new certificate: {}",
                        chunk.len(),
                        things.join(", ")
                    ),
                ),
                details: vec![
                    field("devices", None, Some(chunk.len().to_string())),
                    field(
                        "rollout",
                        None,
                        Some(format!(
                            "{}/min, abort at {}% failed after {}, in-progress timeout {}",
                            rotation.maximum_per_minute,
                            rotation.abort_failed_percent,
                            rotation.abort_min_executed,
                            rotation.in_progress_timeout
                        )),
                    ),
                ],
                operations: vec![Operation::CreateRotationJob(RotationJob {
                    job_id,
                    devices: chunk.to_vec(),
                    maximum_per_minute: rotation.maximum_per_minute,
                    abort_failed_hundredths: (rotation.abort_failed_percent * 100.0).round() as u32,
                    abort_min_executed: rotation.abort_min_executed,
                    in_progress_timeout_minutes: (rotation.in_progress_timeout.as_secs() / 60)
                        as u32,
                })],
            });
        }
    }

    /// Finished jobs (no execution pending) that no open rotation still
    /// reads are deleted, ten a plan.
    pub(super) fn plan_finished_jobs(&mut self) {
        let open = |thing: &str, cert: &str| {
            self.deliveries
                .devices
                .get(thing)
                .is_some_and(|r| r.certificate_id.as_deref() == Some(cert))
        };
        let finished: Vec<String> = self
            .live
            .jobs
            .values()
            .filter(|job| matches!(job.status, JobStatus::Completed | JobStatus::Canceled))
            .filter(|job| job.executions.values().all(|e| !e.status.is_pending()))
            .filter(|job| !job.deliveries.iter().any(|(thing, cert)| open(thing, cert)))
            .map(|job| job.id.clone())
            .take(DELETIONS_PER_PLAN)
            .collect();
        for job_id in finished {
            self.push(Change {
                address: Address::RotationJob(job_id.clone()),
                device: None,
                action: Action::Delete,
                phase: Phase::Cleanup,
                reason: Reason::new(
                    ReasonCode::RotationJobFinished,
                    format!("rotation job {job_id} has finished and no rotation waits on it"),
                ),
                details: Vec::new(),
                operations: vec![Operation::DeleteRotationJob { job_id }],
            });
        }
    }
}

/// Whether a rotating device's older certificates retire in this plan.
pub(super) enum RetireDecision {
    Keep,
    /// The device confirmed through `job_id`: apply checks its report first.
    Confirmed {
        job_id: String,
    },
    /// `max_wait` passed and `on_timeout: retire`.
    TimedOut,
}
