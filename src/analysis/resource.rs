//! Policy resources: `*`, or an IoT ARN
//! `arn:aws:iot:<region>:<account>:<kind>/<name>`.

use super::variables;

pub const THING_NAME: &str = "${iot:Connection.Thing.ThingName}";
pub const CLIENT_ID: &str = "${iot:ClientId}";

/// The resource kinds IoT data-plane actions authorise.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Client,
    Topic,
    TopicFilter,
    Thing,
    RoleAlias,
}

impl Kind {
    fn parse(text: &str) -> Option<Kind> {
        Some(match text {
            "client" => Kind::Client,
            "topic" => Kind::Topic,
            "topicfilter" => Kind::TopicFilter,
            "thing" => Kind::Thing,
            "rolealias" => Kind::RoleAlias,
            _ => return None,
        })
    }

    pub fn words(self) -> &'static str {
        match self {
            Kind::Client => "client id",
            Kind::Topic => "topic",
            Kind::TopicFilter => "topic filter",
            Kind::Thing => "thing",
            Kind::RoleAlias => "role alias",
        }
    }

    pub fn arn_word(self) -> &'static str {
        match self {
            Kind::Client => "client",
            Kind::Topic => "topic",
            Kind::TopicFilter => "topicfilter",
            Kind::Thing => "thing",
            Kind::RoleAlias => "rolealias",
        }
    }
}

/// A resource as a statement names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resource {
    pub text: String,
    /// The kind, when the ARN names one without wildcards.
    pub kind: Option<Kind>,
    /// The part after `<kind>/`, when the ARN names a kind.
    pub name: Option<String>,
}

impl Resource {
    pub fn parse(text: &str) -> Resource {
        let rest = text
            .strip_prefix("arn:")
            .and_then(|r| r.split_once(':'))
            .and_then(|(_partition, r)| r.strip_prefix("iot:"))
            .and_then(|r| r.splitn(3, ':').nth(2));
        let (kind, name) = match rest.and_then(|r| r.split_once('/')) {
            Some((kind, name)) => match Kind::parse(kind) {
                Some(kind) => (Some(kind), Some(name.to_string())),
                None => (None, None),
            },
            None => (None, None),
        };
        Resource {
            text: text.to_string(),
            kind,
            name,
        }
    }

    /// `*`, or an IoT ARN whose kind is itself a wildcard
    /// (`arn:aws:iot:*:*:*`): every resource of the account.
    pub fn is_everything(&self) -> bool {
        if self.text == "*" {
            return true;
        }
        let after_account = self.text.splitn(6, ':').nth(5);
        self.kind.is_none() && after_account.is_some_and(|k| k.starts_with('*'))
    }

    /// Whether this resource may be of `kind` (a wildcard kind may be anything).
    pub fn may_be(&self, kind: Kind) -> bool {
        match self.kind {
            Some(k) => k == kind,
            None => self.is_everything() || self.text.contains(['*', '?']),
        }
    }

    /// Whether the name is bound to one device: a `/`-separated segment is
    /// exactly `variable`, and no wildcard comes before it (so a device can
    /// reach only names under its own).
    pub fn bound_to(&self, variable: &str) -> bool {
        let Some(name) = &self.name else { return false };
        for segment in name.split('/') {
            if segment == variable {
                return true;
            }
            if segment.contains(['*', '?']) {
                return false;
            }
        }
        false
    }

    pub fn has_mqtt_wildcard(&self) -> bool {
        matches!(self.kind, Some(Kind::Topic | Kind::TopicFilter))
            && self
                .name
                .as_deref()
                .is_some_and(|n| n.split('/').any(|s| s == "#" || s == "+"))
    }

    /// The `${...}` variables IoT does not define.
    pub fn unknown_variables(&self) -> Vec<String> {
        variables::in_text(&self.text)
            .into_iter()
            .filter(|v| !variables::is_known(v))
            .map(str::to_string)
            .collect()
    }

    /// In plain words: `topic plant-2/<thing name>/*`.
    pub fn words(&self) -> String {
        if self.is_everything() {
            return "every resource".into();
        }
        match (self.kind, &self.name) {
            (Some(kind), Some(name)) => format!("{} {}", kind.words(), readable(name)),
            _ => self.text.clone(),
        }
    }
}

/// A resource name with its device variables as `<thing name>`, `<client id>`.
pub fn readable(name: &str) -> String {
    name.replace(THING_NAME, "<thing name>")
        .replace(CLIENT_ID, "<client id>")
}
