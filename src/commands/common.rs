//! Steps several commands share: load the spec, reach AWS, read live state.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use crate::cli::AwsArgs;
use crate::cloud::{CaLookup, Cloud, CloudSettings};
use crate::live::LiveState;
use crate::printer::Printer;
use crate::spec::{CaSpec, DeviceKey, Spec};

/// A failure already shown to the user; the command exits 1.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Reported(pub &'static str);

/// Load and validate the spec; on errors, print them all and fail.
pub fn load_spec(path: &Path, printer: &Printer) -> anyhow::Result<Spec> {
    match crate::spec::load(path) {
        Ok(spec) => Ok(spec),
        Err(errors) => {
            printer.error(&errors.render(printer.color_stderr()));
            Err(Reported("invalid spec").into())
        }
    }
}

pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}

pub async fn connect(aws: &AwsArgs, spec: &Spec) -> anyhow::Result<Cloud> {
    let settings = CloudSettings {
        region: aws.region.clone().or_else(|| spec.region.clone()),
        endpoint_url: aws.endpoint_url.clone(),
    };
    // Rate limits: the defaults (cloud/pacing.rs), then the spec's, then the flags'.
    let mut limits = spec.rate_limits.clone();
    limits.extend(aws.rate_limits.iter().copied());
    Ok(Cloud::connect(&settings).await?.with_rate_limits(&limits))
}

pub async fn read_live(cloud: &Cloud, spec: &Spec) -> anyhow::Result<LiveState> {
    let lookup = match &spec.ca {
        CaSpec::Adopt { arn, .. } => CaLookup::Arn(arn.clone()),
        CaSpec::Create { .. } => CaLookup::Tagged,
    };
    let policies: BTreeSet<String> = spec.policies.keys().cloned().collect();
    let things: BTreeSet<String> = spec.devices.keys().cloned().collect();
    let thing_types: BTreeSet<String> = spec.thing_types.keys().cloned().collect();
    Ok(cloud
        .read_live(&spec.fleet, &lookup, &policies, &things, &thing_types)
        .await?)
}

/// The generated keys an interrupted apply left pending (see
/// `PlanOptions::pending_keys`).
pub fn pending_keys(spec: &Spec) -> BTreeMap<String, String> {
    let generated = spec
        .devices
        .values()
        .filter(|d| matches!(d.key, DeviceKey::Generated))
        .map(|d| d.name.as_str());
    crate::apply::files::pending_keys(&spec.output_dir, generated)
}

/// `--at TIME` (RFC 3339) or now, as unix seconds.
pub fn planning_time(at: Option<&str>) -> anyhow::Result<i64> {
    match at {
        None => Ok(jiff::Timestamp::now().as_second()),
        Some(text) => text
            .parse::<jiff::Timestamp>()
            .map(|t| t.as_second())
            .map_err(|e| {
                anyhow::anyhow!(
                    "--at {text:?} is not an RFC 3339 time (e.g. 2027-01-03T00:00:00Z): {e}"
                )
            }),
    }
}

/// Print plan errors (each names the resource) and fail.
pub fn plan_errors(errors: Vec<crate::plan::PlanError>, printer: &Printer) -> anyhow::Error {
    for error in &errors {
        printer.error(&format!("error: {error}"));
    }
    Reported("the plan has errors").into()
}
