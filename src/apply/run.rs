//! The executor. It never re-plans, picks ids or reorders: it runs the
//! operations it is given, resolving only "the certificate issued earlier in
//! this change" and "the fleet's CA" to the values AWS returned.

use std::collections::BTreeMap;
use std::sync::Mutex;

use futures_util::{StreamExt, stream};
use tokio::sync::OnceCell;

use super::context::{CaState, ChangeState, Context};
use super::operation::run_operation;
use super::{ApplyReport, ChangeReport, Outcome};
use crate::cloud::{Cloud, CloudError};
use crate::live::LiveCa;
use crate::plan::{Change, Phase, Plan};
use crate::spec::Spec;

/// Settings for one apply.
#[derive(Debug, Clone)]
pub struct ApplyOptions {
    /// How many devices are worked on at once.
    pub concurrency: usize,
}

impl Default for ApplyOptions {
    fn default() -> Self {
        Self { concurrency: 16 }
    }
}

/// Told how an apply advances (e.g. progress bars). Every method has a
/// do-nothing default.
pub trait Progress: Sync {
    /// A phase starts with this many changes.
    fn phase_started(&self, _phase: Phase, _changes: usize) {}
    /// One change of `phase` finished.
    fn change_finished(&self, _phase: Phase, _report: &ChangeReport) {}
    /// A phase is over.
    fn phase_finished(&self, _phase: Phase) {}
}

/// No progress reporting.
pub struct NoProgress;

impl Progress for NoProgress {}

/// A failure inside one change.
struct Failure {
    error: CloudError,
    completed: usize,
}

/// Run `plan`. `live_ca` is the fleet CA as read when planning (None when
/// the plan creates it). `on_done` is told about each finished change.
pub async fn execute(
    plan: &Plan,
    spec: &Spec,
    cloud: &Cloud,
    live_ca: Option<&LiveCa>,
    options: &ApplyOptions,
    on_done: &(dyn Fn(&ChangeReport) + Sync),
) -> ApplyReport {
    execute_with_progress(plan, spec, cloud, live_ca, options, on_done, &NoProgress).await
}

/// [`execute`], telling `progress` how it advances.
///
/// Within a phase, devices are worked on `options.concurrency` at a time,
/// each device's changes in order. Every AWS call waits for its own
/// operation's rate limit (cloud/pacing.rs), so devices pipeline: while one
/// waits for RegisterCertificate (the slowest quota), others are issuing or
/// attaching, and the slowest operation's budget is used without gaps.
pub async fn execute_with_progress(
    plan: &Plan,
    spec: &Spec,
    cloud: &Cloud,
    live_ca: Option<&LiveCa>,
    options: &ApplyOptions,
    on_done: &(dyn Fn(&ChangeReport) + Sync),
    progress: &dyn Progress,
) -> ApplyReport {
    let ca = CaState {
        arn: live_ca.map(|ca| ca.arn.clone()),
        pem: live_ca.and_then(|ca| ca.certificate_pem.clone()),
        signing_algorithm: live_ca
            .map(|ca| ca.signing_algorithm.clone())
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| match &spec.ca {
                crate::spec::CaSpec::Create {
                    signing_algorithm, ..
                } => signing_algorithm.aws_name().to_string(),
                crate::spec::CaSpec::Adopt { .. } => "SHA256WITHECDSA".to_string(),
            }),
    };
    let context = Context {
        cloud,
        spec,
        ca: Mutex::new(ca),
        endpoint: OnceCell::new(),
        on_done,
    };
    let mut reports: BTreeMap<usize, ChangeReport> = BTreeMap::new();
    // A failed CA or CA-registration change leaves nothing to build on.
    let mut blocked: Option<String> = None;
    for phase in [
        Phase::Ca,
        Phase::CaRegistration,
        Phase::Policies,
        Phase::Devices,
        Phase::Retire,
        Phase::Cleanup,
    ] {
        // Group this phase's changes by device (None: one group per change).
        let mut groups: BTreeMap<String, Vec<(usize, &Change)>> = BTreeMap::new();
        for (index, change) in plan
            .changes
            .iter()
            .enumerate()
            .filter(|(_, c)| c.phase == phase)
        {
            let key = change
                .device
                .clone()
                .map(|d| format!("d:{d}"))
                .unwrap_or_else(|| format!("c:{index:08}"));
            groups.entry(key).or_default().push((index, change));
        }
        if groups.is_empty() {
            continue;
        }
        progress.phase_started(phase, groups.values().map(Vec::len).sum());
        let blocked_now = blocked.clone();
        let context = &context;
        let results: Vec<Vec<(usize, ChangeReport)>> = stream::iter(groups.into_values())
            .map(|group| {
                let blocked_now = blocked_now.clone();
                async move {
                    let mut out = Vec::new();
                    let mut failed: Option<String> = blocked_now;
                    for (index, change) in group {
                        let outcome = match &failed {
                            Some(because) => Outcome::Skipped {
                                because: because.clone(),
                            },
                            None => match run_change(context, change).await {
                                Ok(()) => Outcome::Succeeded,
                                Err(failure) => {
                                    failed = Some(format!("{} failed", change.address));
                                    Outcome::Failed {
                                        operation: failure.error.operation.to_string(),
                                        code: failure.error.code.clone(),
                                        message: format!(
                                            "{}: {}",
                                            failure.error.resource, failure.error.message
                                        ),
                                        completed: failure.completed,
                                    }
                                }
                            },
                        };
                        let report = ChangeReport {
                            address: change.address.clone(),
                            action: change.action,
                            outcome,
                        };
                        (context.on_done)(&report);
                        progress.change_finished(phase, &report);
                        out.push((index, report));
                    }
                    out
                }
            })
            .buffer_unordered(if matches!(phase, Phase::Ca | Phase::CaRegistration) {
                1
            } else {
                options.concurrency.max(1)
            })
            .collect()
            .await;
        progress.phase_finished(phase);
        for (index, report) in results.into_iter().flatten() {
            if matches!(phase, Phase::Ca | Phase::CaRegistration)
                && !matches!(report.outcome, Outcome::Succeeded)
            {
                blocked.get_or_insert_with(|| format!("{} did not succeed", report.address));
            }
            reports.insert(index, report);
        }
    }
    ApplyReport {
        changes: reports.into_values().collect(),
    }
}

async fn run_change(context: &Context<'_>, change: &Change) -> Result<(), Failure> {
    let mut state = ChangeState::default();
    for (completed, operation) in change.operations.iter().enumerate() {
        run_operation(context, &mut state, operation)
            .await
            .map_err(|error| Failure { error, completed })?;
    }
    Ok(())
}
