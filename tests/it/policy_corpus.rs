//! The policy corpus (`tests/policies/<case>.json`): each policy's analysis,
//! in plain words and as JSON, snapshotted per case; and the finding codes
//! each case must have, written out here so that a snapshot accepted by
//! mistake still fails.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use fleetcert::analysis::{self, FindingCode};

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/policies")
}

/// Every case and the codes it must yield (none for a sound policy).
const EXPECTED: &[(&str, &[&str])] = &[
    ("account-wide-arn", &["WILDCARD_RESOURCE"]),
    ("action-pattern", &["ACTION_PATTERN"]),
    ("client-id-topics-with-bound-connect", &[]),
    (
        "client-id-topics-with-open-connect",
        &["CONNECT_NOT_BOUND", "TOPIC_NOT_BOUND"],
    ),
    ("conditional-deny-keeps-allow", &[]),
    ("connect-any-client", &["CONNECT_NOT_BOUND"]),
    ("connect-client-id-attached", &[]),
    ("connect-client-id-unattached", &["CONNECT_NOT_BOUND"]),
    ("connect-fixed-client", &["CONNECT_NOT_BOUND"]),
    ("dead-allow", &["DEAD_ALLOW"]),
    ("everything", &["WILDCARD_ACTION", "WILDCARD_RESOURCE"]),
    ("iot-star-on-own-topics", &["WILDCARD_ACTION"]),
    ("jobs-least-privilege", &[]),
    ("least-privilege", &[]),
    ("mqtt-wildcard-in-deny", &["MQTT_WILDCARD_IN_DENY"]),
    ("resource-type-mismatch", &["RESOURCE_TYPE_MISMATCH"]),
    ("shadow-of-any-thing", &["THING_NOT_BOUND"]),
    ("shared-broadcast-topic", &["TOPIC_NOT_BOUND"]),
    ("subscribe-to-all", &["TOPIC_NOT_BOUND"]),
    ("thing-name-prefix", &["TOPIC_NOT_BOUND"]),
    ("unknown-variable", &["UNKNOWN_POLICY_VARIABLE"]),
];

fn document(case: &str) -> serde_json::Value {
    let path = corpus_dir().join(format!("{case}.json"));
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

#[test]
fn every_corpus_file_has_an_expectation() {
    let mut files: Vec<String> = std::fs::read_dir(corpus_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .map(|p| p.file_stem().unwrap().to_string_lossy().into_owned())
        .collect();
    files.sort();
    let expected: Vec<&str> = EXPECTED.iter().map(|(case, _)| *case).collect();
    assert_eq!(files, expected);
}

#[test]
fn each_policy_has_exactly_its_expected_findings() {
    for (case, codes) in EXPECTED {
        let found: BTreeSet<FindingCode> = analysis::analyze(&document(case))
            .findings
            .iter()
            .map(|f| f.code)
            .collect();
        let wanted: BTreeSet<FindingCode> = codes.iter().map(|c| c.parse().unwrap()).collect();
        assert_eq!(found, wanted, "{case}");
    }
}

#[test]
fn each_policy_analysis_is_snapshotted_in_text_and_json() {
    for (case, _) in EXPECTED {
        let review = analysis::review(&document(case), &BTreeSet::new());
        let mut text = String::new();
        fleetcert::render::review::review_lines(&mut text, &review, false, "");
        snapshot!(format!("policy-{case}"), text);
        let json =
            serde_json::to_string_pretty(&analysis::analyze(&document(case)).findings).unwrap();
        snapshot!(format!("policy-{case}.json"), json);
    }
}
