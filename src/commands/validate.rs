//! `fleetcert validate`: owned by the spec work (issue 3).

use crate::cli::SpecArgs;
use crate::exit::ExitStatus;
use crate::printer::Printer;

pub fn validate(_args: &SpecArgs, _printer: &Printer) -> anyhow::Result<ExitStatus> {
    anyhow::bail!("validate is not built yet")
}
