//! A policy statement, read from its JSON.

use serde_json::Value;

use super::actions::Action;
use super::resource::Resource;
use super::variables;

/// One statement of a policy document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    /// Counted from 1, as a reviewer counts.
    pub number: usize,
    pub allow: bool,
    pub actions: Vec<Action>,
    pub resources: Vec<Resource>,
    /// The condition keys, as `Operator key` (e.g. `Bool iot:Connection.Thing.IsAttached`).
    pub conditions: Vec<String>,
    /// Whether the statement requires `iot:Connection.Thing.IsAttached` to be true.
    pub requires_attached_thing: bool,
    /// The `${...}` variables in condition values that IoT does not define.
    pub condition_variables: Vec<String>,
}

fn strings(value: Option<&Value>) -> Vec<String> {
    match value {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|i| i.as_str().map(str::to_string))
            .collect(),
        _ => Vec::new(),
    }
}

fn is_true(value: &Value) -> bool {
    match value {
        Value::Bool(b) => *b,
        Value::String(s) => s.eq_ignore_ascii_case("true"),
        Value::Array(items) => !items.is_empty() && items.iter().all(is_true),
        _ => false,
    }
}

/// `(conditions as "Operator key", requires IsAttached)`.
fn conditions(value: Option<&Value>) -> (Vec<String>, bool) {
    let Some(Value::Object(operators)) = value else {
        return (Vec::new(), false);
    };
    let mut keys = Vec::new();
    let mut attached = false;
    for (operator, tests) in operators {
        let Value::Object(tests) = tests else {
            continue;
        };
        for (key, expected) in tests {
            keys.push(format!("{operator} {key}"));
            // Device Defender counts `client/${iot:ClientId}` as bound only
            // with this condition (audit-chk-iot-policy-permissive).
            if operator == "Bool"
                && key.eq_ignore_ascii_case("iot:Connection.Thing.IsAttached")
                && is_true(expected)
            {
                attached = true;
            }
        }
    }
    (keys, attached)
}

/// Unknown `${...}` variables in the strings of a Condition block.
fn unknown_condition_variables(value: Option<&Value>) -> Vec<String> {
    fn walk(value: &Value, out: &mut Vec<String>) {
        match value {
            Value::String(s) => out.extend(
                variables::in_text(s)
                    .into_iter()
                    .filter(|v| !variables::is_known(v))
                    .map(str::to_string),
            ),
            Value::Array(items) => items.iter().for_each(|i| walk(i, out)),
            Value::Object(map) => map.values().for_each(|v| walk(v, out)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    if let Some(value) = value {
        walk(value, &mut out);
    }
    out
}

impl Statement {
    /// The statements of a document; none when it has no statement list.
    pub fn all(document: &Value) -> Vec<Statement> {
        let Some(Value::Array(list)) = document.get("Statement") else {
            return Vec::new();
        };
        list.iter()
            .enumerate()
            .filter_map(|(index, s)| {
                let Value::Object(map) = s else { return None };
                let (conditions, requires_attached_thing) = conditions(map.get("Condition"));
                Some(Statement {
                    number: index + 1,
                    allow: map.get("Effect").and_then(Value::as_str) != Some("Deny"),
                    actions: strings(map.get("Action"))
                        .iter()
                        .map(|a| Action::parse(a))
                        .collect(),
                    resources: strings(map.get("Resource"))
                        .iter()
                        .map(|r| Resource::parse(r))
                        .collect(),
                    conditions,
                    requires_attached_thing,
                    condition_variables: unknown_condition_variables(map.get("Condition")),
                })
            })
            .collect()
    }

    pub fn effect(&self) -> &'static str {
        if self.allow { "Allow" } else { "Deny" }
    }

    /// The statement in plain words, e.g.
    /// `Allow publish, receive on topic plant-2/<thing name>/*`.
    pub fn words(&self) -> String {
        let actions: Vec<String> = self.actions.iter().map(Action::words).collect();
        let resources: Vec<String> = self.resources.iter().map(Resource::words).collect();
        let mut text = format!(
            "{} {} on {}",
            self.effect(),
            actions.join(", "),
            resources.join(", ")
        );
        if !self.conditions.is_empty() {
            text.push_str(&format!(" if {}", self.conditions.join(" and ")));
        }
        text
    }

    pub fn has_conditions(&self) -> bool {
        !self.conditions.is_empty()
    }
}
