//! `fleetcert show PLAN`: a plan saved by `plan --out`, shown with the
//! renderers `plan` uses (text, JSON or Markdown), like `terraform show`.
//!
//! It reads the plan file and nothing else: not the spec (a reviewer may
//! have only the file, e.g. a CI artifact) and not AWS (no credentials
//! needed). A bad file is refused exactly as `apply PLAN` refuses it, by the
//! same loader (`planfile::read`: not a plan, cut short, another format
//! version, a checksum that does not match). What it shows is what the file
//! says; whether that plan still holds against the spec and AWS, or was
//! forged with a recomputed checksum, is for `apply PLAN` to find out: it
//! re-derives the plan and applies only what it derives.

use crate::cli::ShowArgs;
use crate::exit::ExitStatus;
use crate::planfile;
use crate::printer::Printer;

use super::common;

pub fn show(args: &ShowArgs, printer: &Printer) -> anyhow::Result<ExitStatus> {
    let saved = planfile::read(&args.plan)?;
    printer.info(&format!(
        "Plan {} for fleet {}, made by fleetcert {} at {} from {} (as of {}):\n",
        args.plan.display(),
        saved.plan.fleet,
        saved.fleetcert_version,
        moment(saved.created_at),
        saved.spec.path.display(),
        moment(saved.plan.at),
    ));
    printer.out(&common::shown_plan(&saved.plan, args.format, printer));
    Ok(ExitStatus::Success)
}

/// Unix seconds as RFC 3339, or the number when out of range.
fn moment(seconds: i64) -> String {
    jiff::Timestamp::from_second(seconds).map_or_else(|_| seconds.to_string(), |t| t.to_string())
}
