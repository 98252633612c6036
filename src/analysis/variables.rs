//! The policy variables AWS IoT Core defines.
//!
//! Basic: https://docs.aws.amazon.com/iot/latest/developerguide/basic-policy-variables.html
//! Thing: https://docs.aws.amazon.com/iot/latest/developerguide/thing-policy-variables.html
//! X.509: https://docs.aws.amazon.com/iot/latest/developerguide/cert-policy-variables.html

const BASIC: &[&str] = &[
    "aws:SourceIp",
    "iot:ClientId",
    "iot:DomainName",
    "iot:CertificateId",
    "iot:Connection.Thing.ThingName",
    "iot:Connection.Thing.ThingTypeName",
    "iot:Connection.Thing.IsAttached",
    "iot:Certificate.SerialNumber",
];

/// The distinguished-name attributes of `iot:Certificate.Subject.*` and
/// `iot:Certificate.Issuer.*`.
const NAME_ATTRIBUTES: &[&str] = &[
    "DistinguishedNameQualifier",
    "Country",
    "Organization",
    "OrganizationalUnit",
    "State",
    "CommonName",
    "SerialNumber",
    "Title",
    "Surname",
    "GivenName",
    "Initials",
    "Pseudonym",
    "GenerationQualifier",
];

/// The attributes of `iot:Certificate.Subject.AlternativeName.*` and
/// `iot:Certificate.Issuer.AlternativeName.*`.
const ALTERNATIVE_NAMES: &[&str] = &[
    "RFC822Name",
    "DNSName",
    "DirectoryName",
    "UniformResourceIdentifier",
    "IPAddress",
];

/// Whether `name` (the text inside `${...}`) is a variable IoT resolves.
pub fn is_known(name: &str) -> bool {
    if BASIC.contains(&name) {
        return true;
    }
    if let Some(attribute) = name
        .strip_prefix("iot:Connection.Thing.Attributes[")
        .and_then(|rest| rest.strip_suffix(']'))
    {
        return !attribute.is_empty();
    }
    for side in ["iot:Certificate.Subject.", "iot:Certificate.Issuer."] {
        if let Some(rest) = name.strip_prefix(side) {
            if let Some(alternative) = rest.strip_prefix("AlternativeName.") {
                return ALTERNATIVE_NAMES.contains(&alternative);
            }
            return NAME_ATTRIBUTES.contains(&rest);
        }
    }
    false
}

/// Every `${...}` in `text`, without the braces.
pub fn in_text(text: &str) -> Vec<&str> {
    let mut found = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else { break };
        found.push(&after[..end]);
        rest = &after[end + 1..];
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documented_variables_are_known_and_typos_are_not() {
        assert!(is_known("iot:Connection.Thing.ThingName"));
        assert!(is_known("iot:Connection.Thing.Attributes[line]"));
        assert!(is_known("iot:Certificate.Subject.CommonName"));
        assert!(is_known("iot:Certificate.Issuer.AlternativeName.DNSName"));
        assert!(!is_known("iot:Connection.Thing.Name"));
        assert!(!is_known("iot:ThingName"));
        assert!(!is_known("iot:Certificate.Subject.Nickname"));
        assert!(!is_known("iot:Connection.Thing.Attributes[]"));
    }

    #[test]
    fn variables_are_found_in_text() {
        assert_eq!(
            in_text("topic/${iot:ClientId}/x/${iot:Connection.Thing.ThingName}"),
            ["iot:ClientId", "iot:Connection.Thing.ThingName"]
        );
        assert!(in_text("topic/${unclosed").is_empty());
    }
}
