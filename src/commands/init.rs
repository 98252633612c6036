//! `fleetcert init`: write a starter fleet (fleet.yaml, policies/device.json,
//! .gitignore, schema/fleet.schema.json) that validates as written. Never
//! overwrites: every target is checked before any is written, and each file
//! is created exclusively (a file or symlink that appears meanwhile is not
//! written through).

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

use crate::cli::InitArgs;
use crate::exit::ExitStatus;
use crate::printer::Printer;
use crate::spec::display_path;

pub fn init(args: &InitArgs, printer: &Printer) -> anyhow::Result<ExitStatus> {
    crate::init::check(&args.fleet, args.region.as_deref()).map_err(anyhow::Error::msg)?;
    let files = crate::init::files(&args.fleet, args.region.as_deref());
    let targets: Vec<PathBuf> = files.iter().map(|(name, _)| args.dir.join(name)).collect();
    let existing: Vec<String> = targets
        .iter()
        .filter(|path| path.symlink_metadata().is_ok())
        .map(|path| display_path(path))
        .collect();
    if !existing.is_empty() {
        bail!(
            "refusing to overwrite {}: fleetcert init never replaces a file; nothing was written",
            existing.join(", ")
        );
    }
    for (path, (_, contents)) in targets.iter().zip(&files) {
        create_new(path, contents)?;
    }
    let spec = args.dir.join("fleet.yaml");
    let written: Vec<String> = targets.iter().map(|p| display_path(p)).collect();
    printer.out(&format!(
        "Wrote {}. Next: fleetcert validate -f {}\n",
        written.join(", "),
        display_path(&spec)
    ));
    Ok(ExitStatus::Success)
}

/// Write `contents` to a new file at `path` (its directory made if missing).
fn create_new(path: &Path, contents: &str) -> anyhow::Result<()> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("creating {}", parent.display()))?;
    }
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    file.write_all(contents.as_bytes())
        .with_context(|| format!("writing {}", path.display()))
}
