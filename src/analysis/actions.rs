//! Policy actions: the AWS IoT data-plane actions a device policy grants,
//! the resource kind each authorises and its name in plain words.
//! https://docs.aws.amazon.com/iot/latest/developerguide/iot-action-resources.html

use super::glob;
use super::resource::Kind;

/// The IoT actions a device policy is about, with the resource each authorises.
pub const IOT_ACTIONS: &[(&str, Kind, &str)] = &[
    ("iot:Connect", Kind::Client, "connect"),
    ("iot:Publish", Kind::Topic, "publish"),
    (
        "iot:RetainPublish",
        Kind::Topic,
        "publish retained messages",
    ),
    ("iot:Receive", Kind::Topic, "receive"),
    ("iot:Subscribe", Kind::TopicFilter, "subscribe"),
    (
        "iot:GetRetainedMessage",
        Kind::Topic,
        "read retained messages",
    ),
    ("iot:GetThingShadow", Kind::Thing, "read shadows"),
    ("iot:UpdateThingShadow", Kind::Thing, "update shadows"),
    ("iot:DeleteThingShadow", Kind::Thing, "delete shadows"),
    (
        "iot:ListNamedShadowsForThing",
        Kind::Thing,
        "list named shadows",
    ),
    (
        "iot:DescribeJobExecution",
        Kind::Thing,
        "describe job executions",
    ),
    (
        "iot:GetPendingJobExecutions",
        Kind::Thing,
        "list pending job executions",
    ),
    (
        "iot:StartNextPendingJobExecution",
        Kind::Thing,
        "start job executions",
    ),
    (
        "iot:UpdateJobExecution",
        Kind::Thing,
        "update job executions",
    ),
    (
        "iot:AssumeRoleWithCertificate",
        Kind::RoleAlias,
        "assume IAM roles",
    ),
];

/// An action as a statement names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Action {
    pub text: String,
}

impl Action {
    pub fn parse(text: &str) -> Action {
        Action {
            text: text.to_string(),
        }
    }

    /// `*` or `iot:*`.
    pub fn is_service_wide(&self) -> bool {
        self.text == "*" || self.text.eq_ignore_ascii_case("iot:*")
    }

    pub fn is_pattern(&self) -> bool {
        self.text.contains(['*', '?'])
    }

    /// The known IoT actions this one grants (several for a pattern).
    pub fn covers(&self) -> Vec<&'static (&'static str, Kind, &'static str)> {
        IOT_ACTIONS
            .iter()
            .filter(|(name, ..)| glob::matches(&self.text, name, true))
            .collect()
    }

    /// Whether this action grants `name` (an IoT action).
    pub fn grants(&self, name: &str) -> bool {
        glob::matches(&self.text, name, true)
    }

    pub fn words(&self) -> String {
        if self.text == "*" {
            return "every action of every service".into();
        }
        if self.text.eq_ignore_ascii_case("iot:*") {
            return "every IoT action".into();
        }
        if self.is_pattern() {
            return format!("every action matching {}", self.text);
        }
        match IOT_ACTIONS
            .iter()
            .find(|(name, ..)| name.eq_ignore_ascii_case(&self.text))
        {
            Some((.., words)) => (*words).to_string(),
            None => self.text.clone(),
        }
    }
}
