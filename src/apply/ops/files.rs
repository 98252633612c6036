//! A device's files under `output.dir`.

use super::{ApplyError, ChangeState, Context, store};
use crate::apply::files::DeviceFiles;
use crate::plan::{CertRef, Destination};

pub(super) async fn write(
    cx: &Context<'_>,
    state: &mut ChangeState,
    device: &str,
    destination: &Destination,
    generated_key: bool,
) -> Result<(), ApplyError> {
    let dir = match destination {
        Destination::Dir { dir } => dir,
        store => return store::write_bundle(cx, state, device, store, generated_key).await,
    };
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
        key_pem: None,
    }
    .write()
    .map_err(|e| ApplyError::local(device, "WriteFiles", e))
}
