//! Reading the fleet's things (with their recorded facts) and the thing
//! types the spec names.

use std::collections::{BTreeMap, BTreeSet};

use futures_util::{StreamExt, TryStreamExt, stream};

use super::READ_CONCURRENCY;
use crate::aws_op::AwsOp;
use crate::cloud::{Cloud, CloudError, failed};
use crate::live::{LiveThing, OWNER_ATTRIBUTE};
use crate::marker;

/// The most spec devices looked up by name (DescribeThing) when the fleet's
/// own list does not hold them; with more, the whole account is listed once
/// instead (the first plan of a new or adopted fleet).
const DESCRIBE_AT_MOST: usize = 100;

/// Things read so far, and the records of the fleet's.
#[derive(Default)]
struct Found {
    things: BTreeMap<String, LiveThing>,
    markers: BTreeMap<String, String>,
}

impl Found {
    /// Keep thing `name` if it is the fleet's or the spec names it.
    fn admit(
        &mut self,
        fleet: &str,
        wanted: &BTreeSet<String>,
        name: &str,
        thing_type: Option<&str>,
        attributes: Option<&std::collections::HashMap<String, String>>,
        version: i64,
    ) {
        // The fleet's apply lock (crate::lock) is no device: never in a plan, fingerprint or drift.
        if name == crate::lock::thing_name(fleet) {
            return;
        }
        let mut attributes: BTreeMap<String, String> = attributes
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .collect();
        let marker = attributes.remove(OWNER_ATTRIBUTE);
        let owner = marker.as_deref().map(|m| marker::fleet_of(m).to_string());
        if owner.as_deref() != Some(fleet) && !wanted.contains(name) {
            return;
        }
        if owner.as_deref() == Some(fleet)
            && let Some(marker) = marker
        {
            self.markers.insert(name.to_string(), marker);
        }
        self.things.insert(
            name.to_string(),
            LiveThing {
                name: name.to_string(),
                thing_type: thing_type.map(str::to_string),
                attributes,
                owner,
                version,
            },
        );
    }
}

impl Cloud {
    /// The fleet's things (and the unowned ones the spec names), with the
    /// `fleetcert` attribute of each fleet thing (its recorded facts). The
    /// fleet's things are listed through that attribute on the server
    /// (ListThings `attributeName`, `attributeValue`,
    /// `usePrefixAttributeValue`: "returns the thing resources with attribute
    /// values that start with the attributeValue provided", API reference,
    /// ListThings), so a plan costs what the fleet costs, not what the
    /// account holds. Spec devices not found that way are looked up by name.
    #[allow(clippy::type_complexity)]
    pub(super) async fn read_things(
        &self,
        fleet: &str,
        wanted: &BTreeSet<String>,
    ) -> Result<(BTreeMap<String, LiveThing>, BTreeMap<String, String>), CloudError> {
        let mut found = Found::default();
        // Every record starts with the fleet's name (marker.rs); other
        // fleets whose names extend it are dropped by `admit`.
        self.list_things_into(fleet, wanted, Some(fleet), &mut found)
            .await?;
        let missing: Vec<&String> = wanted
            .iter()
            .filter(|name| !found.things.contains_key(*name))
            .collect();
        if missing.len() > DESCRIBE_AT_MOST {
            self.list_things_into(fleet, wanted, None, &mut found)
                .await?;
        } else {
            let described: Vec<Option<LiveThing>> = stream::iter(missing)
                .map(|name| self.describe_thing(name))
                .buffer_unordered(READ_CONCURRENCY)
                .try_collect()
                .await?;
            for thing in described.into_iter().flatten() {
                let attributes: std::collections::HashMap<String, String> =
                    thing.attributes.into_iter().collect();
                found.admit(
                    fleet,
                    wanted,
                    &thing.name,
                    thing.thing_type.as_deref(),
                    Some(&attributes),
                    thing.version,
                );
            }
        }
        Ok((found.things, found.markers))
    }

    /// ListThings, every page: only things whose `fleetcert` attribute
    /// starts with `prefix` when one is given, else all of them.
    async fn list_things_into(
        &self,
        fleet: &str,
        wanted: &BTreeSet<String>,
        prefix: Option<&str>,
        found: &mut Found,
    ) -> Result<(), CloudError> {
        let mut token = None;
        loop {
            let mut request = self
                .iot
                .list_things()
                .set_next_token(token)
                .max_results(250);
            if let Some(prefix) = prefix {
                request = request
                    .attribute_name(OWNER_ATTRIBUTE)
                    .attribute_value(prefix)
                    .use_prefix_attribute_value(true);
            }
            let page = self
                .call(AwsOp::ListThings, prefix.unwrap_or(""), || {
                    request.clone().send()
                })
                .await
                .map_err(|e| failed(AwsOp::ListThings, prefix.unwrap_or(""), e))?;
            for thing in page.things() {
                if let Some(name) = thing.thing_name() {
                    found.admit(
                        fleet,
                        wanted,
                        name,
                        thing.thing_type_name(),
                        thing.attributes(),
                        thing.version(),
                    );
                }
            }
            token = page.next_token().map(str::to_string);
            if token.is_none() {
                return Ok(());
            }
        }
    }

    /// DescribeThing by name; `None` if there is no such thing. The
    /// attributes come back with the `fleetcert` one still in them.
    async fn describe_thing(&self, name: &str) -> Result<Option<LiveThing>, CloudError> {
        let request = self.iot.describe_thing().thing_name(name);
        match self
            .call(AwsOp::DescribeThing, name, || request.clone().send())
            .await
        {
            Ok(thing) => Ok(Some(LiveThing {
                name: thing.thing_name().unwrap_or(name).to_string(),
                thing_type: thing.thing_type_name().map(str::to_string),
                attributes: thing
                    .attributes()
                    .cloned()
                    .unwrap_or_default()
                    .into_iter()
                    .collect(),
                owner: None,
                version: thing.version(),
            })),
            Err(e) if e.code() == Some("ResourceNotFoundException") => Ok(None),
            Err(e) => Err(failed(AwsOp::DescribeThing, name, e)),
        }
    }

    /// The principals attached to each of `things` (ListThingPrincipals):
    /// certificate ARN -> things.
    pub(super) async fn thing_principals(
        &self,
        things: impl IntoIterator<Item = String>,
    ) -> Result<BTreeMap<String, BTreeSet<String>>, CloudError> {
        super::inverted(things, |thing| async move {
            let principals = self.principals_of(&thing).await?;
            Ok((thing, principals))
        })
        .await
    }

    async fn principals_of(&self, thing: &str) -> Result<Vec<String>, CloudError> {
        let mut principals = Vec::new();
        let mut token = None;
        loop {
            let request = self
                .iot
                .list_thing_principals()
                .thing_name(thing)
                .set_next_token(token)
                .max_results(250);
            let page = match self
                .call(AwsOp::ListThingPrincipals, thing, || request.clone().send())
                .await
            {
                Ok(page) => page,
                Err(e) if e.code() == Some("ResourceNotFoundException") => return Ok(principals),
                Err(e) => return Err(failed(AwsOp::ListThingPrincipals, thing, e)),
            };
            principals.extend(page.principals().iter().cloned());
            token = page.next_token().map(str::to_string);
            if token.is_none() {
                return Ok(principals);
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
                .call(AwsOp::ListThingTypes, "", || request.clone().send())
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
