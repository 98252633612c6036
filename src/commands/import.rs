//! `fleetcert import`: read an existing IoT set-up (a PCA CA registered in
//! IoT, its certificates, the things they are attached to, their policies)
//! and write a fleet.yaml whose first plan only adopts.

use std::collections::BTreeSet;

use anyhow::{Context, bail};

use crate::cli::ImportArgs;
use crate::cloud::{CaLookup, Cloud, CloudSettings};
use crate::exit::ExitStatus;
use crate::printer::Printer;
use crate::spec::types;

pub fn import(args: &ImportArgs, printer: &Printer) -> anyhow::Result<ExitStatus> {
    if !types::is_fleet_name(&args.fleet) {
        bail!(
            "--fleet {:?}: a fleet name is 1 to 64 of A-Z a-z 0-9 _ -",
            args.fleet
        );
    }
    let arn = types::parse_ca_arn(&args.ca_arn)
        .map_err(|why| anyhow::anyhow!("--ca-arn {:?}: {why}", args.ca_arn))?;
    let spec_path = args.out_dir.join("fleet.yaml");
    if spec_path.exists() && !args.force {
        bail!(
            "{} exists; pass --force to overwrite it",
            spec_path.display()
        );
    }
    let region = args
        .aws
        .region
        .clone()
        .unwrap_or_else(|| arn.region.to_string());
    super::common::check_endpoints(&args.aws, std::env::vars())?;
    let runtime = super::common::runtime()?;
    let (live, region) = runtime.block_on(async {
        let cloud = Cloud::connect(&CloudSettings {
            region: Some(region.clone()),
            endpoint_url: args.aws.endpoint_url.clone(),
        })
        .await?;
        let lookup = CaLookup::Arn(args.ca_arn.clone());
        let none = BTreeSet::new();
        // First the CA's certificates, then the things and policies they name.
        let first = cloud
            .read_live(&args.fleet, &lookup, &none, &none, &none)
            .await?;
        if first.iot_ca.is_none() {
            bail!(
                "CA {} is not registered in AWS IoT in {region}: nothing to import",
                args.ca_arn
            );
        }
        let things: BTreeSet<String> = first
            .certificates
            .values()
            .flat_map(|c| c.things.iter().cloned())
            .collect();
        let policies: BTreeSet<String> = first
            .certificates
            .values()
            .flat_map(|c| c.policies.iter().cloned())
            .collect();
        let live = cloud
            .read_live(&args.fleet, &lookup, &policies, &things, &none)
            .await?;
        anyhow::Ok((live, cloud.region().to_string()))
    })?;
    let imported = crate::import::render(&args.fleet, &region, &args.ca_arn, &live);
    std::fs::create_dir_all(&args.out_dir)
        .with_context(|| format!("creating {}", args.out_dir.display()))?;
    for (relative, contents) in &imported.files {
        let path = args.out_dir.join(relative);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("creating {}", parent.display()))?;
        }
        std::fs::write(&path, contents).with_context(|| format!("writing {}", path.display()))?;
    }
    std::fs::write(&spec_path, &imported.fleet_yaml)
        .with_context(|| format!("writing {}", spec_path.display()))?;
    for skipped in &imported.skipped {
        printer.error(&format!("warning: {skipped}"));
    }
    printer.out(&format!(
        "Wrote {} and {} policy file(s). Next: fleetcert plan -f {} (it should only adopt).\n",
        spec_path.display(),
        imported.files.len(),
        spec_path.display()
    ));
    Ok(ExitStatus::Success)
}
