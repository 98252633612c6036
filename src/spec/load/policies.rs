//! The `policies` and `thing_types` sections.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;

use super::messages::{clip_message, strip_position};
use super::{Loader, Text};
use crate::analysis::FindingCode;
use crate::spec::diagnostic::{Diagnostic, display_path};
use crate::spec::model::{self, Loc, PolicyDocument, Sp};
use crate::spec::types;
use crate::spec::{MAX_POLICY_CHARS, PolicySpec, ThingTypeSpec};

impl Loader {
    // ---------------------------------------------------------- policies

    pub(super) fn policies(
        &mut self,
        f: &Path,
        policies: &BTreeMap<Text, Sp<model::PolicyFile>>,
    ) -> BTreeMap<String, PolicySpec> {
        let mut out = BTreeMap::new();
        for (name, policy) in policies {
            if !types::is_policy_name(&name.value) {
                self.error(
                    f,
                    name.loc,
                    format!("invalid policy name `{}`", name.value),
                    "an IoT policy name is 1 to 128 letters, digits or `_+=,.@-`",
                );
            }
            let document = &policy.value.document;
            let (value, source) = match &document.value {
                PolicyDocument::Inline(value) => (value.clone(), None),
                PolicyDocument::Path(relative) => {
                    if !self.confined(f, document.loc, relative, "policy document") {
                        continue;
                    }
                    let path = self.resolve(relative);
                    let Some(text) = self.read_text(
                        &path,
                        "policy document",
                        Some((f, document.loc)),
                        super::confine::MAX_POLICY_BYTES,
                    ) else {
                        continue;
                    };
                    self.sources.insert(path.clone(), Arc::from(text.as_str()));
                    match serde_json::from_str::<serde_json::Value>(&text) {
                        Ok(value) => (value, Some(path)),
                        Err(error) => {
                            let loc = Loc {
                                line: u32::try_from(error.line()).unwrap_or(0),
                                column: u32::try_from(error.column()).unwrap_or(0),
                                len: 1,
                            };
                            let message =
                                clip_message(&strip_position(&error.to_string(), " at line "));
                            let diagnostic = Diagnostic::new(
                                &path,
                                loc,
                                format!("policy document `{}` is not JSON: {message}", display_path(&path)),
                            )
                            .note(format!("policy `{}` names it here", name.value), f, document.loc)
                            .hint("an IoT policy document is a JSON object: {\"Version\": \"2012-10-17\", \"Statement\": [...]}");
                            self.push(diagnostic);
                            continue;
                        }
                    }
                }
            };
            let shown = source
                .as_ref()
                .map(|p| format!("policy document `{}`", display_path(p)))
                .unwrap_or_else(|| format!("policy `{}`", name.value));
            let problems = policy_problems(&value);
            if !problems.is_empty() {
                self.error(
                    f,
                    document.loc,
                    format!("{shown} is not an IoT policy: {}", problems.join("; ")),
                    "an IoT policy is {\"Version\": \"2012-10-17\", \"Statement\": [{\"Effect\": \"Allow\" or \"Deny\", \"Action\": ..., \"Resource\": ...}]}; Action and Resource are a string or a list of strings",
                );
            }
            let size = serde_json::to_string(&value)
                .unwrap_or_default()
                .chars()
                .filter(|c| !c.is_whitespace())
                .count();
            if size > MAX_POLICY_CHARS {
                self.error(
                    f,
                    document.loc,
                    format!("{shown} is {size} characters long without whitespace; IoT allows at most {MAX_POLICY_CHARS}"),
                    "split it into several policies and attach them all, or use wildcards and policy variables such as ${iot:Connection.Thing.ThingName}",
                );
            }
            let canonical = crate::spec::canonical_json(&value);
            let allow_findings = self.allow_findings(f, policy.value.allow_findings.as_deref());
            out.insert(
                name.value.clone(),
                PolicySpec {
                    document: value,
                    canonical,
                    source,
                    adopt: policy.value.adopt.unwrap_or(false),
                    allow_findings,
                },
            );
        }
        out
    }

    /// `allow_findings`: each a known finding code.
    fn allow_findings(&mut self, f: &Path, codes: Option<&[Text]>) -> BTreeSet<FindingCode> {
        let mut accepted = BTreeSet::new();
        for code in codes.unwrap_or_default() {
            match code.value.parse::<FindingCode>() {
                Ok(known) => {
                    accepted.insert(known);
                }
                Err(error) => {
                    let codes: Vec<&str> = FindingCode::ALL.iter().map(|c| c.as_str()).collect();
                    self.error(
                        f,
                        code.loc,
                        error.to_string(),
                        format!("the finding codes are {}", codes.join(", ")),
                    );
                }
            }
        }
        accepted
    }

    pub(super) fn thing_types(
        &mut self,
        f: &Path,
        thing_types: &BTreeMap<Text, Sp<model::ThingTypeFile>>,
    ) -> BTreeMap<String, ThingTypeSpec> {
        let mut out = BTreeMap::new();
        for (name, thing_type) in thing_types {
            if !types::is_thing_name(&name.value) {
                self.error(
                    f,
                    name.loc,
                    format!("invalid thing type name `{}`", name.value),
                    "a thing type name is 1 to 128 letters, digits or `:_-`",
                );
            }
            let t = &thing_type.value;
            if let Some(description) = &t.description
                && description.value.chars().count() > 2028
            {
                self.error(
                    f,
                    description.loc,
                    "thing type description is longer than 2028 characters",
                    "IoT limits thing type descriptions to 2028 characters",
                );
            }
            // botocore iot model, ThingTypeDescription: pattern
            // `[\p{Graph}\x20]*`, which in Java is printable ASCII and space.
            if let Some(description) = &t.description
                && let Some(bad) = description.value.chars().find(|c| !(' '..='~').contains(c))
            {
                self.error(
                    f,
                    description.loc,
                    format!("thing type description holds {bad:?}, which IoT refuses"),
                    "IoT takes only printable ASCII and spaces in a thing type description (no tabs, newlines or accents)",
                );
            }
            let searchable: Vec<Text> = t.searchable_attributes.clone().unwrap_or_default();
            if searchable.len() > 3 {
                self.error(
                    f,
                    searchable[3].loc,
                    format!(
                        "thing type `{}` has {} searchable attributes; IoT allows at most 3",
                        name.value,
                        searchable.len()
                    ),
                    "keep three searchable attributes; the others can still be set on things",
                );
            }
            for attribute in &searchable {
                self.attribute_name(f, attribute);
            }
            out.insert(
                name.value.clone(),
                ThingTypeSpec {
                    description: t.description.as_ref().map(|d| d.value.clone()),
                    searchable_attributes: searchable.into_iter().map(|a| a.value).collect(),
                },
            );
        }
        out
    }
}

/// The problems with a policy document's shape.
fn policy_problems(document: &serde_json::Value) -> Vec<String> {
    use serde_json::Value;
    let Value::Object(map) = document else {
        return vec!["a policy document must be a JSON object".into()];
    };
    let mut problems = Vec::new();
    match map.get("Version") {
        Some(Value::String(_)) => {}
        Some(_) => problems.push("`Version` must be a string such as \"2012-10-17\"".into()),
        None => problems.push("`Version` is missing".into()),
    }
    let statements = match map.get("Statement") {
        Some(Value::Array(list)) if !list.is_empty() => list,
        Some(Value::Array(_)) => {
            problems.push("`Statement` is empty".into());
            return problems;
        }
        Some(_) => {
            problems.push("`Statement` must be a list of statements".into());
            return problems;
        }
        None => {
            problems.push("`Statement` is missing".into());
            return problems;
        }
    };
    let strings = |value: Option<&Value>| match value {
        Some(Value::String(s)) => !s.is_empty(),
        Some(Value::Array(items)) => {
            !items.is_empty()
                && items
                    .iter()
                    .all(|i| matches!(i, Value::String(s) if !s.is_empty()))
        }
        _ => false,
    };
    for (index, statement) in statements.iter().enumerate() {
        let n = index + 1;
        let Value::Object(statement) = statement else {
            problems.push(format!("statement {n} must be an object"));
            continue;
        };
        match statement.get("Effect") {
            Some(Value::String(e)) if e == "Allow" || e == "Deny" => {}
            Some(other) => problems.push(format!(
                "statement {n}: `Effect` must be \"Allow\" or \"Deny\", not {other}"
            )),
            None => problems.push(format!("statement {n}: `Effect` is missing")),
        }
        for field in ["Action", "Resource"] {
            if !strings(statement.get(field)) {
                let problem = if statement.contains_key(field) {
                    "must be a string or a non-empty list of strings"
                } else {
                    "is missing"
                };
                problems.push(format!("statement {n}: `{field}` {problem}"));
            }
        }
    }
    problems
}
