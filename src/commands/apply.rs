//! `fleetcert apply`: take the fleet's lock, plan against the real clock,
//! show the plan, confirm, carry it out, report what succeeded, failed and
//! was skipped. `fleetcert apply PLAN` carries out a saved plan instead, and
//! refuses it when the spec or AWS moved since it was made.

use std::collections::BTreeSet;
use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::bail;

use crate::apply::{ApplyOptions, ApplyReport, ChangeReport};
use crate::cli::ApplyArgs;
use crate::cloud::Cloud;
use crate::exit::ExitStatus;
use crate::live::LiveState;
use crate::lock::{self, Lease};
use crate::plan::{Plan, PlanOptions, diff};
use crate::planfile;
use crate::printer::Printer;
use crate::render;
use crate::spec::Spec;

use super::common;

/// How many lines of "what changed" a stale-plan error shows.
const STALE_LINES: usize = 20;

pub fn apply(args: &ApplyArgs, printer: &Printer) -> anyhow::Result<ExitStatus> {
    match &args.plan {
        Some(path) => apply_saved(args, path, printer),
        None => apply_now(args, printer),
    }
}

fn lock_timeout(args: &ApplyArgs) -> Duration {
    Duration::from_secs(args.lock_timeout.as_secs())
}

/// Take the lock, run `work` while holding it, release it (recording the
/// spec's digest when `work` applied the whole spec successfully).
async fn locked(
    cloud: &Cloud,
    spec: &Spec,
    timeout: Duration,
    printer: &Printer,
    work: impl AsyncFnOnce(&Lease) -> anyhow::Result<(ExitStatus, bool)>,
) -> anyhow::Result<ExitStatus> {
    let lease = lock::acquire(cloud, &spec.fleet, timeout, |m| printer.info(m)).await?;
    let outcome = work(&lease).await;
    let applied = matches!(outcome, Ok((ExitStatus::Success, true)));
    let released = lease.release(applied.then_some(spec.digest.as_str())).await;
    match (outcome, released) {
        (Ok((status, _)), Ok(())) => Ok(status),
        (Ok(_), Err(e)) => Err(e.into()),
        (Err(e), Ok(())) => Err(e),
        (Err(e), Err(lock_error)) => {
            printer.error(&format!("error: {lock_error}"));
            Err(e)
        }
    }
}

/// Carry out `plan` after checking it against the live state; stop if the
/// lock is lost (printing what was done until then). Returns whether all of
/// it succeeded.
async fn run(
    plan: &Plan,
    cloud: &Cloud,
    live: &LiveState,
    args: &ApplyArgs,
    lease: &Lease,
    printer: &Printer,
) -> anyhow::Result<bool> {
    if let Err(violations) = crate::plan::check::check(plan, live) {
        let lines: Vec<String> = violations.iter().map(|v| format!("  - {v}")).collect();
        bail!(
            "refusing to apply: the plan breaks fleetcert's invariants; nothing was applied:\n{}",
            lines.join("\n")
        );
    }
    // Progress bars (or periodic lines off a terminal); change lines go
    // through them so the bars are not torn.
    let progress = crate::progress::ApplyProgress::new(printer.is_quiet());
    let done = std::sync::Mutex::new(Vec::new());
    let on_done = |report: &ChangeReport| {
        if !printer.is_quiet() {
            progress.println(&render::text::change_done(report));
        }
        done.lock().expect("reports").push(report.clone());
    };
    let options = ApplyOptions {
        concurrency: args.concurrency,
    };
    // Losing the lock means another apply may be running: stop at once (apply
    // is safe to re-run after any interruption) rather than interleave.
    let report = tokio::select! {
        report = crate::apply::execute_with_progress(plan, cloud, &options, &on_done, &progress) => report,
        lost = lease.lost() => {
            let finished = done.lock().expect("reports").clone();
            printer.out(&render::text::apply_report(&stopped(plan, finished)));
            return Err(lost.into());
        }
    };
    printer.out(&render::text::apply_report(&report));
    Ok(report.is_success())
}

/// The report of an apply stopped because its lock was lost: what finished,
/// and every other change as skipped (apply is safe to re-run).
fn stopped(plan: &Plan, finished: Vec<ChangeReport>) -> ApplyReport {
    let done: std::collections::BTreeSet<_> = finished.iter().map(|r| r.address.clone()).collect();
    let mut changes = finished;
    for change in plan.changes.iter().filter(|c| !done.contains(&c.address)) {
        changes.push(ChangeReport {
            address: change.address.clone(),
            action: change.action,
            outcome: crate::apply::Outcome::Skipped {
                because: "the fleet's lock was lost".into(),
            },
        });
    }
    ApplyReport { changes }
}

fn check_guard(plan: &Plan, args: &ApplyArgs) -> anyhow::Result<()> {
    if plan.exceeds_guard() && !args.allow_destructive {
        bail!(
            "refusing to apply: {}; check the spec and pass --allow-destructive if this is intended",
            plan.guard.join("; and ")
        );
    }
    Ok(())
}

fn apply_now(args: &ApplyArgs, printer: &Printer) -> anyhow::Result<ExitStatus> {
    let file = args
        .file
        .clone()
        .unwrap_or_else(|| PathBuf::from("fleet.yaml"));
    let spec = common::load_reviewed_spec(&file, printer)?;
    common::check_delivery(&spec, args.allow_undeliverable, printer)?;
    let replace: BTreeSet<String> = args.replace.iter().cloned().collect();
    if let Some(unknown) = replace.iter().find(|d| !spec.devices.contains_key(*d)) {
        bail!(
            "--replace {unknown}: no device of that name in {}",
            file.display()
        );
    }
    if !args.auto_approve && !std::io::stdin().is_terminal() {
        bail!(
            "refusing to apply without confirmation: standard input is not a terminal; pass --auto-approve"
        );
    }
    // Refuse a planted key or device directory before the lock (a write
    // to AWS); read again under the lock for the plan.
    common::check_output(&spec)?;
    let runtime = common::runtime()?;
    runtime.block_on(async {
        let cloud = common::connect(&args.aws, &spec)
            .await?
            .with_refresh(args.refresh.refresh());
        locked(&cloud, &spec, lock_timeout(args), printer, async |lease| {
            let live = common::read_live(&cloud, &spec).await?;
            // apply always plans against the real clock.
            let options = PlanOptions {
                now: jiff::Timestamp::now().as_second(),
                replace,
                pending_keys: common::pending_keys(&spec, &live)?,
            };
            let plan = diff(&spec, &live, &options)
                .map_err(|errors| common::plan_errors(errors, printer))?;
            printer.out(&render::text::plan(&plan, printer.color_stdout()));
            if plan.is_empty() {
                return Ok((ExitStatus::Success, true));
            }
            check_guard(&plan, args)?;
            if !args.auto_approve && !confirm()? {
                printer.error("Apply cancelled.");
                return Ok((ExitStatus::Failure, false));
            }
            Ok(finished(
                run(&plan, &cloud, &live, args, lease, printer).await?,
            ))
        })
        .await
    })
}

/// A saved plan is applied as reviewed, without asking again; it is refused
/// when the spec (any file it reads) or the live state it relied on changed.
fn apply_saved(args: &ApplyArgs, path: &Path, printer: &Printer) -> anyhow::Result<ExitStatus> {
    if !args.replace.is_empty() {
        bail!(
            "--replace cannot change a saved plan ({}); apply without a plan file, or make the plan again",
            path.display()
        );
    }
    let saved = planfile::read(path)?;
    let file = match &args.file {
        Some(file) => file.clone(),
        None => recorded_spec_path(path, &saved.spec.path)?,
    };
    let spec = common::load_reviewed_spec(&file, printer)?;
    common::check_delivery(&spec, args.allow_undeliverable, printer)?;
    // Refused before anything reaches AWS (the lock is a write): another
    // spec, a planted key or device directory.
    if spec.digest != saved.spec.digest {
        let changes = planfile::spec_changes(&saved.spec.files, &planfile::spec_files(&spec));
        bail!(stale(
            path,
            &format!(
                "the spec changed since the plan was made ({})",
                file.display()
            ),
            &changes
        ));
    }
    common::check_output(&spec)?;
    let runtime = common::runtime()?;
    runtime.block_on(async {
        // Read the way the plan was read, or the fingerprints cannot match.
        let cloud = common::connect(&args.aws, &spec)
            .await?
            .with_refresh(saved.refresh.refresh());
        // Checked once before the lock, so an edited or stale file changes
        // nothing in AWS, and again under it, so nothing moved in between.
        derive_saved(&cloud, &spec, &saved, path, printer).await?;
        locked(&cloud, &spec, lock_timeout(args), printer, async |lease| {
            let (plan, live) = derive_saved(&cloud, &spec, &saved, path, printer).await?;
            printer.out(&render::text::plan(&plan, printer.color_stdout()));
            if plan.is_empty() {
                return Ok((ExitStatus::Success, true));
            }
            check_guard(&plan, args)?;
            Ok(finished(
                run(&plan, &cloud, &live, args, lease, printer).await?,
            ))
        })
        .await
    })
}

/// The plan fleetcert derives now from `spec`, the live state and the saved
/// plan's own moment, with that live state; an error unless AWS is as the
/// plan file recorded and the derived plan equals the saved one. The file's
/// operations are not trusted (its checksum catches accidents, not
/// attackers): only what fleetcert derives is ever applied.
async fn derive_saved(
    cloud: &Cloud,
    spec: &Spec,
    saved: &planfile::PlanFile,
    path: &Path,
    printer: &Printer,
) -> anyhow::Result<(Plan, LiveState)> {
    let live = common::read_live(cloud, spec).await?;
    if live.fingerprint() != saved.live.fingerprint {
        let changes = planfile::live_changes(&saved.live.snapshot, &live);
        bail!(stale(path, "AWS changed since the plan was made", &changes));
    }
    let options = PlanOptions {
        now: saved.plan.at,
        replace: BTreeSet::new(),
        pending_keys: common::pending_keys(spec, &live)?,
    };
    let plan =
        diff(spec, &live, &options).map_err(|errors| common::plan_errors(errors, printer))?;
    if let Some(difference) = plan_difference(&saved.plan, &plan) {
        bail!(
            "saved plan {} is not the plan fleetcert derives from the spec and AWS: {difference}; \
             nothing was applied. Make and review a new plan: fleetcert plan --out {}",
            path.display(),
            path.display()
        );
    }
    Ok((plan, live))
}

/// The spec a plan file names, used when `-f` is not given: only a relative
/// path inside the working directory (a plan file cannot send fleetcert to
/// read `/proc/self/environ` or `../elsewhere`).
fn recorded_spec_path(plan: &Path, recorded: &Path) -> anyhow::Result<PathBuf> {
    use std::path::Component;
    let inside = recorded
        .components()
        .all(|c| matches!(c, Component::Normal(_) | Component::CurDir));
    if !inside || recorded.as_os_str().is_empty() {
        bail!(
            "plan file {} names the spec {}, which is not a relative path inside this directory; \
             name the spec with -f",
            plan.display(),
            recorded.display()
        );
    }
    Ok(recorded.to_path_buf())
}

/// The first way `derived` differs from `saved`, in words; `None` if equal.
fn plan_difference(saved: &Plan, derived: &Plan) -> Option<String> {
    if saved == derived {
        return None;
    }
    for (i, (s, d)) in saved.changes.iter().zip(&derived.changes).enumerate() {
        if s != d {
            let what = if s.address != d.address || s.action != d.action {
                format!(
                    "the file has {} {:?} where fleetcert plans {} {:?}",
                    s.address, s.action, d.address, d.action
                )
            } else if s.operations != d.operations {
                format!(
                    "the operations of {} differ from what fleetcert plans",
                    s.address
                )
            } else {
                format!("{} differs in its reason or details", s.address)
            };
            return Some(format!("change {} of the file: {what}", i + 1));
        }
    }
    Some(if saved.changes.len() != derived.changes.len() {
        format!(
            "the file has {} changes, fleetcert plans {}",
            saved.changes.len(),
            derived.changes.len()
        )
    } else {
        "its fleet, CA, warnings or guard differ".to_string()
    })
}

/// The exit status of an apply that ran, and whether it went through in full.
fn finished(ok: bool) -> (ExitStatus, bool) {
    let status = if ok {
        ExitStatus::Success
    } else {
        ExitStatus::Failure
    };
    (status, ok)
}

fn stale(path: &Path, why: &str, changes: &[impl std::fmt::Display]) -> String {
    let mut text = format!(
        "saved plan {} is stale: {why}; nothing was applied.",
        path.display()
    );
    for line in changes.iter().take(STALE_LINES) {
        text.push_str(&format!("\n  - {line}"));
    }
    if changes.len() > STALE_LINES {
        text.push_str(&format!("\n  ... and {} more", changes.len() - STALE_LINES));
    }
    text.push_str(&format!(
        "\nMake and review a new plan: fleetcert plan --out {}",
        path.display()
    ));
    text
}

fn confirm() -> anyhow::Result<bool> {
    let mut stderr = std::io::stderr();
    write!(
        stderr,
        "\nDo you want to perform these actions? Only 'yes' will be accepted: "
    )?;
    stderr.flush()?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    Ok(answer.trim() == "yes")
}
