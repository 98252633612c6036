//! `fleetcert force-unlock`: release the fleet's apply lock held by a run
//! that died (its lease would also run out by itself, see `crate::lock`).

use crate::cli::ForceUnlockArgs;
use crate::exit::ExitStatus;
use crate::printer::Printer;

use super::common;

pub fn force_unlock(args: &ForceUnlockArgs, printer: &Printer) -> anyhow::Result<ExitStatus> {
    let spec = common::load_spec(&args.spec.file, printer)?;
    let runtime = common::runtime()?;
    let released = runtime.block_on(async {
        let cloud = common::connect(&args.aws, &spec).await?;
        anyhow::Ok(crate::lock::force_unlock(&cloud, &spec.fleet, args.holder.as_deref()).await?)
    })?;
    match released {
        Some(holder) => printer.out(&format!(
            "Released fleet {}'s lock, held by {holder}.\n",
            spec.fleet
        )),
        None => printer.out(&format!("Fleet {}'s lock is not held.\n", spec.fleet)),
    }
    Ok(ExitStatus::Success)
}
