//! Reading the fleet's things (with their recorded facts) and the thing
//! types the spec names.

use std::collections::{BTreeMap, BTreeSet};

use crate::aws_op::AwsOp;
use crate::cloud::{Cloud, CloudError, failed};
use crate::live::{LiveThing, OWNER_ATTRIBUTE};
use crate::marker;

impl Cloud {
    /// The fleet's things (and the unowned ones the spec names), with the
    /// `fleetcert` attribute of each fleet thing (its recorded facts).
    #[allow(clippy::type_complexity)]
    pub(super) async fn read_things(
        &self,
        fleet: &str,
        wanted: &BTreeSet<String>,
    ) -> Result<(BTreeMap<String, LiveThing>, BTreeMap<String, String>), CloudError> {
        let mut things = BTreeMap::new();
        let mut markers = BTreeMap::new();
        let mut token = None;
        loop {
            let request = self
                .iot
                .list_things()
                .set_next_token(token)
                .max_results(250);
            let page = self
                .call(AwsOp::ListThings, || request.clone().send())
                .await
                .map_err(|e| failed(AwsOp::ListThings, "", e))?;
            for thing in page.things() {
                let Some(name) = thing.thing_name() else {
                    continue;
                };
                // The fleet's apply lock (crate::lock) is no device: never in a plan, fingerprint or drift.
                if name == crate::lock::thing_name(fleet) {
                    continue;
                }
                let mut attributes: BTreeMap<String, String> = thing
                    .attributes()
                    .cloned()
                    .unwrap_or_default()
                    .into_iter()
                    .collect();
                let marker = attributes.remove(OWNER_ATTRIBUTE);
                let owner = marker.as_deref().map(|m| marker::fleet_of(m).to_string());
                if owner.as_deref() != Some(fleet) && !wanted.contains(name) {
                    continue;
                }
                if owner.as_deref() == Some(fleet)
                    && let Some(marker) = marker
                {
                    markers.insert(name.to_string(), marker);
                }
                things.insert(
                    name.to_string(),
                    LiveThing {
                        name: name.to_string(),
                        thing_type: thing.thing_type_name().map(str::to_string),
                        attributes,
                        owner,
                        version: thing.version(),
                    },
                );
            }
            token = page.next_token().map(str::to_string);
            if token.is_none() {
                return Ok((things, markers));
            }
        }
    }

    pub(super) async fn read_thing_types(
        &self,
        wanted: &BTreeSet<String>,
    ) -> Result<BTreeSet<String>, CloudError> {
        let mut found = BTreeSet::new();
        if wanted.is_empty() {
            return Ok(found);
        }
        let mut token = None;
        loop {
            let request = self
                .iot
                .list_thing_types()
                .set_next_token(token)
                .max_results(250);
            let page = self
                .call(AwsOp::ListThingTypes, || request.clone().send())
                .await
                .map_err(|e| failed(AwsOp::ListThingTypes, "", e))?;
            for thing_type in page.thing_types() {
                if let Some(name) = thing_type.thing_type_name()
                    && wanted.contains(name)
                {
                    found.insert(name.to_string());
                }
            }
            token = page.next_token().map(str::to_string);
            if token.is_none() {
                return Ok(found);
            }
        }
    }
}
