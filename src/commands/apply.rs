//! `fleetcert apply`: plan against the real clock, show the plan, confirm,
//! carry it out, report what succeeded, failed and was skipped.

use std::collections::BTreeSet;
use std::io::{BufRead, IsTerminal, Write};

use anyhow::bail;

use crate::apply::{ApplyOptions, execute};
use crate::cli::ApplyArgs;
use crate::exit::ExitStatus;
use crate::plan::{PlanOptions, diff};
use crate::printer::Printer;
use crate::render;

use super::common;

pub fn apply(args: &ApplyArgs, printer: &Printer) -> anyhow::Result<ExitStatus> {
    let spec = common::load_spec(&args.spec.file, printer)?;
    let replace: BTreeSet<String> = args.replace.iter().cloned().collect();
    if let Some(unknown) = replace.iter().find(|d| !spec.devices.contains_key(*d)) {
        bail!(
            "--replace {unknown}: no device of that name in {}",
            args.spec.file.display()
        );
    }
    if !args.auto_approve && !std::io::stdin().is_terminal() {
        bail!(
            "refusing to apply without confirmation: standard input is not a terminal; pass --auto-approve"
        );
    }
    let runtime = common::runtime()?;
    runtime.block_on(async {
        let cloud = common::connect(&args.aws, &spec).await?;
        let live = common::read_live(&cloud, &spec).await?;
        // apply always plans against the real clock.
        let options = PlanOptions { now: jiff::Timestamp::now().as_second(), replace };
        let plan = diff(&spec, &live, &options).map_err(|errors| common::plan_errors(errors, printer))?;
        printer.out(&render::text::plan(&plan, printer.color_stdout()));
        if plan.is_empty() {
            return Ok(ExitStatus::Success);
        }
        if plan.exceeds_guard() && !args.allow_destructive {
            bail!(
                "refusing to apply: {}; check the spec and pass --allow-destructive if this is intended",
                plan.guard.join("; and ")
            );
        }
        if !args.auto_approve && !confirm()? {
            printer.error("Apply cancelled.");
            return Ok(ExitStatus::Failure);
        }
        let on_done = |report: &crate::apply::ChangeReport| printer.info(&render::text::change_done(report));
        let report = execute(
            &plan,
            &spec,
            &cloud,
            live.ca.as_ref(),
            &ApplyOptions { concurrency: args.concurrency },
            &on_done,
        )
        .await;
        printer.out(&render::text::apply_report(&report));
        Ok(if report.is_success() { ExitStatus::Success } else { ExitStatus::Failure })
    })
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
