use std::collections::BTreeSet;

use serde_json::json;

use super::*;

fn policy(statements: serde_json::Value) -> serde_json::Value {
    json!({"Version": "2012-10-17", "Statement": statements})
}

#[test]
fn statements_read_as_plain_words() {
    let doc = policy(json!([
        {"Effect": "Allow", "Action": "iot:Connect",
         "Resource": "arn:aws:iot:*:*:client/${iot:Connection.Thing.ThingName}"},
        {"Effect": "Allow", "Action": ["iot:Publish", "iot:Receive"],
         "Resource": "arn:aws:iot:*:*:topic/plant/${iot:Connection.Thing.ThingName}/*"},
        {"Effect": "Deny", "Action": "iot:*", "Resource": "*",
         "Condition": {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}},
    ]));
    assert_eq!(
        analyze(&doc).statements,
        [
            "Allow connect on client id <thing name>",
            "Allow publish, receive on topic plant/<thing name>/*",
            "Deny every IoT action on every resource if IpAddress aws:SourceIp",
        ]
    );
}

#[test]
fn findings_come_most_severe_first() {
    let doc = policy(json!([
        {"Effect": "Allow", "Action": "iot:Receive",
         "Resource": "arn:aws:iot:*:*:topic/shared"},
        {"Effect": "Allow", "Action": "*", "Resource": "*"},
    ]));
    let severities: Vec<Severity> = analyze(&doc).findings.iter().map(|f| f.severity).collect();
    let mut sorted = severities.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(severities, sorted);
    assert_eq!(severities.first(), Some(&Severity::Critical));
    assert_eq!(severities.last(), Some(&Severity::Medium));
}

#[test]
fn a_deny_statement_is_not_reported_as_permissive() {
    let doc = policy(json!([{"Effect": "Deny", "Action": "*", "Resource": "*"}]));
    assert!(analyze(&doc).findings.is_empty());
}

#[test]
fn accepted_codes_mark_findings_and_unused_ones_are_listed() {
    let doc = policy(json!([
        {"Effect": "Allow", "Action": "iot:Connect",
         "Resource": "arn:aws:iot:*:*:client/${iot:Connection.Thing.ThingName}"},
        {"Effect": "Allow", "Action": "iot:Receive", "Resource": "arn:aws:iot:*:*:topic/shared"},
    ]));
    let accepted = BTreeSet::from([FindingCode::TopicNotBound, FindingCode::DeadAllow]);
    let review = review(&doc, &accepted);
    assert_eq!(review.findings.len(), 1);
    assert!(review.findings[0].accepted);
    assert_eq!(review.unaccepted().count(), 0);
    assert_eq!(review.unused_acceptances, [FindingCode::DeadAllow]);
}

#[test]
fn finding_codes_parse_from_their_names_only() {
    for code in FindingCode::ALL {
        assert_eq!(code.as_str().parse::<FindingCode>(), Ok(*code));
        let json = serde_json::to_string(code).unwrap();
        assert_eq!(json, format!("\"{code}\""));
    }
    assert!("topic_not_bound".parse::<FindingCode>().is_err());
}

#[test]
fn a_lower_case_action_is_the_same_action() {
    let doc = policy(json!([
        {"Effect": "Allow", "Action": "IOT:connect", "Resource": "arn:aws:iot:*:*:client/*"},
    ]));
    let codes: Vec<FindingCode> = analyze(&doc).findings.iter().map(|f| f.code).collect();
    assert_eq!(codes, [FindingCode::ConnectNotBound]);
}
