//! AWS IoT: things, thing types, and certificates attached to things.

use std::collections::BTreeMap;

use aws_sdk_iot::types as iot;

use crate::aws_op::AwsOp;
use crate::cloud::{Cloud, CloudError, failed};
use crate::live::OWNER_ATTRIBUTE;

impl Cloud {
    /// CreateThing with the fleet's marker attribute among the attributes.
    /// All of them go in one call: "Things with a thing type can have up to
    /// 50 attributes. Things without a thing type can have up to three
    /// attributes" (AWS IoT Developer Guide, Thing types,
    /// https://docs.aws.amazon.com/iot/latest/developerguide/thing-types.html):
    /// a limit on the thing, the same for CreateThing and UpdateThing, which
    /// `validate` enforces on the spec (marker attribute included).
    pub async fn create_thing(
        &self,
        fleet: &str,
        name: &str,
        thing_type: Option<&str>,
        attributes: &BTreeMap<String, String>,
    ) -> Result<(), CloudError> {
        let mut payload = iot::AttributePayload::builder().attributes(OWNER_ATTRIBUTE, fleet);
        for (key, value) in attributes {
            payload = payload.attributes(key, value);
        }
        let request = self
            .iot
            .create_thing()
            .thing_name(name)
            .set_thing_type_name(thing_type.map(str::to_string))
            .attribute_payload(payload.build());
        // CreateThing with the same name, type and attributes returns the
        // existing thing (AWS IoT API reference, CreateThing), so a retry is safe.
        self.call(AwsOp::CreateThing, name, || request.clone().send())
            .await
            .map_err(|e| failed(AwsOp::CreateThing, name, e))?;
        Ok(())
    }

    /// UpdateThing, merging attributes (an empty value removes one: AWS IoT
    /// API reference, AttributePayload), guarded by `expected_version`.
    pub async fn update_thing(
        &self,
        name: &str,
        thing_type: Option<Option<&str>>,
        attributes: &BTreeMap<String, String>,
        expected_version: Option<i64>,
    ) -> Result<(), CloudError> {
        let mut payload = iot::AttributePayload::builder().merge(true);
        for (key, value) in attributes {
            payload = payload.attributes(key, value);
        }
        let mut request = self
            .iot
            .update_thing()
            .thing_name(name)
            .attribute_payload(payload.build())
            .set_expected_version(expected_version);
        match thing_type {
            Some(Some(thing_type)) => request = request.thing_type_name(thing_type),
            Some(None) => request = request.remove_thing_type(true),
            None => {}
        }
        match self
            .call(AwsOp::UpdateThing, name, || request.clone().send())
            .await
        {
            Ok(_) => Ok(()),
            // Retried after an attempt AWS may have carried out: that attempt
            // bumped the version. Done if the thing now says what we sent.
            Err(e)
                if e.retried()
                    && e.code() == Some("VersionConflictException")
                    && self.thing_has(name, attributes).await =>
            {
                Ok(())
            }
            Err(e) => Err(failed(AwsOp::UpdateThing, name, e)),
        }
    }

    pub async fn create_thing_type(
        &self,
        name: &str,
        description: Option<&str>,
        searchable_attributes: &[String],
    ) -> Result<(), CloudError> {
        let properties = iot::ThingTypeProperties::builder()
            .set_thing_type_description(description.map(str::to_string))
            .set_searchable_attributes(
                Some(searchable_attributes.to_vec()).filter(|a| !a.is_empty()),
            )
            .build();
        let request = self
            .iot
            .create_thing_type()
            .thing_type_name(name)
            .thing_type_properties(properties);
        self.call_done_if(
            AwsOp::CreateThingType,
            name,
            "ResourceAlreadyExistsException",
            || request.clone().send(),
        )
        .await
    }

    pub async fn delete_thing(&self, name: &str) -> Result<(), CloudError> {
        let request = self.iot.delete_thing().thing_name(name);
        self.call_done_if(
            AwsOp::DeleteThing,
            name,
            "ResourceNotFoundException",
            || request.clone().send(),
        )
        .await
    }

    pub async fn attach_thing(&self, thing: &str, cert_arn: &str) -> Result<(), CloudError> {
        let request = self
            .iot
            .attach_thing_principal()
            .thing_name(thing)
            .principal(cert_arn);
        self.call(
            AwsOp::AttachThingPrincipal,
            &format!("{thing} -> {cert_arn}"),
            || request.clone().send(),
        )
        .await
        .map_err(|e| {
            failed(
                AwsOp::AttachThingPrincipal,
                format!("{thing} -> {cert_arn}"),
                e,
            )
        })?;
        Ok(())
    }

    pub async fn detach_thing(&self, thing: &str, cert_arn: &str) -> Result<(), CloudError> {
        let request = self
            .iot
            .detach_thing_principal()
            .thing_name(thing)
            .principal(cert_arn);
        self.call_done_if(
            AwsOp::DetachThingPrincipal,
            format!("{thing} -x- {cert_arn}"),
            "ResourceNotFoundException",
            || request.clone().send(),
        )
        .await
    }

    /// Does thing `name` carry these attributes (an empty value: absent)?
    async fn thing_has(&self, name: &str, attributes: &BTreeMap<String, String>) -> bool {
        let request = self.iot.describe_thing().thing_name(name);
        match self
            .call(AwsOp::DescribeThing, name, || request.clone().send())
            .await
        {
            Ok(thing) => {
                let live = thing.attributes().cloned().unwrap_or_default();
                attributes.iter().all(|(key, value)| {
                    live.get(key).map(String::as_str).unwrap_or("") == value.as_str()
                })
            }
            Err(_) => false,
        }
    }
}
