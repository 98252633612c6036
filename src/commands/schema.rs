//! `fleetcert schema`: owned by the spec work (issue 3).

use crate::exit::ExitStatus;
use crate::printer::Printer;

pub fn schema(_printer: &Printer) -> anyhow::Result<ExitStatus> {
    anyhow::bail!("schema is not built yet")
}
