//! The checks: each looks at the statements and says what a reviewer should
//! know, modelled on Device Defender's audit checks (see `mod.rs`).

use super::actions::IOT_ACTIONS;
use super::resource::{CLIENT_ID, Kind, Resource, THING_NAME, readable};
use super::statement::Statement;
use super::{Finding, FindingCode, Severity, glob};

pub fn findings(statements: &[Statement]) -> Vec<Finding> {
    let connect_bound = connect_is_bound(statements);
    let mut out = Vec::new();
    for s in statements {
        unknown_variables(s, &mut out);
        if s.allow {
            wildcard_actions(s, &mut out);
            wildcard_resources(s, &mut out);
            connect_not_bound(s, &mut out);
            names_not_bound(s, connect_bound, &mut out);
            resource_type_mismatch(s, &mut out);
            dead_allow(s, statements, &mut out);
        } else {
            mqtt_wildcard_in_deny(s, &mut out);
        }
    }
    out
}

fn finding(code: FindingCode, severity: Severity, s: &Statement, message: String) -> Finding {
    Finding {
        code,
        severity,
        statement: s.number,
        message,
    }
}

fn has_wildcard(text: &str) -> bool {
    text.contains(['*', '?'])
}

/// Whether the policy lets a device connect only with its own thing name as
/// the client id, so that `${iot:ClientId}` elsewhere means the thing name.
fn connect_is_bound(statements: &[Statement]) -> bool {
    let mut any = false;
    for s in statements.iter().filter(|s| s.allow) {
        if !s.actions.iter().any(|a| a.grants("iot:Connect")) {
            continue;
        }
        for r in s.resources.iter().filter(|r| r.may_be(Kind::Client)) {
            any = true;
            if !client_is_bound(r, s) {
                return false;
            }
        }
    }
    any
}

fn client_is_bound(r: &Resource, s: &Statement) -> bool {
    r.kind == Some(Kind::Client)
        && (r.bound_to(THING_NAME) || (r.bound_to(CLIENT_ID) && s.requires_attached_thing))
}

fn wildcard_actions(s: &Statement, out: &mut Vec<Finding>) {
    for a in &s.actions {
        if a.is_service_wide() {
            out.push(finding(FindingCode::WildcardAction, Severity::Critical, s, format!(
                "`{}` grants every IoT action: connecting, publishing, subscribing and receiving, but also reading and \
                 changing shadows, job executions and retained messages; name only the actions the device needs",
                a.text
            )));
        } else if a.is_pattern() {
            let names: Vec<&str> = a.covers().iter().map(|(name, ..)| *name).collect();
            let matched = if names.is_empty() {
                "no IoT action a device uses".to_string()
            } else {
                format!("{} IoT actions ({})", names.len(), names.join(", "))
            };
            out.push(finding(FindingCode::ActionPattern, Severity::High, s, format!(
                "the action pattern `{}` matches {matched}, and any action IoT adds later; name the actions instead",
                a.text
            )));
        }
    }
}

fn wildcard_resources(s: &Statement, out: &mut Vec<Finding>) {
    for r in s.resources.iter().filter(|r| r.is_everything()) {
        out.push(finding(FindingCode::WildcardResource, Severity::Critical, s, format!(
            "`{}` applies the statement to every client id, topic and thing in the account, so each device can connect \
             as, and read and write the messages of, every other device; name resources bound to ${{iot:Connection.Thing.ThingName}}",
            r.text
        )));
    }
}

fn connect_not_bound(s: &Statement, out: &mut Vec<Finding>) {
    if !s.actions.iter().any(|a| a.grants("iot:Connect")) {
        return;
    }
    for r in &s.resources {
        // An unknown variable is its own finding; the name means nothing yet.
        if r.is_everything()
            || r.kind != Some(Kind::Client)
            || client_is_bound(r, s)
            || !r.unknown_variables().is_empty()
        {
            continue;
        }
        let name = r.name.as_deref().unwrap_or_default();
        let (severity, why) = if r.bound_to(CLIENT_ID) {
            (
                Severity::Critical,
                format!(
                    "`{}` matches whatever client id a device chooses, as broad as `client/*` unless the statement also \
                 requires iot:Connection.Thing.IsAttached",
                    r.text
                ),
            )
        } else if has_wildcard(name) {
            (
                Severity::Critical,
                format!(
                    "iot:Connect on `{}` lets a device connect with any client id that matches, so one device can take over \
                 another device's session",
                    r.text
                ),
            )
        } else {
            (
                Severity::High,
                format!(
                    "iot:Connect on the fixed client id `{name}` lets every device carrying this policy connect as that one \
                 client, taking over each other's session"
                ),
            )
        };
        out.push(finding(
            FindingCode::ConnectNotBound,
            severity,
            s,
            format!("{why}; use client/${{iot:Connection.Thing.ThingName}}"),
        ));
    }
}

/// Topics, topic filters and things not bound to the device's own name.
fn names_not_bound(s: &Statement, connect_bound: bool, out: &mut Vec<Finding>) {
    for r in &s.resources {
        let Some(kind) = r
            .kind
            .filter(|k| *k != Kind::Client && *k != Kind::RoleAlias)
        else {
            continue;
        };
        let verbs: Vec<&str> = IOT_ACTIONS
            .iter()
            .filter(|(name, k, _)| *k == kind && s.actions.iter().any(|a| a.grants(name)))
            .map(|(.., words)| *words)
            .collect();
        let bound = r.bound_to(THING_NAME) || (connect_bound && r.bound_to(CLIENT_ID));
        // An unknown variable is its own finding; the name means nothing yet.
        if verbs.is_empty() || bound || !r.unknown_variables().is_empty() {
            continue;
        }
        out.push(not_bound(s, r, kind, &verbs.join(", ")));
    }
}

fn not_bound(s: &Statement, r: &Resource, kind: Kind, verbs: &str) -> Finding {
    let name = readable(r.name.as_deref().unwrap_or_default());
    let (code, fix) = match kind {
        Kind::Thing => (
            FindingCode::ThingNotBound,
            "use thing/${iot:Connection.Thing.ThingName}",
        ),
        _ => (
            FindingCode::TopicNotBound,
            "put ${iot:Connection.Thing.ThingName} in it as a whole segment before any wildcard",
        ),
    };
    let what = format!("{verbs} on {} `{name}`", kind.words());
    let (severity, why) = if r.bound_to(CLIENT_ID) {
        (
            Severity::High,
            "is bound to ${iot:ClientId}, which this policy does not tie to the thing name (its \
             iot:Connect is not bound), so a device that connects with another device's client id reaches that \
             device's",
        )
    } else if has_wildcard(&name) {
        (
            Severity::High,
            "is not bound to the device's thing name, so each device carrying this policy also reaches other \
             devices'",
        )
    } else {
        let message = format!(
            "{what}: the name is fixed, so every device carrying this policy shares it; accept it with \
             allow_findings if it is meant to be shared, or {fix}"
        );
        return finding(code, Severity::Medium, s, message);
    };
    let noun = if kind == Kind::Thing {
        "things"
    } else {
        "topics"
    };
    finding(
        code,
        severity,
        s,
        format!("{what}: the name {why} {noun}; {fix}"),
    )
}

fn resource_type_mismatch(s: &Statement, out: &mut Vec<Finding>) {
    for a in s.actions.iter().filter(|a| !a.is_pattern()) {
        let Some((name, kind, _)) = IOT_ACTIONS
            .iter()
            .find(|(name, ..)| name.eq_ignore_ascii_case(&a.text))
        else {
            continue;
        };
        if s.resources.iter().any(|r| r.may_be(*kind)) {
            continue;
        }
        out.push(finding(FindingCode::ResourceTypeMismatch, Severity::Medium, s, format!(
            "{name} authorises {} resources (arn:aws:iot:<region>:<account>:{}/…), and the statement names none, so it \
             grants no {name}",
            kind.words(),
            kind.arn_word()
        )));
    }
}

fn unknown_variables(s: &Statement, out: &mut Vec<Finding>) {
    let mut names: Vec<String> = s
        .resources
        .iter()
        .flat_map(Resource::unknown_variables)
        .collect();
    names.extend(s.condition_variables.iter().cloned());
    names.sort();
    names.dedup();
    for name in names {
        let hint = if name.to_ascii_lowercase().contains("thingname") {
            "; did you mean ${iot:Connection.Thing.ThingName}?"
        } else {
            ""
        };
        out.push(finding(FindingCode::UnknownPolicyVariable, Severity::High, s, format!(
            "`${{{name}}}` is not an AWS IoT policy variable, so it is never replaced and the statement does not match \
             what it was meant to{hint}"
        )));
    }
}

fn mqtt_wildcard_in_deny(s: &Statement, out: &mut Vec<Finding>) {
    for r in s.resources.iter().filter(|r| r.has_mqtt_wildcard()) {
        out.push(finding(FindingCode::MqttWildcardInDeny, Severity::Medium, s, format!(
            "IoT policies treat `#` and `+` as literal characters, so this Deny on `{}` denies only a topic of that very \
             name, not the topics the filter matches; use `*`",
            r.text
        )));
    }
}

/// An Allow whose every action and resource an unconditional Deny covers.
fn dead_allow(s: &Statement, statements: &[Statement], out: &mut Vec<Finding>) {
    let denies: Vec<&Statement> = statements
        .iter()
        .filter(|d| !d.allow && !d.has_conditions())
        .collect();
    let mut by = Vec::new();
    for a in &s.actions {
        for r in &s.resources {
            let covering = denies.iter().find(|d| {
                d.actions
                    .iter()
                    .any(|da| glob::covers(&da.text, &a.text, true))
                    && d.resources
                        .iter()
                        .any(|dr| glob::covers(&dr.text, &r.text, false))
            });
            match covering {
                Some(d) => by.push(d.number),
                None => return,
            }
        }
    }
    by.sort();
    by.dedup();
    if by.is_empty() {
        return;
    }
    let list: Vec<String> = by.iter().map(|n| n.to_string()).collect();
    out.push(finding(FindingCode::DeadAllow, Severity::Medium, s, format!(
        "the Deny in statement {} covers every action and resource of this Allow, so it grants nothing; remove one or the other",
        list.join(" and ")
    )));
}
