//! Reading the live state: the fleet's CA, its IoT registration, policies,
//! things and certificates, every list paginated.

mod bundles;
mod ca;
mod certificates;
mod jobs;

pub(super) use jobs::execution_status;
mod policies;
mod things;

use std::collections::{BTreeMap, BTreeSet};

use super::{Cloud, CloudError};
use crate::live::{LiveCertificate, LiveState, LiveThing};

pub use policies::canonical_json;

/// How many reads run at once (each still paced: pacing.rs).
const READ_CONCURRENCY: usize = 16;

/// `list` for each of `keys` (READ_CONCURRENCY at a time), inverted: each
/// listed member -> the keys whose list holds it (a policy's targets become
/// each certificate's policies, a thing's principals each certificate's things).
async fn inverted<F, Fut>(
    keys: impl IntoIterator<Item = String>,
    list: F,
) -> Result<BTreeMap<String, BTreeSet<String>>, CloudError>
where
    F: Fn(String) -> Fut,
    Fut: std::future::Future<Output = Result<(String, Vec<String>), CloudError>>,
{
    use futures_util::{StreamExt, TryStreamExt, stream};
    let lists: Vec<(String, Vec<String>)> = stream::iter(keys)
        .map(list)
        .buffer_unordered(READ_CONCURRENCY)
        .try_collect()
        .await?;
    let mut by_member: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (key, members) in lists {
        for member in members {
            by_member.entry(member).or_default().insert(key.clone());
        }
    }
    Ok(by_member)
}

/// How certificates are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Refresh {
    /// From the lists (ListThings, ListCertificatesByCA) and the facts
    /// fleetcert recorded on each thing (marker.rs): certificate
    /// contents are immutable per id, statuses come from the list. The
    /// attachments of the fleet's policies (and the policies the spec names)
    /// are read in bulk (ListTargetsForPolicy); thing attachments and
    /// foreign policies are trusted to be what fleetcert recorded.
    /// Certificates without a recorded fact are read one by one; REVOKED
    /// ones without a fact are left out (terminal, and fleetcert detaches
    /// before it revokes).
    #[default]
    Recorded,
    /// As `Recorded`, and every attachment verified: each fleet thing's
    /// principals (ListThingPrincipals, one call per thing) and the targets
    /// of every policy in the account and region (ListTargetsForPolicy).
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
        let (policies, account_policies) = self.read_policies(fleet, wanted_policies).await?;
        // Things and certificates are the long lists: read them side by side.
        let (things, listed) =
            futures_util::try_join!(self.read_things(fleet, wanted_things), async {
                match &iot_ca {
                    Some(iot_ca) => self.list_certificates(&iot_ca.certificate_id).await,
                    None => Ok(Vec::new()),
                }
            })?;
        let (things, markers) = things;
        let (mut certificates, unreadable_records) =
            self.read_certificates(listed, &markers).await?;
        let checked_policies = match self.refresh {
            Refresh::Recorded => policies.keys().cloned().collect(),
            Refresh::Full => account_policies,
        };
        self.verify_policies(&mut certificates, &checked_policies)
            .await?;
        if self.refresh == Refresh::Full {
            self.verify_things(fleet, &mut certificates, &things)
                .await?;
        }
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
            bundles: BTreeMap::new(),
            jobs: BTreeMap::new(),
            active_jobs: 0,
        })
    }
}

impl Cloud {
    /// Replace what the records say about `checked` policies with what
    /// ListTargetsForPolicy says: a fleet policy detached (or attached) by
    /// hand is then seen by every plan.
    async fn verify_policies(
        &self,
        certificates: &mut BTreeMap<String, LiveCertificate>,
        checked: &BTreeSet<String>,
    ) -> Result<(), CloudError> {
        let targets = self.policy_targets(checked).await?;
        for cert in certificates.values_mut() {
            cert.policies.retain(|p| !checked.contains(p));
            if let Some(attached) = targets.get(&cert.arn) {
                cert.policies.extend(attached.iter().cloned());
            }
        }
        Ok(())
    }

    /// Replace what the records say about the fleet's things' attachments
    /// with what ListThingPrincipals says for each fleet thing.
    async fn verify_things(
        &self,
        fleet: &str,
        certificates: &mut BTreeMap<String, LiveCertificate>,
        things: &BTreeMap<String, LiveThing>,
    ) -> Result<(), CloudError> {
        let fleet_things: BTreeSet<String> = things
            .values()
            .filter(|t| t.owner.as_deref() == Some(fleet))
            .map(|t| t.name.clone())
            .collect();
        let principals = self.thing_principals(fleet_things.iter().cloned()).await?;
        for cert in certificates.values_mut() {
            cert.things.retain(|t| !fleet_things.contains(t));
            if let Some(attached) = principals.get(&cert.arn) {
                cert.things.extend(attached.iter().cloned());
            }
        }
        Ok(())
    }
}
