//! `fleetcert plan`: read live state, diff it against the spec, show the plan
//! (text, JSON or Markdown), and with `--out` save it for `apply PLAN`.
//! Takes no lock: planning changes nothing.

use crate::cli::{Format, PlanArgs, PlanFormat};
use crate::exit::ExitStatus;
use crate::plan::{PlanOptions, diff};
use crate::planfile::{self, PlanFile};
use crate::printer::Printer;

use super::common;

pub fn plan(args: &PlanArgs, printer: &Printer) -> anyhow::Result<ExitStatus> {
    let now = common::planning_time(args.at.as_deref())?;
    let spec = common::load_reviewed_spec(&args.spec.file, printer)?;
    common::check_delivery(&spec, args.allow_undeliverable, printer)?;
    let runtime = common::runtime()?;
    let live = runtime.block_on(async {
        let cloud = common::connect(&args.aws, &spec)
            .await?
            .with_refresh(args.refresh.refresh());
        common::read_live(&cloud, &spec).await
    })?;
    let plan = diff(
        &spec,
        &live,
        &PlanOptions {
            now,
            pending_keys: common::pending_keys(&spec, &live)?,
            ..PlanOptions::default()
        },
    )
    .map_err(|errors| common::plan_errors(errors, printer))?;
    let format = match args.format {
        // Annotations are spec errors only; the plan itself is text.
        PlanFormat::Text | PlanFormat::Github => Format::Text,
        PlanFormat::Json => Format::Json,
        PlanFormat::Markdown => Format::Markdown,
    };
    printer.out(&common::shown_plan(&plan, format, printer));
    // Never inside JSON or Markdown, which a program reads from stdout.
    if format == Format::Text {
        common::annotate_findings(
            &spec,
            plan.policy_reviews
                .iter()
                .map(|r| (r.policy.as_str(), &r.review)),
            false,
            printer,
        );
    }
    if let Some(path) = &args.out {
        let file = PlanFile::new(
            &spec,
            &live,
            &plan,
            args.refresh,
            jiff::Timestamp::now().as_second(),
        );
        planfile::write(path, &file)?;
        printer.info(&format!(
            "\nSaved the plan to {}. Apply exactly this plan with:\n    fleetcert apply {}",
            path.display(),
            path.display()
        ));
    }
    Ok(if args.detailed_exitcode && !plan.is_empty() {
        ExitStatus::Changes
    } else {
        ExitStatus::Success
    })
}
