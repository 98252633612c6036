//! Name patterns of the AWS resources a spec names. Hand-written matchers
//! for the documented regular expressions (no regex engine needed for
//! character classes and lengths).

fn chars_ok(text: &str, min: usize, max: usize, allowed: impl Fn(char) -> bool) -> bool {
    let count = text.chars().count();
    (min..=max).contains(&count) && text.chars().all(allowed)
}

/// The fleet name: `[A-Za-z0-9_-]{1,64}`.
pub fn is_fleet_name(text: &str) -> bool {
    chars_ok(text, 1, 64, |c| {
        c.is_ascii_alphanumeric() || c == '_' || c == '-'
    })
}

/// An IoT thing name (and thing type name): `[a-zA-Z0-9:_-]{1,128}`.
pub fn is_thing_name(text: &str) -> bool {
    chars_ok(text, 1, 128, |c| {
        c.is_ascii_alphanumeric() || matches!(c, ':' | '_' | '-')
    })
}

/// An IoT thing attribute name: `[a-zA-Z0-9_.,@/:#-]{1,128}`.
pub fn is_attribute_name(text: &str) -> bool {
    chars_ok(text, 1, 128, |c| {
        c.is_ascii_alphanumeric() || "_.,@/:#-".contains(c)
    })
}

/// An IoT thing attribute value: `[a-zA-Z0-9_.,@/:#=\[\]-]{0,800}`.
pub fn is_attribute_value(text: &str) -> bool {
    chars_ok(text, 0, 800, |c| {
        c.is_ascii_alphanumeric() || "_.,@/:#=[]-".contains(c)
    })
}

/// An IoT policy name: `[\w+=,.@-]{1,128}`.
pub fn is_policy_name(text: &str) -> bool {
    chars_ok(text, 1, 128, |c| {
        c.is_ascii_alphanumeric() || "_+=,.@-".contains(c)
    })
}

/// An AWS region: `[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-\d`.
pub fn is_region(text: &str) -> bool {
    let parts: Vec<&str> = text.split('-').collect();
    let lower = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_lowercase());
    let (head, middle, tail) = match parts.as_slice() {
        [head, middle @ .., last] => (*head, middle, *last),
        _ => return false,
    };
    if head.len() != 2
        || !lower(head)
        || tail.len() != 1
        || !tail.chars().all(|c| c.is_ascii_digit())
    {
        return false;
    }
    match middle {
        [name] => lower(name),
        [partition, name] => {
            (*partition == "gov" || (partition.starts_with("iso") && lower(partition)))
                && lower(name)
        }
        _ => false,
    }
}

/// A certificate id as IoT gives it: 64 lowercase hex digits.
pub fn is_certificate_id(text: &str) -> bool {
    text.len() == 64 && text.chars().all(|c| matches!(c, '0'..='9' | 'a'..='f'))
}

/// A lowercase UUID `8-4-4-4-12`.
fn is_uuid(text: &str) -> bool {
    let groups: Vec<&str> = text.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, n)| g.len() == n && g.chars().all(|c| matches!(c, '0'..='9' | 'a'..='f')))
}

/// The parts of a PCA CA ARN:
/// `arn:aws[-a-z]*:acm-pca:<region>:<12 digits>:certificate-authority/<uuid>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaArn<'a> {
    pub partition: &'a str,
    pub region: &'a str,
    pub account: &'a str,
    pub id: &'a str,
}

/// Parses a CA ARN, or says what is wrong with it.
pub fn parse_ca_arn(text: &str) -> Result<CaArn<'_>, &'static str> {
    let parts: Vec<&str> = text.splitn(6, ':').collect();
    let [arn, partition, service, region, account, resource] = parts.as_slice() else {
        return Err("an ARN has six parts separated by `:`");
    };
    if *arn != "arn" {
        return Err("an ARN starts with `arn:`");
    }
    let partition_ok = partition
        .strip_prefix("aws")
        .is_some_and(|rest| rest.chars().all(|c| c.is_ascii_lowercase() || c == '-'));
    if !partition_ok {
        return Err("the partition must be `aws` or `aws-<name>`");
    }
    if *service != "acm-pca" {
        return Err("the service must be `acm-pca`");
    }
    if !is_region(region) {
        return Err("the region part is not an AWS region");
    }
    if account.len() != 12 || !account.chars().all(|c| c.is_ascii_digit()) {
        return Err("the account part must be 12 digits");
    }
    let Some(id) = resource.strip_prefix("certificate-authority/") else {
        return Err("the resource must be `certificate-authority/<id>`");
    };
    if !is_uuid(id) {
        return Err("the CA id must be a lowercase UUID");
    }
    Ok(CaArn {
        partition,
        region,
        account,
        id,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_iot_patterns() {
        assert!(is_thing_name("sensor-001:a_b"));
        assert!(!is_thing_name("sensor 001"));
        assert!(!is_thing_name(""));
        assert!(!is_thing_name(&"a".repeat(129)));
        assert!(is_attribute_name("a.b,c@d/e:f#g-h_i"));
        assert!(!is_attribute_name("a=b"));
        assert!(is_attribute_value(""));
        assert!(is_attribute_value("x=[1]"));
        assert!(!is_attribute_value("a b"));
        assert!(!is_attribute_value(&"a".repeat(801)));
        assert!(is_policy_name("Tele+metry=1,.@-_"));
        assert!(!is_policy_name("tele/metry"));
        assert!(is_fleet_name("factory-a_1"));
        assert!(!is_fleet_name("factory.a"));
    }

    #[test]
    fn regions_and_arns() {
        for ok in [
            "ap-northeast-1",
            "us-gov-west-1",
            "us-isob-east-1",
            "eu-central-2",
        ] {
            assert!(is_region(ok), "{ok}");
        }
        for bad in [
            "tokyo",
            "ap-northeast",
            "AP-northeast-1",
            "ap-northeast-12",
            "a-b-1",
            "us-gav-west-1",
        ] {
            assert!(!is_region(bad), "{bad}");
        }
        let arn = "arn:aws:acm-pca:ap-northeast-1:123456789012:certificate-authority/0b2f6a3e-1c4d-4e5f-8a9b-0c1d2e3f4a5b";
        let parsed = parse_ca_arn(arn).unwrap();
        assert_eq!(parsed.region, "ap-northeast-1");
        assert_eq!(parsed.account, "123456789012");
        assert!(parse_ca_arn("arn:aws-cn:acm-pca:cn-north-1:123456789012:certificate-authority/0b2f6a3e-1c4d-4e5f-8a9b-0c1d2e3f4a5b").is_ok());
        assert!(parse_ca_arn("arn:aws:acm:ap-northeast-1:123456789012:certificate-authority/0b2f6a3e-1c4d-4e5f-8a9b-0c1d2e3f4a5b").is_err());
        assert!(parse_ca_arn("arn:aws:acm-pca:ap-northeast-1:12345:certificate-authority/0b2f6a3e-1c4d-4e5f-8a9b-0c1d2e3f4a5b").is_err());
        assert!(
            parse_ca_arn("arn:aws:acm-pca:ap-northeast-1:123456789012:certificate-authority/xyz")
                .is_err()
        );
    }

    #[test]
    fn certificate_ids() {
        assert!(is_certificate_id(&"ab".repeat(32)));
        assert!(!is_certificate_id(&"AB".repeat(32)));
    }
}
