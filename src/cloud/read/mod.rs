//! Reading the live state: the fleet's CA, its IoT registration, policies,
//! things and certificates, every list paginated.

mod ca;
mod certificates;
mod policies;
mod things;

use std::collections::BTreeSet;

use super::{Cloud, CloudError};
use crate::live::LiveState;

pub use policies::canonical_json;

/// How many reads run at once (each still paced: pacing.rs).
const READ_CONCURRENCY: usize = 16;

/// How certificates are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Refresh {
    /// From the lists (ListThings, ListCertificatesByCA) and the facts
    /// fleetcert recorded on each thing (marker.rs): certificate
    /// contents are immutable per id, statuses come from the list, and the
    /// attachments are trusted to be what fleetcert left. Certificates without
    /// a recorded fact are read one by one; REVOKED ones without a fact are
    /// left out (terminal, and fleetcert detaches before it revokes).
    #[default]
    Recorded,
    /// Every certificate read one by one (DescribeCertificate,
    /// ListPrincipalThings, ListAttachedPolicies): verifies every attachment.
    Full,
}

/// How to find the fleet's CA.
#[derive(Debug, Clone)]
pub enum CaLookup {
    /// The spec names it.
    Arn(String),
    /// fleetcert created it: find it by its ownership tag.
    Tagged,
}
impl Cloud {
    /// Read everything the planner needs for `fleet`. `wanted_*` are names the
    /// spec asks for: they are read even when another owner has them, so the
    /// planner can refuse to take them over.
    pub async fn read_live(
        &self,
        fleet: &str,
        ca: &CaLookup,
        wanted_policies: &BTreeSet<String>,
        wanted_things: &BTreeSet<String>,
        wanted_thing_types: &BTreeSet<String>,
    ) -> Result<LiveState, CloudError> {
        let ca = self.read_ca(fleet, ca).await?;
        let iot_ca = match ca.as_ref().and_then(|ca| ca.certificate_pem.as_deref()) {
            Some(pem) => self.find_iot_ca(pem).await?,
            None => None,
        };
        let policies = self.read_policies(fleet, wanted_policies).await?;
        // Things and certificates are the long lists: read them side by side.
        let (things, listed) =
            futures_util::try_join!(self.read_things(fleet, wanted_things), async {
                match &iot_ca {
                    Some(iot_ca) => self.list_certificates(&iot_ca.certificate_id).await,
                    None => Ok(Vec::new()),
                }
            })?;
        let (things, markers) = things;
        let (certificates, unreadable_records) = self.read_certificates(listed, &markers).await?;
        let thing_types = self.read_thing_types(wanted_thing_types).await?;
        Ok(LiveState {
            ca,
            iot_ca,
            policies,
            things,
            certificates,
            thing_types,
            markers,
            unreadable_records,
        })
    }
}
