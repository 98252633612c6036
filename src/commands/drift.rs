//! `fleetcert drift`: read-only. Reads everything one by one (it runs on a
//! schedule; the cheap read mode is for pull-request plans), plans, and
//! classifies each difference (`crate::drift`). Exit 0 in sync, 2 drift,
//! 1 error.

use std::collections::BTreeMap;

use crate::cli::{DriftArgs, Format};
use crate::cloud::Refresh;
use crate::drift::{self, Evidence};
use crate::exit::ExitStatus;
use crate::plan::{Address, PlanOptions, ReasonCode, diff};
use crate::printer::Printer;
use crate::render;

use super::common;

pub fn drift(args: &DriftArgs, printer: &Printer) -> anyhow::Result<ExitStatus> {
    let now = common::planning_time(args.at.as_deref())?;
    let spec = common::load_spec(&args.spec.file, printer)?;
    let runtime = common::runtime()?;
    let report = runtime.block_on(async {
        let cloud = common::connect(&args.aws, &spec)
            .await?
            .with_refresh(Refresh::Full);
        let live = common::read_live(&cloud, &spec).await?;
        let plan = diff(
            &spec,
            &live,
            &PlanOptions {
                now,
                ..PlanOptions::default()
            },
        )
        .map_err(|errors| common::plan_errors(errors, printer))?;
        // Evidence beyond the live state: every version of the policies whose
        // document differs, and the spec digest the last full apply recorded.
        let mut policy_versions = BTreeMap::new();
        for change in &plan.changes {
            if let (ReasonCode::PolicyDocumentChanged, Address::Policy(name)) =
                (change.reason.code, &change.address)
            {
                policy_versions.insert(name.clone(), cloud.policy_version_documents(name).await?);
            }
        }
        let lock = crate::lock::state(&cloud, &spec.fleet).await?;
        let evidence = Evidence {
            applied_digest: lock.as_ref().and_then(|l| l.applied.clone()),
            policy_versions,
        };
        let mut report = drift::classify(&spec, &live, &plan, &evidence, now);
        if let Some(held) = lock.filter(|l| l.held_at(jiff::Timestamp::now().as_second())) {
            report.warnings.push(format!(
                "an apply is running now (lock held by {}): some of this drift may be its work in progress",
                held.holder.unwrap_or_default()
            ));
        }
        anyhow::Ok(report)
    })?;
    let shown = match args.format {
        Format::Text => drift::text::render(&report),
        Format::Json => render::json::drift(&report),
        Format::Markdown => render::markdown::drift(&report),
    };
    printer.out(&shown);
    Ok(if report.in_sync() {
        ExitStatus::Success
    } else {
        ExitStatus::Changes
    })
}
