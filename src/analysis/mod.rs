//! Policy analysis: what an IoT policy grants, in plain words, and what in it
//! is dangerous. Pure: a policy document in, statements and findings out.
//!
//! The findings follow AWS IoT Device Defender's audit checks, which AWS runs
//! only after a policy is live:
//! - "AWS IoT policies overly permissive" (IOT_POLICY_OVERLY_PERMISSIVE_CHECK,
//!   https://docs.aws.amazon.com/iot-device-defender/latest/devguide/audit-chk-iot-policy-permissive.html):
//!   connect rights to any client id, publish/subscribe/receive and shadow or
//!   job access for a broad set of devices, `*` resources.
//! - "AWS IoT policy potentially misconfigured" (IOT_POLICY_POTENTIAL_MISCONFIGURATION_CHECK,
//!   https://docs.aws.amazon.com/iot/latest/developerguide/audit-chk-iot-misconfigured-policies.html):
//!   MQTT wildcards in a Deny, which IoT policies treat as literal characters.
//!
//! and on the IoT policy documentation: policy variables
//! (https://docs.aws.amazon.com/iot/latest/developerguide/iot-policy-variables.html)
//! and the resource each action authorises
//! (https://docs.aws.amazon.com/iot/latest/developerguide/iot-action-resources.html).

pub mod access;
mod actions;
mod glob;
mod resource;
mod rules;
mod statement;
mod variables;

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

pub use statement::Statement;

/// How much a finding matters, in Device Defender's scale.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Low,
    Medium,
    High,
    Critical,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        })
    }
}

macro_rules! finding_codes {
    ($($(#[$doc:meta])* $variant:ident => $code:literal,)*) => {
        /// What a finding is about: a closed set, each with a stable code that
        /// `allow_findings` names and the JSON plan carries.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        pub enum FindingCode {
            $($(#[$doc])* #[serde(rename = $code)] $variant,)*
        }

        impl FindingCode {
            pub const ALL: &'static [FindingCode] = &[$(FindingCode::$variant,)*];

            pub fn as_str(self) -> &'static str {
                match self {
                    $(FindingCode::$variant => $code,)*
                }
            }
        }
    };
}

finding_codes! {
    /// `*` or `iot:*`: every IoT action, jobs and shadows included.
    WildcardAction => "WILDCARD_ACTION",
    /// An action pattern such as `iot:*Shadow` that matches several actions.
    ActionPattern => "ACTION_PATTERN",
    /// `Resource: "*"`: every client id, topic and thing in the account.
    WildcardResource => "WILDCARD_RESOURCE",
    /// iot:Connect to client ids not bound to the thing name.
    ConnectNotBound => "CONNECT_NOT_BOUND",
    /// Publish, subscribe or receive on topics not bound to the thing name.
    TopicNotBound => "TOPIC_NOT_BOUND",
    /// Shadow or job-execution rights on things other than the device's own.
    ThingNotBound => "THING_NOT_BOUND",
    /// A `${...}` that AWS IoT does not define: the resource never matches.
    UnknownPolicyVariable => "UNKNOWN_POLICY_VARIABLE",
    /// `+` or `#` in a Deny: literal in IoT policies, so it denies little.
    MqttWildcardInDeny => "MQTT_WILDCARD_IN_DENY",
    /// An Allow that a Deny without conditions covers entirely.
    DeadAllow => "DEAD_ALLOW",
    /// An action given only resources of a kind it never authorises.
    ResourceTypeMismatch => "RESOURCE_TYPE_MISMATCH",
}

impl fmt::Display for FindingCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `allow_findings` names a code that does not exist.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown finding code `{0}`")]
pub struct UnknownFindingCode(pub String);

impl FromStr for FindingCode {
    type Err = UnknownFindingCode;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        FindingCode::ALL
            .iter()
            .copied()
            .find(|code| code.as_str() == text)
            .ok_or_else(|| UnknownFindingCode(text.to_string()))
    }
}

/// One thing a reviewer should know about a policy.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Finding {
    pub code: FindingCode,
    pub severity: Severity,
    /// The statement it is about, counted from 1.
    pub statement: usize,
    /// A sentence a reviewer understands.
    pub message: String,
}

/// A policy document analysed.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Analysis {
    /// Each statement in plain words, in document order.
    pub statements: Vec<String>,
    /// Most severe first, then by statement.
    pub findings: Vec<Finding>,
}

/// Analyse a policy document whose shape the spec loader already checked
/// (an object with a list of statements, each with Effect, Action and
/// Resource). Anything else yields no statements.
pub fn analyze(document: &serde_json::Value) -> Analysis {
    let statements = Statement::all(document);
    let mut findings = rules::findings(&statements);
    findings.sort_by(|a, b| {
        (
            std::cmp::Reverse(a.severity),
            a.statement,
            a.code,
            &a.message,
        )
            .cmp(&(
                std::cmp::Reverse(b.severity),
                b.statement,
                b.code,
                &b.message,
            ))
    });
    findings.dedup();
    Analysis {
        statements: statements.iter().map(Statement::words).collect(),
        findings,
    }
}

#[cfg(test)]
mod tests;

/// A finding, and whether the spec accepts it (`allow_findings`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReviewedFinding {
    #[serde(flatten)]
    pub finding: Finding,
    pub accepted: bool,
}

/// A policy reviewed against what its spec accepts.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Review {
    /// Each statement in plain words.
    pub statements: Vec<String>,
    pub findings: Vec<ReviewedFinding>,
    /// Codes `allow_findings` accepts that the policy no longer has.
    pub unused_acceptances: Vec<FindingCode>,
}

impl Review {
    /// The findings the spec does not accept.
    pub fn unaccepted(&self) -> impl Iterator<Item = &Finding> {
        self.findings
            .iter()
            .filter(|f| !f.accepted)
            .map(|f| &f.finding)
    }
}

/// Analyse `document` and mark the findings whose code `accepted` names.
pub fn review(
    document: &serde_json::Value,
    accepted: &std::collections::BTreeSet<FindingCode>,
) -> Review {
    let analysis = analyze(document);
    let unused_acceptances = accepted
        .iter()
        .copied()
        .filter(|code| !analysis.findings.iter().any(|f| f.code == *code))
        .collect();
    Review {
        statements: analysis.statements,
        findings: analysis
            .findings
            .into_iter()
            .map(|finding| ReviewedFinding {
                accepted: accepted.contains(&finding.code),
                finding,
            })
            .collect(),
        unused_acceptances,
    }
}
