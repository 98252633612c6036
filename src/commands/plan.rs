//! `fleetcert plan`: read live state, diff it against the spec, show the plan.

use crate::cli::PlanArgs;
use crate::exit::ExitStatus;
use crate::plan::{PlanOptions, diff};
use crate::printer::Printer;
use crate::render;

use super::common;

pub fn plan(args: &PlanArgs, printer: &Printer) -> anyhow::Result<ExitStatus> {
    let now = common::planning_time(args.at.as_deref())?;
    let spec = common::load_spec(&args.spec.file, printer)?;
    let runtime = common::runtime()?;
    let live = runtime.block_on(async {
        let cloud = common::connect(&args.aws, &spec).await?;
        common::read_live(&cloud, &spec).await
    })?;
    let plan = diff(
        &spec,
        &live,
        &PlanOptions {
            now,
            ..PlanOptions::default()
        },
    )
    .map_err(|errors| common::plan_errors(errors, printer))?;
    printer.out(&render::text::plan(&plan, printer.color_stdout()));
    Ok(if args.detailed_exitcode && !plan.is_empty() {
        ExitStatus::Changes
    } else {
        ExitStatus::Success
    })
}
