//! A device in the spec: its thing, then its certificate (or its revocation).

use std::collections::BTreeMap;

use super::{PlanError, Planner, field, owner_text};
use crate::live::LiveThing;
use crate::plan::{Action, Address, Change, Detail, Operation, Phase, Reason, ReasonCode};
use crate::spec::types::Named;
use crate::spec::{DeviceSpec, Retire};

impl Planner<'_> {
    pub(super) fn plan_device(&mut self, device: &DeviceSpec, thing: Option<&LiveThing>) {
        let fleet = self.spec.fleet.as_str();
        let name = device.name.as_str();
        match thing {
            None => self.plan_new_thing(device),
            Some(thing)
                if thing.owner.as_deref() != Some(fleet)
                    && !(device.adopt && thing.owner.is_none()) =>
            {
                self.errors.push(PlanError::UnownedThing {
                    name: name.to_string(),
                    fleet: fleet.to_string(),
                    owner: owner_text(&thing.owner),
                });
                return;
            }
            Some(thing) => self.plan_existing_thing(device, thing),
        }
        let certs = self.certificates_of(name);
        if let Some(reason) = device.revoked {
            for cert in certs.iter().filter(|c| c.status.is_alive()) {
                let change = self.retirement(
                    name,
                    cert,
                    Retire::Revoke,
                    reason,
                    Reason::new(
                        ReasonCode::DeviceRevoked,
                        format!(
                            "the spec revokes device {name} (revocation_reason: {})",
                            reason.spelling()
                        ),
                    ),
                    false,
                );
                self.push(change);
            }
            return;
        }
        self.plan_certificate(device, certs);
    }

    fn plan_new_thing(&mut self, device: &DeviceSpec) {
        let name = device.name.as_str();
        let mut details: Vec<Detail> = device
            .attributes
            .iter()
            .map(|(k, v)| field(&format!("attributes.{k}"), None, Some(v.clone())))
            .collect();
        if let Some(thing_type) = &device.thing_type {
            details.insert(0, field("thing_type", None, Some(thing_type.clone())));
        }
        self.push(Change {
            address: Address::Thing(name.to_string()),
            device: Some(name.to_string()),
            action: Action::Create,
            phase: Phase::Devices,
            reason: Reason::new(
                ReasonCode::ThingMissing,
                format!("thing {name} does not exist"),
            ),
            details,
            operations: vec![Operation::CreateThing {
                name: name.to_string(),
                thing_type: device.thing_type.clone(),
                attributes: device.attributes.clone(),
            }],
        });
    }

    /// A thing of the fleet (or one the spec adopts): its attributes and type
    /// brought to the spec's.
    fn plan_existing_thing(&mut self, device: &DeviceSpec, thing: &LiveThing) {
        let fleet = self.spec.fleet.as_str();
        let name = device.name.as_str();
        let adopting = thing.owner.is_none();
        let mut merged = BTreeMap::new();
        let mut details = Vec::new();
        for (key, value) in &device.attributes {
            if thing.attributes.get(key) != Some(value) {
                merged.insert(key.clone(), value.clone());
                details.push(field(
                    &format!("attributes.{key}"),
                    thing.attributes.get(key).cloned(),
                    Some(value.clone()),
                ));
            }
        }
        for (key, value) in &thing.attributes {
            if !device.attributes.contains_key(key) {
                merged.insert(key.clone(), String::new());
                details.push(field(
                    &format!("attributes.{key}"),
                    Some(value.clone()),
                    None,
                ));
            }
        }
        let type_change =
            (thing.thing_type != device.thing_type).then(|| device.thing_type.clone());
        if type_change.is_some() {
            details.insert(
                0,
                field(
                    "thing_type",
                    thing.thing_type.clone(),
                    device.thing_type.clone(),
                ),
            );
        }
        let change = if adopting {
            // `adopt: true` (as `fleetcert import` writes): mark the
            // thing as the fleet's, with any other difference.
            merged.insert(crate::live::OWNER_ATTRIBUTE.to_string(), fleet.to_string());
            details.insert(
                0,
                field("attributes.fleetcert", None, Some(fleet.to_string())),
            );
            Some((
                Action::Adopt,
                Reason::new(
                    ReasonCode::ThingAdopted,
                    format!(
                        "the spec adopts the existing thing {name}, which carries no fleetcert marker"
                    ),
                ),
            ))
        } else if !details.is_empty() {
            Some((
                Action::Update,
                Reason::new(
                    ReasonCode::ThingAttributesDiffer,
                    format!("thing {name}'s attributes or type differ from the spec"),
                ),
            ))
        } else {
            None
        };
        if let Some((action, reason)) = change {
            self.push(Change {
                address: Address::Thing(name.to_string()),
                device: Some(name.to_string()),
                action,
                phase: Phase::Devices,
                reason,
                details,
                operations: vec![Operation::UpdateThing {
                    name: name.to_string(),
                    thing_type: type_change,
                    attributes: merged,
                    expected_version: thing.version,
                }],
            });
        }
    }
}
