//! Can a device use its own jobs? A device under job delivery must take its
//! rotation job and report it, or it never confirms and its old certificate
//! never retires. AWS's "Basic job policy example"
//! (https://docs.aws.amazon.com/iot/latest/developerguide/basic-jobs-example.html)
//! grants both ways a device can take jobs: MQTT (iot:Publish and iot:Receive
//! on `topic/$aws/things/<thing>/jobs/*`, iot:Subscribe on
//! `topicfilter/$aws/things/<thing>/jobs/*`) and the HTTPS data plane
//! (`iotjobsdata:StartNextPendingJobExecution`, `iotjobsdata:UpdateJobExecution`
//! ... on `thing/<thing>`; the `iot:` spelling of those actions counts too).
//! A device needs one of the two whole.
//!
//! Evaluation is deliberately one-sided: an Allow counts only without
//! conditions (or with just `iot:Connection.Thing.IsAttached`, which a
//! fleetcert device meets), a Deny counts only without conditions. The client
//! id is taken to be the thing name, as AWS recommends.

use serde_json::Value;

use super::glob;
use super::statement::Statement;

/// One permission a way of taking jobs needs: an action on a resource
/// (`<kind>/<name>`).
struct Need {
    action: &'static str,
    resource: String,
    words: String,
}

fn mqtt(thing: &str) -> Vec<Need> {
    let topic = |t: &str| format!("$aws/things/{thing}/jobs/{t}");
    let need = |action, kind: &str, name: String, words: String| Need {
        action,
        resource: format!("{kind}/{name}"),
        words,
    };
    vec![
        need(
            "iot:Subscribe",
            "topicfilter",
            topic("notify-next"),
            format!("subscribe to {}", topic("notify-next")),
        ),
        need(
            "iot:Receive",
            "topic",
            topic("notify-next"),
            format!("receive {}", topic("notify-next")),
        ),
        need(
            "iot:Publish",
            "topic",
            topic("start-next"),
            format!("publish to {}", topic("start-next")),
        ),
        need(
            "iot:Receive",
            "topic",
            topic("start-next/accepted"),
            format!("receive {}", topic("start-next/accepted")),
        ),
        need(
            "iot:Publish",
            "topic",
            topic("fleetcert-job/update"),
            format!("publish to {}", topic("<job id>/update")),
        ),
        need(
            "iot:Receive",
            "topic",
            topic("fleetcert-job/update/accepted"),
            format!("receive {}", topic("<job id>/update/accepted")),
        ),
    ]
}

/// The HTTPS data plane's needs, once per spelling of the actions.
fn https(thing: &str, service: &str) -> Vec<Need> {
    let actions: &[&'static str] = if service == "iot" {
        &["iot:StartNextPendingJobExecution", "iot:UpdateJobExecution"]
    } else {
        &[
            "iotjobsdata:StartNextPendingJobExecution",
            "iotjobsdata:UpdateJobExecution",
        ]
    };
    actions
        .iter()
        .map(|action| Need {
            action,
            resource: format!("thing/{thing}"),
            words: format!("call {action} on thing {thing}"),
        })
        .collect()
}

/// `${...}` variables a device's own values replace.
fn substitute(text: &str, thing: &str) -> String {
    text.replace("${iot:Connection.Thing.ThingName}", thing)
        .replace("${iot:ClientId}", thing)
}

/// The part of a resource ARN after the account: `<kind>/<name>` (or the
/// whole text for `*`).
fn after_account(resource: &str) -> &str {
    if resource == "*" {
        return "*";
    }
    resource.splitn(6, ':').nth(5).unwrap_or(resource)
}

fn applies(statement: &Statement, need: &Need, thing: &str) -> bool {
    statement.actions.iter().any(|a| a.grants(need.action))
        && statement.resources.iter().any(|r| {
            let pattern = substitute(after_account(&r.text), thing);
            glob::matches(&pattern, &need.resource, false)
        })
}

fn allowed(statements: &[Statement], need: &Need, thing: &str) -> bool {
    let only_attached = |s: &Statement| {
        s.conditions.is_empty() || (s.requires_attached_thing && s.conditions.len() == 1)
    };
    let allow = statements
        .iter()
        .any(|s| s.allow && only_attached(s) && applies(s, need, thing));
    let deny = statements
        .iter()
        .any(|s| !s.allow && !s.has_conditions() && applies(s, need, thing));
    allow && !deny
}

/// `Ok` when the policies `documents` let `thing` take and report its jobs
/// over MQTT or over HTTPS; else what it may not do, in words (the first
/// missing MQTT permission).
pub fn can_take_jobs(documents: &[&Value], thing: &str) -> Result<(), String> {
    let statements: Vec<Statement> = documents.iter().flat_map(|d| Statement::all(d)).collect();
    statements_let_take_jobs(&statements, thing)
}

/// [`can_take_jobs`] on statements already read (a policy set many devices share).
pub fn statements_let_take_jobs(statements: &[Statement], thing: &str) -> Result<(), String> {
    let missing = |needs: Vec<Need>| needs.into_iter().find(|n| !allowed(statements, n, thing));
    let Some(need) = missing(mqtt(thing)) else {
        return Ok(());
    };
    if missing(https(thing, "iot")).is_none() || missing(https(thing, "iotjobsdata")).is_none() {
        return Ok(());
    }
    Err(need.words)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn doc(statements: Value) -> Value {
        json!({"Version": "2012-10-17", "Statement": statements})
    }

    const ARN: &str = "arn:aws:iot:eu-west-1:123456789012";

    fn mqtt_policy() -> Value {
        doc(json!([
            {"Effect": "Allow", "Action": ["iot:Publish", "iot:Receive"],
             "Resource": format!("{ARN}:topic/$aws/things/${{iot:Connection.Thing.ThingName}}/jobs/*")},
            {"Effect": "Allow", "Action": "iot:Subscribe",
             "Resource": format!("{ARN}:topicfilter/$aws/things/${{iot:Connection.Thing.ThingName}}/jobs/*")},
        ]))
    }

    #[test]
    fn the_documented_mqtt_policy_lets_a_device_take_its_jobs() {
        assert_eq!(can_take_jobs(&[&mqtt_policy()], "sensor-1"), Ok(()));
    }

    #[test]
    fn the_documented_https_policy_is_enough_too() {
        let https = doc(json!([{"Effect": "Allow",
            "Action": ["iotjobsdata:StartNextPendingJobExecution", "iotjobsdata:UpdateJobExecution"],
            "Resource": format!("{ARN}:thing/${{iot:Connection.Thing.ThingName}}")}]));
        assert_eq!(can_take_jobs(&[&https], "sensor-1"), Ok(()));
        let half = doc(json!([{"Effect": "Allow",
            "Action": ["iot:StartNextPendingJobExecution"],
            "Resource": format!("{ARN}:thing/sensor-1")}]));
        assert!(can_take_jobs(&[&half], "sensor-1").is_err());
    }

    #[test]
    fn a_telemetry_only_policy_names_what_is_missing() {
        let telemetry = doc(json!([{"Effect": "Allow", "Action": "iot:Publish",
            "Resource": format!("{ARN}:topic/telemetry/${{iot:Connection.Thing.ThingName}}")}]));
        assert_eq!(
            can_take_jobs(&[&telemetry], "sensor-1"),
            Err("subscribe to $aws/things/sensor-1/jobs/notify-next".into())
        );
    }

    #[test]
    fn another_things_topics_do_not_count() {
        let other = doc(json!([
            {"Effect": "Allow", "Action": ["iot:Publish", "iot:Receive", "iot:Subscribe"],
             "Resource": [format!("{ARN}:topic/$aws/things/sensor-2/jobs/*"),
                          format!("{ARN}:topicfilter/$aws/things/sensor-2/jobs/*")]},
        ]));
        assert!(can_take_jobs(&[&other], "sensor-1").is_err());
        assert_eq!(can_take_jobs(&[&other], "sensor-2"), Ok(()));
    }

    #[test]
    fn an_unconditional_deny_wins_and_a_conditional_allow_does_not_count() {
        let deny = doc(json!([{"Effect": "Deny", "Action": "iot:Publish",
            "Resource": format!("{ARN}:topic/$aws/things/*/jobs/start-next")}]));
        assert_eq!(
            can_take_jobs(&[&mqtt_policy(), &deny], "sensor-1"),
            Err("publish to $aws/things/sensor-1/jobs/start-next".into())
        );
        let conditional = doc(
            json!([{"Effect": "Allow", "Action": "iot:*", "Resource": "*",
            "Condition": {"StringEquals": {"iot:Connection.Thing.ThingTypeName": "meter"}}}]),
        );
        assert!(can_take_jobs(&[&conditional], "sensor-1").is_err());
        let attached = doc(
            json!([{"Effect": "Allow", "Action": "iot:*", "Resource": "*",
            "Condition": {"Bool": {"iot:Connection.Thing.IsAttached": "true"}}}]),
        );
        assert_eq!(can_take_jobs(&[&attached], "sensor-1"), Ok(()));
    }

    #[test]
    fn policies_add_up() {
        let publish = doc(
            json!([{"Effect": "Allow", "Action": ["iot:Publish", "iot:Receive"],
            "Resource": format!("{ARN}:topic/$aws/things/${{iot:ClientId}}/jobs/*")}]),
        );
        let subscribe = doc(json!([{"Effect": "Allow", "Action": "iot:Subscribe",
            "Resource": format!("{ARN}:topicfilter/$aws/things/${{iot:ClientId}}/jobs/*")}]));
        assert!(can_take_jobs(&[&publish], "d").is_err());
        assert_eq!(can_take_jobs(&[&publish, &subscribe], "d"), Ok(()));
    }
}
