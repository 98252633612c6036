//! The executor. It never re-plans, picks ids or reorders: it runs the
//! operations it is given, filling only the placeholders the plan names
//! ("the certificate issued earlier in this change", "the CA this plan
//! creates") with the values AWS returned.

use std::collections::BTreeMap;

use futures_util::{StreamExt, stream};

use super::context::{ChangeState, Context};
use super::ops::run_operation;
use super::{ApplyError, ApplyReport, ChangeReport, Outcome};
use crate::cloud::Cloud;
use crate::plan::{Change, Phase, Plan};

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
    /// A change waits for AWS to finish something (`settle.rs`).
    fn waiting(&self, _wait: crate::apply::Wait) {}
}

/// No progress reporting.
pub struct NoProgress;

impl Progress for NoProgress {}

/// A failure inside one change.
struct Failure {
    error: ApplyError,
    completed: usize,
}

const PHASES: [Phase; 7] = [
    Phase::Ca,
    Phase::CaRegistration,
    Phase::Policies,
    Phase::Devices,
    Phase::Delivery,
    Phase::Retire,
    Phase::Cleanup,
];

/// Run `plan`. `on_done` is told about each finished change.
pub async fn execute(
    plan: &Plan,
    cloud: &Cloud,
    options: &ApplyOptions,
    on_done: &(dyn Fn(&ChangeReport) + Sync),
) -> ApplyReport {
    execute_with_progress(plan, cloud, options, on_done, &NoProgress).await
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
    cloud: &Cloud,
    options: &ApplyOptions,
    on_done: &(dyn Fn(&ChangeReport) + Sync),
    progress: &dyn Progress,
) -> ApplyReport {
    let context = Context::new(plan, cloud, progress);
    let mut reports: BTreeMap<usize, ChangeReport> = BTreeMap::new();
    // A failed CA or CA-registration change leaves nothing to build on.
    let mut blocked: Option<String> = None;
    for phase in PHASES {
        let groups = groups(plan, phase);
        if groups.is_empty() {
            continue;
        }
        progress.phase_started(phase, groups.iter().map(Vec::len).sum());
        // The CA comes one change at a time; devices in parallel.
        let concurrency = match phase {
            Phase::Ca | Phase::CaRegistration => 1,
            _ => options.concurrency.max(1),
        };
        let done = |report: &ChangeReport| {
            on_done(report);
            progress.change_finished(phase, report);
        };
        let results: Vec<Vec<(usize, ChangeReport)>> = stream::iter(groups)
            .map(|group| run_group(&context, group, blocked.clone(), &done))
            .buffer_unordered(concurrency)
            .collect()
            .await;
        progress.phase_finished(phase);
        for (index, report) in results.into_iter().flatten() {
            if matches!(phase, Phase::Ca | Phase::CaRegistration)
                && report.outcome != Outcome::Succeeded
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

/// Changes with their index in the plan.
type Group<'p> = Vec<(usize, &'p Change)>;

/// This phase's changes grouped by device (one group per change that
/// belongs to no device), each with its index in the plan.
fn groups(plan: &Plan, phase: Phase) -> Vec<Group<'_>> {
    let mut by_device: BTreeMap<(Option<&str>, usize), Group<'_>> = BTreeMap::new();
    for (index, change) in plan.changes.iter().enumerate() {
        if change.phase != phase {
            continue;
        }
        let key = match change.device.as_deref() {
            Some(device) => (Some(device), 0),
            None => (None, index),
        };
        by_device.entry(key).or_default().push((index, change));
    }
    by_device.into_values().collect()
}

/// One device's changes of a phase, in order; after a failure the rest are
/// skipped.
async fn run_group(
    context: &Context<'_>,
    group: Group<'_>,
    blocked: Option<String>,
    done: &(dyn Fn(&ChangeReport) + Sync),
) -> Vec<(usize, ChangeReport)> {
    let mut out = Vec::new();
    let mut failed: Option<String> = blocked;
    for (index, change) in group {
        let outcome = match &failed {
            Some(because) => Outcome::Skipped {
                because: because.clone(),
            },
            None => match run_change(context, change).await {
                Ok(()) => Outcome::Succeeded,
                Err(failure) => {
                    failed = Some(format!("{} failed", change.address));
                    let (operation, code, message) = failure.error.parts();
                    Outcome::Failed {
                        operation,
                        code,
                        message,
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
        done(&report);
        out.push((index, report));
    }
    out
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
