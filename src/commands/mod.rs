//! One function per command, each in its own file. `run` parses the command
//! line and dispatches; it is the only place that turns errors into exit codes.

use std::ffi::OsString;

use clap::Parser;

use crate::cli::{Cli, Command};
use crate::exit::ExitStatus;
use crate::printer::Printer;

mod apply;
mod common;
mod drift;
mod export;
mod force_unlock;
mod iam_policy;
mod import;
mod plan;
mod policy_review;
mod schema;
mod validate;

/// Parse `args` and run the command they name.
pub fn run(args: impl IntoIterator<Item = OsString>) -> ExitStatus {
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(error) => {
            // `--help` and `--version` are successes; every usage error is 1,
            // not clap's default 2, which would read as "there are changes".
            let _ = error.print();
            return if error.use_stderr() {
                ExitStatus::Failure
            } else {
                ExitStatus::Success
            };
        }
    };
    let printer = Printer::new(cli.quiet);
    let outcome = match cli.command {
        Command::Validate(args) => validate::validate(&args, &printer),
        Command::Schema => schema::schema(&printer),
        Command::Plan(args) => plan::plan(&args, &printer),
        Command::Apply(args) => apply::apply(&args, &printer),
        Command::Drift(args) => drift::drift(&args, &printer),
        Command::IamPolicy(args) => iam_policy::iam_policy(&args, &printer),
        Command::ForceUnlock(args) => force_unlock::force_unlock(&args, &printer),
        Command::Import(args) => import::import(&args, &printer),
        Command::Export(args) => export::export(&args, &printer),
    };
    match outcome {
        Ok(status) => status,
        Err(error) => {
            // Errors already shown in full (spec diagnostics, plan errors)
            // are not repeated.
            if error.downcast_ref::<common::Reported>().is_none() {
                printer.error(&format!("error: {error:#}"));
            }
            ExitStatus::Failure
        }
    }
}
