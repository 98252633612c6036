//! `fleetcert init`, the pure half: the starter files (paths relative to the
//! directory they go to). The spec validates as written: its one device has
//! a key fleetcert generates, and the CSR device is a commented example,
//! since a CSR must be a real file whose CN is the device's name.

use crate::spec::types;

/// The starter fleet.yaml: `fleet` and `region` must already be valid.
const FLEET_YAML: &str = include_str!("fleet.yaml");
/// The device policy: connect as the thing's own name (a certificate
/// attached to that thing), MQTT only under topics named after it. Thing
/// policy variables resolve only when the client id is the thing name:
/// https://docs.aws.amazon.com/iot/latest/developerguide/thing-policy-variables.html
/// and IsAttached: https://docs.aws.amazon.com/iot/latest/developerguide/thing-policy-examples.html
const DEVICE_POLICY: &str = include_str!("device.json");
const GITIGNORE: &str = include_str!("gitignore");

/// The longest CA common name the spec accepts.
const MAX_COMMON_NAME: usize = 64;

/// Why the starter cannot be written for these values.
pub fn check(fleet: &str, region: Option<&str>) -> Result<(), String> {
    if !types::is_fleet_name(fleet) {
        return Err(format!(
            "--fleet {fleet:?}: a fleet name is 1 to 64 of A-Z a-z 0-9 _ -"
        ));
    }
    match region {
        Some(region) if !types::is_region(region) => Err(format!(
            "--region {region:?} is not an AWS region (e.g. ap-northeast-1)"
        )),
        _ => Ok(()),
    }
}

/// Every starter file: (relative path, contents).
pub fn files(fleet: &str, region: Option<&str>) -> Vec<(&'static str, String)> {
    vec![
        ("fleet.yaml", fleet_yaml(fleet, region)),
        ("policies/device.json", DEVICE_POLICY.to_owned()),
        (".gitignore", GITIGNORE.to_owned()),
        ("schema/fleet.schema.json", crate::spec::json_schema()),
    ]
}

fn fleet_yaml(fleet: &str, region: Option<&str>) -> String {
    let region = match region {
        Some(region) => format!("region: {region}"),
        None => {
            "# region: us-east-1       # when absent: the AWS chain's (AWS_REGION, the profile)"
                .to_owned()
        }
    };
    let name = crate::import::scalar(fleet);
    let mut ca = format!("{fleet} Root CA");
    if ca.len() > MAX_COMMON_NAME {
        ca = fleet.to_owned();
    }
    if name != fleet {
        ca = serde_json::to_string(&ca).expect("strings serialize");
    }
    FLEET_YAML
        .replace("@FLEET@", &name)
        .replace("@REGION@", &region)
        .replace("@CA_NAME@", &ca)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn awkward_names_are_quoted_and_long_ones_fit() {
        let yaml = fleet_yaml("123", None);
        assert!(yaml.contains("fleet: \"123\"\n"), "{yaml}");
        assert!(yaml.contains("common_name: \"123 Root CA\"\n"), "{yaml}");
        let long = "f".repeat(64);
        let yaml = fleet_yaml(&long, Some("eu-west-1"));
        assert!(yaml.contains(&format!("common_name: {long}\n")), "{yaml}");
        assert!(yaml.contains("region: eu-west-1\n"), "{yaml}");
    }

    #[test]
    fn bad_names_and_regions_are_refused() {
        assert!(check("my-fleet", Some("ap-northeast-1")).is_ok());
        assert!(check("my fleet", None).is_err());
        assert!(check("f", Some("Tokyo")).is_err());
    }
}
