//! `fleetcert export --device NAME --to DIR`: one device's bundle, read from
//! the fleet's secret store, written as the files `output.dir` would hold
//! (`DIR/<device>/`: certificate.pem, chain.pem, AmazonRootCA1.pem,
//! connection.json, and private-key.pem 0600 in a 0700 directory), for a
//! provisioning station. Nothing is printed but where the files went.

use anyhow::{Context, bail};

use crate::apply::bundle::{BUNDLE_FORMAT, Bundle, PENDING_FORMAT, PLACEHOLDER_FORMAT};
use crate::apply::files::DeviceFiles;
use crate::cli::ExportArgs;
use crate::exit::ExitStatus;
use crate::printer::Printer;
use crate::spec::Output;

use super::common;

pub fn export(args: &ExportArgs, printer: &Printer) -> anyhow::Result<ExitStatus> {
    let spec = common::load_spec(&args.spec.file, printer)?;
    if spec.output.dir().is_some() {
        bail!(
            "{}: the fleet's bundles are files under output.dir, not in a secret store; nothing to export",
            args.spec.file.display()
        );
    }
    if !spec.devices.contains_key(&args.device) {
        bail!(
            "--device {}: no device of that name in {}",
            args.device,
            args.spec.file.display()
        );
    }
    let ssm = matches!(spec.output, Output::Ssm { .. });
    let name = if ssm {
        crate::spec::parameter_name(&spec.fleet, &args.device)
    } else {
        crate::spec::secret_name(&spec.fleet, &args.device)
    };
    let runtime = common::runtime()?;
    let value = runtime.block_on(async {
        let cloud = common::connect(&args.aws, &spec).await?;
        anyhow::Ok(if ssm {
            cloud.get_parameter(&name).await?
        } else {
            cloud
                .secret_at_stage(&name, "AWSCURRENT")
                .await?
                .map(|(text, _)| text)
        })
    })?;
    let Some(text) = value else {
        bail!("{name} does not exist: the device has no bundle yet; run apply");
    };
    let text = zeroize::Zeroizing::new(text);
    let format = serde_json::from_str::<serde_json::Value>(&text)
        .ok()
        .and_then(|v| v["format"].as_str().map(str::to_string))
        .unwrap_or_default();
    if format == PENDING_FORMAT || format == PLACEHOLDER_FORMAT {
        bail!(
            "{name} holds only a pending key: the device's certificate is not registered yet; run apply"
        );
    }
    if format != BUNDLE_FORMAT {
        bail!(
            "{name} is not a fleetcert bundle (format {format:?}, this fleetcert reads {BUNDLE_FORMAT})"
        );
    }
    let bundle: Bundle = serde_json::from_str(&text).with_context(|| format!("reading {name}"))?;
    DeviceFiles {
        output_dir: &args.to,
        device: &args.device,
        certificate_pem: &bundle.certificate_pem,
        certificate_id: &bundle.certificate_id,
        ca_pem: &bundle.chain_pem,
        endpoint: &bundle.endpoint,
        generated_key: false,
        key_pem: bundle.private_key_pem.as_deref(),
    }
    .write()
    .with_context(|| format!("writing {}", args.to.join(&args.device).display()))?;
    printer.out(&format!(
        "Wrote {}'s bundle (certificate {}) to {}\n",
        args.device,
        crate::plan::short_id(&bundle.certificate_id),
        args.to.join(&args.device).display()
    ));
    Ok(ExitStatus::Success)
}
