//! Rotation by IoT job, on hand-made live states: issued, delivered,
//! confirmed, failed, timed out, and the active-jobs limit.

use super::simulate::{World, simulate};
use super::{Action, Delivered, Operation, Phase, Plan, PlanOptions, ReasonCode, Stage, diff};
use crate::live::{ExecutionStatus, JobStatus, LiveState};
use crate::spec::Spec;
use crate::testkit::{DAY, FleetBuilder, LiveBuilder};

const NOW: i64 = 1_800_000_000;

fn spec(lifecycle_rotation: &str, devices: &[&str]) -> Spec {
    let mut fleet = FleetBuilder::new("unit")
        .default("policies: [p]")
        .policy("p", crate::testkit::CONNECT_STATEMENT)
        .output("secrets_manager: {}")
        .lifecycle(&format!("rotation: {lifecycle_rotation}"));
    for d in devices {
        fleet = fleet.device(d);
    }
    fleet.load(tempfile::tempdir().unwrap().path())
}

fn plan(spec: &Spec, live: &LiveState, now: i64) -> Plan {
    let options = PlanOptions {
        now,
        ..PlanOptions::default()
    };
    diff(spec, live, &options).unwrap()
}

/// A fleet due for rotation (issued 8 days ago, 10-day validity, renewed 3
/// days ahead), planned and applied in the simulator.
fn rotated(spec: &Spec, devices: usize) -> (Plan, LiveState) {
    let live = LiveBuilder::steady(spec, NOW - 8 * DAY);
    let first = plan(spec, &live, NOW);
    let world = World {
        live,
        pending_keys: Default::default(),
        staged: Default::default(),
    };
    let after = simulate(&world, &first).live;
    assert_eq!(after.jobs.len(), devices.div_ceil(19).max(1));
    (first, after)
}

fn set_executions(live: &mut LiveState, status: ExecutionStatus) {
    for job in live.jobs.values_mut() {
        for e in job.executions.values_mut() {
            e.status = status;
        }
    }
}

fn retirements(plan: &Plan) -> Vec<&super::Change> {
    plan.changes
        .iter()
        .filter(|c| c.phase == Phase::Retire)
        .collect()
}

#[test]
fn a_rotation_is_issued_and_delivered_in_one_apply_and_nothing_retires() {
    let spec = spec("{delivery: job}", &["a", "b"]);
    let (first, _) = rotated(&spec, 2);
    let device = first
        .changes
        .iter()
        .find(|c| c.action == Action::CreateThenRetire)
        .unwrap();
    assert!(matches!(
        device.operations.last(),
        Some(Operation::RecordFacts(_)) | Some(Operation::StageDelivery { .. })
    ));
    assert!(
        device
            .operations
            .iter()
            .any(|o| matches!(o, Operation::StageDelivery { device } if device == "a"))
    );
    let jobs: Vec<_> = first
        .changes
        .iter()
        .filter(|c| c.phase == Phase::Delivery)
        .collect();
    assert_eq!(jobs.len(), 1);
    let Operation::CreateRotationJob(job) = &jobs[0].operations[0] else {
        panic!()
    };
    assert_eq!(job.devices.len(), 2);
    assert!(
        matches!(&job.devices[0].certificate, Delivered::RegisteredFor { device } if device == "a")
    );
    assert!(
        matches!(&job.devices[0].key, crate::rotation_job::KeyLocation::SecretsManager { secret_id } if secret_id == "fleetcert/unit/a")
    );
    assert!(retirements(&first).is_empty());
    assert_eq!(first.rotation["a"].stage, Stage::Issued);
}

#[test]
fn a_delivered_rotation_waits_and_converges_while_the_device_is_silent() {
    let spec = FleetBuilder::new("unit")
        .default("policies: [p]")
        .policy("p", crate::testkit::CONNECT_STATEMENT)
        .output("secrets_manager: {}")
        .lifecycle("rotation: {delivery: job}")
        .lifecycle("rotation_overlap: 1d")
        .device("a")
        .load(tempfile::tempdir().unwrap().path());
    let (_, live) = rotated(&spec, 1);
    // Past rotation_overlap: without confirmation nothing retires.
    let waiting = plan(&spec, &live, NOW + 2 * DAY);
    assert!(waiting.is_empty(), "{:?}", waiting.changes);
    assert_eq!(waiting.rotation["a"].stage, Stage::Delivered);
    assert_eq!(
        waiting.rotation["a"].execution,
        Some(ExecutionStatus::Queued)
    );
}

#[test]
fn a_confirmed_device_retires_its_old_certificate_after_apply_checks_the_report() {
    let spec = spec("{delivery: job}", &["a"]);
    let (_, mut live) = rotated(&spec, 1);
    set_executions(&mut live, ExecutionStatus::Succeeded);
    let confirmed = plan(&spec, &live, NOW + 3600);
    let retire = retirements(&confirmed);
    assert_eq!(retire.len(), 1);
    assert_eq!(retire[0].reason.code, ReasonCode::RotationConfirmed);
    let job_id = live.jobs.keys().next().unwrap().clone();
    let new_id = confirmed.rotation["a"].certificate_id.clone().unwrap();
    assert_eq!(
        retire[0].operations[0],
        Operation::ConfirmDelivery {
            job_id: job_id.clone(),
            thing: "a".into(),
            certificate_id: new_id
        }
    );
    assert_eq!(confirmed.rotation["a"].stage, Stage::Confirmed);

    // Once retired and the job finished, the job is deleted, and then nothing is left to do.
    let world = World {
        live,
        pending_keys: Default::default(),
        staged: Default::default(),
    };
    let mut after = simulate(&world, &confirmed).live;
    after.jobs.get_mut(&job_id).unwrap().status = JobStatus::Completed;
    let cleanup = plan(&spec, &after, NOW + 7200);
    assert_eq!(cleanup.changes.len(), 1, "{:?}", cleanup.changes);
    assert_eq!(
        cleanup.changes[0].operations,
        [Operation::DeleteRotationJob { job_id }]
    );
    assert!(cleanup.rotation.is_empty());
}

#[test]
fn a_failed_execution_keeps_the_old_certificate_and_delivers_again() {
    let spec = spec("{delivery: job}", &["a"]);
    let (_, mut live) = rotated(&spec, 1);
    for status in [
        ExecutionStatus::Failed,
        ExecutionStatus::Rejected,
        ExecutionStatus::TimedOut,
        ExecutionStatus::Canceled,
    ] {
        set_executions(&mut live, status);
        let failed = plan(&spec, &live, NOW + 3600);
        assert!(retirements(&failed).is_empty(), "{status}");
        assert_eq!(failed.rotation["a"].stage, Stage::Failed);
        let again: Vec<_> = failed
            .changes
            .iter()
            .filter(|c| c.phase == Phase::Delivery)
            .collect();
        assert_eq!(again.len(), 1, "{status}");
        let Operation::CreateRotationJob(job) = &again[0].operations[0] else {
            panic!()
        };
        assert!(!live.jobs.contains_key(&job.job_id), "a new job id");
        assert!(
            matches!(&job.devices[0].certificate, Delivered::Existing { id } if Some(id) == failed.rotation["a"].certificate_id.as_ref())
        );
    }
}

#[test]
fn after_max_wait_on_timeout_decides() {
    let (_, live) = rotated(&spec("{delivery: job}", &["a"]), 1);
    let keep = spec("{delivery: job, max_wait: 1d, on_timeout: keep}", &["a"]);
    let kept = plan(&keep, &live, NOW + 2 * DAY);
    assert!(kept.is_empty(), "{:?}", kept.changes);
    assert_eq!(kept.rotation["a"].stage, Stage::TimedOut);
    assert!(
        kept.warnings
            .iter()
            .any(|w| w.contains("no confirmation") && w.contains("on_timeout: keep")),
        "{:?}",
        kept.warnings
    );
    let before = plan(&keep, &live, NOW + DAY / 2);
    assert_eq!(before.rotation["a"].stage, Stage::Delivered);

    let retire = spec("{delivery: job, max_wait: 1d, on_timeout: retire}", &["a"]);
    let retired = plan(&retire, &live, NOW + 2 * DAY);
    let changes = retirements(&retired);
    assert_eq!(changes.len(), 1);
    assert_eq!(changes[0].reason.code, ReasonCode::RotationTimedOut);
    assert!(
        !changes[0]
            .operations
            .iter()
            .any(|o| matches!(o, Operation::ConfirmDelivery { .. }))
    );
}

#[test]
fn deliveries_wait_when_the_account_has_no_room_for_another_job() {
    let spec = spec("{delivery: job}", &["a"]);
    let mut live = LiveBuilder::steady(&spec, NOW - 8 * DAY);
    live.active_jobs = crate::rotation_job::MAX_ACTIVE_JOBS;
    let full = plan(&spec, &live, NOW);
    assert!(full.changes.iter().all(|c| c.phase != Phase::Delivery));
    assert!(
        full.warnings
            .iter()
            .any(|w| w.contains("wait to be delivered")),
        "{:?}",
        full.warnings
    );
}

#[test]
fn many_devices_share_jobs_within_the_target_and_document_limits() {
    let names: Vec<String> = (0..45).map(|i| format!("d{i:02}")).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let spec = spec("{delivery: job}", &refs);
    let (first, _) = rotated(&spec, 45);
    let sizes: Vec<usize> = first
        .changes
        .iter()
        .filter_map(|c| match c.operations.first() {
            Some(Operation::CreateRotationJob(job)) => Some(job.devices.len()),
            _ => None,
        })
        .collect();
    assert_eq!(sizes.iter().sum::<usize>(), 45);
    assert!(sizes.iter().all(|n| *n <= crate::rotation_job::MAX_TARGETS));
}

#[test]
fn without_job_delivery_nothing_changes() {
    let spec = FleetBuilder::new("unit")
        .default("policies: [p]")
        .policy("p", crate::testkit::CONNECT_STATEMENT)
        .device("a")
        .load(tempfile::tempdir().unwrap().path());
    let live = LiveBuilder::steady(&spec, NOW - 8 * DAY);
    let first = plan(&spec, &live, NOW);
    assert!(first.rotation.is_empty());
    assert!(first.changes.iter().all(|c| c.phase != Phase::Delivery));
    assert!(
        first
            .changes
            .iter()
            .flat_map(|c| &c.operations)
            .all(|o| !matches!(o, Operation::StageDelivery { .. }))
    );
}

#[test]
fn a_device_its_job_has_not_reached_yet_counts_as_delivered() {
    let spec = spec("{delivery: job}", &["a"]);
    let (_, mut live) = rotated(&spec, 1);
    // AWS creates executions as the rollout reaches each thing.
    for job in live.jobs.values_mut() {
        job.executions.clear();
    }
    let rolling = plan(&spec, &live, NOW + 60);
    assert!(rolling.is_empty(), "{:?}", rolling.changes);
    assert_eq!(rolling.rotation["a"].stage, Stage::Delivered);
    // A job that ended without reaching the device delivers again.
    for job in live.jobs.values_mut() {
        job.status = JobStatus::Canceled;
    }
    let ended = plan(&spec, &live, NOW + 60);
    assert!(
        ended.changes.iter().any(|c| c.phase == Phase::Delivery),
        "{:?}",
        ended.changes
    );
}
