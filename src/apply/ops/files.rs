//! A device's files under `output.dir`.

use std::path::Path;

use super::{ApplyError, ChangeState, Context};
use crate::apply::files::DeviceFiles;
use crate::plan::CertRef;

pub(super) async fn write(
    cx: &Context<'_>,
    state: &mut ChangeState,
    device: &str,
    dir: &Path,
    generated_key: bool,
) -> Result<(), ApplyError> {
    let pem = state.issued_pem(device)?;
    let (id, _) = state.resolve(&CertRef::Issued)?;
    let endpoint = cx.endpoint().await?;
    let ca_pem = cx.ca_pem()?;
    DeviceFiles {
        output_dir: dir,
        device,
        certificate_pem: pem,
        certificate_id: id,
        ca_pem: &ca_pem,
        endpoint: &endpoint,
        generated_key,
    }
    .write()
    .map_err(|e| ApplyError::local(device, "WriteFiles", e))
}
