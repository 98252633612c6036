//! One function per command, each in its own file. `run` parses the command
//! line and dispatches; it is the only place that turns errors into exit codes.

use std::ffi::OsString;

use clap::Parser;

use crate::cli::{Cli, ColorWhen, Command, PlanFormat, ValidateFormat};
use crate::exit::ExitStatus;
use crate::printer::Printer;

mod apply;
mod common;
mod completions;
mod drift;
mod export;
mod force_unlock;
mod iam_policy;
mod import;
mod init;
mod plan;
mod policy_review;
mod schema;
mod show;
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
    color_choice(cli.color).write_global();
    crate::printer::init_logging(cli.verbose);
    let printer = Printer::new(cli.quiet).with_annotations(annotations_wanted(&cli.command));
    let outcome = match cli.command {
        Command::Validate(args) => validate::validate(&args, &printer),
        Command::Show(args) => show::show(&args, &printer),
        Command::Init(args) => init::init(&args, &printer),
        Command::Completions(args) => completions::completions(args.shell, &printer),
        Command::Man => completions::man(&printer),
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
                if let Some(hint) = aws_hint(&error) {
                    printer.error(&format!("  = help: {hint}"));
                }
            }
            ExitStatus::Failure
        }
    }
}

/// What to do about an AWS failure fleetcert explains itself (no
/// credentials, an unreachable endpoint, AccessDenied...), wherever in the
/// error's chain it is.
fn aws_hint(error: &anyhow::Error) -> Option<&'static str> {
    error.chain().find_map(|cause| {
        let cloud = cause
            .downcast_ref::<crate::cloud::CloudError>()
            .or_else(|| match cause.downcast_ref::<crate::lock::LockError>() {
                Some(crate::lock::LockError::Cloud(cloud)) => Some(cloud),
                _ => None,
            })?;
        cloud.failure.as_deref().map(crate::cloud::AwsFailure::hint)
    })
}

/// `--color` for every anstream stream (the printer's, clap's): `auto`
/// leaves the choice to anstream (a terminal, and no NO_COLOR).
fn color_choice(when: ColorWhen) -> anstream::ColorChoice {
    match when {
        ColorWhen::Auto => anstream::ColorChoice::Auto,
        ColorWhen::Always => anstream::ColorChoice::Always,
        ColorWhen::Never => anstream::ColorChoice::Never,
    }
}

/// Spec errors are also GitHub workflow commands in a GitHub Actions job
/// (which sets GITHUB_ACTIONS=true) or with `--format github`.
fn annotations_wanted(command: &Command) -> bool {
    let asked = match command {
        Command::Validate(args) => args.format == ValidateFormat::Github,
        Command::Plan(args) => args.format == PlanFormat::Github,
        _ => false,
    };
    asked || std::env::var_os("GITHUB_ACTIONS").is_some_and(|v| v == "true")
}
