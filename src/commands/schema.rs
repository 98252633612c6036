//! `fleetcert schema`: print the JSON Schema of fleet.yaml (generated from the
//! serde model; `schema/fleet.schema.json` is this output, checked in).

use crate::exit::ExitStatus;
use crate::printer::Printer;

pub fn schema(printer: &Printer) -> anyhow::Result<ExitStatus> {
    printer.out(&crate::spec::json_schema());
    Ok(ExitStatus::Success)
}
