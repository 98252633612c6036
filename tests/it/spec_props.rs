//! `spec::load` never panics, whatever the file holds, and always says what
//! is wrong. Most cases are generated from the spec's model (fleet.yaml's
//! fields, each with valid and near-valid values: bad names, durations,
//! algorithms, paths, limits), so that they parse and reach validation; each
//! test counts the cases that did and asserts a lower bound on that count,
//! so a generator that stops reaching validation fails instead of passing
//! on parse errors alone.

use std::cell::Cell;
use std::path::Path;

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

/// What loading one generated fleet.yaml gave.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reached {
    /// Not UTF-8 or not YAML of the model's shape: stopped at parsing.
    Parsing,
    /// Parsed into the model, then refused by validation.
    Refused,
    /// Parsed and valid.
    Valid,
}

/// Load `bytes` as `dir/fleet.yaml`: it must not panic, and an error must
/// render to something. Whether it got past parsing into validation is
/// judged the way the loader parses: into the model, `FleetFile`.
fn load_in(dir: &Path, bytes: &[u8]) -> Reached {
    let path = dir.join("fleet.yaml");
    std::fs::write(&path, bytes).unwrap();
    let parsed = std::str::from_utf8(bytes).ok().is_some_and(|text| {
        serde_saphyr::from_str::<fleetcert::spec::model::FleetFile>(text).is_ok()
    });
    match fleetcert::spec::load(&path) {
        Ok(_) => Reached::Valid,
        Err(errors) => {
            // Rendering must not panic either, and always says something.
            assert!(!errors.render(false).is_empty());
            assert!(!errors.render(true).is_empty());
            if parsed {
                Reached::Refused
            } else {
                Reached::Parsing
            }
        }
    }
}

/// The files generated specs may name: a valid policy document and a CSR
/// for device `sensor-1`, so that those paths pass and others do not.
fn fixture_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("policies")).unwrap();
    std::fs::write(
        dir.path().join("policies/p.json"),
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:Connect","Resource":"*"}]}"#,
    )
    .unwrap();
    std::fs::create_dir_all(dir.path().join("csr")).unwrap();
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    params.distinguished_name = rcgen::DistinguishedName::new();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "sensor-1");
    let csr = params.serialize_request(&key).unwrap().pem().unwrap();
    std::fs::write(dir.path().join("csr/sensor-1.csr"), csr).unwrap();
    dir
}

type Values = &'static [&'static str];

/// A value as YAML: one of `valid` nine times in ten, else one of `near`
/// (a near-valid value validation must refuse).
fn value(valid: Values, near: Values) -> BoxedStrategy<String> {
    let valid = prop::sample::select(valid).prop_map(str::to_string);
    if near.is_empty() {
        return valid.boxed();
    }
    prop_oneof![
        9 => valid,
        1 => prop::sample::select(near).prop_map(str::to_string),
    ]
    .boxed()
}

/// `key: value` (as `value` draws it) half of the time, else nothing.
fn field(key: &'static str, valid: Values, near: Values) -> BoxedStrategy<Option<String>> {
    prop::option::of(value(valid, near))
        .prop_map(move |v| v.map(|v| format!("{key}: {v}")))
        .boxed()
}

/// `key: value`, always.
fn required(key: &'static str, valid: Values, near: Values) -> BoxedStrategy<Option<String>> {
    value(valid, near)
        .prop_map(move |v| Some(format!("{key}: {v}")))
        .boxed()
}

/// A YAML flow mapping of the fields that were drawn.
fn mapping(fields: Vec<BoxedStrategy<Option<String>>>) -> BoxedStrategy<String> {
    fields
        .prop_map(|fields| {
            let fields: Vec<String> = fields.into_iter().flatten().collect();
            format!("{{{}}}", fields.join(", "))
        })
        .boxed()
}

const VALIDITY: (Values, Values) = (
    &["365d", "90d", "12mo", "1y"],
    &["0d", "2w", "\"\"", "36500d"],
);
const RENEW_BEFORE: (Values, Values) = (&["3d", "1d", "12h"], &["3x", "\"\"", "400d"]);
const POLICY_LIST: (Values, Values) = (
    &["[telemetry]", "[]"],
    &["[missing]", "[ota]", "[\"bad name!\"]"],
);
const ATTRIBUTES: (Values, Values) = (
    &["{line: A}", "{line: A, model: x1}", "{}"],
    &[
        "{fleetcert: mine}",
        "{a: b, c: d, e: f}",
        "{\"bad key!\": v}",
    ],
);
const THING_TYPE: (Values, Values) = (&["sensor"], &["nope"]);

fn ca() -> BoxedStrategy<String> {
    let subject = mapping(vec![
        required(
            "common_name",
            &["Root CA", "Example Root"],
            &["\"\"", "\"a\\u0000b\""],
        ),
        field("organization", &["Example Corp"], &["\"\""]),
        field("country", &["JP"], &["JPN", "\"\""]),
    ]);
    let create = mapping(vec![
        subject.prop_map(|s| Some(format!("subject: {s}"))).boxed(),
        field(
            "key_algorithm",
            &["EC_prime256v1"],
            &["RSA_2048", "ED25519"],
        ),
        field(
            "signing_algorithm",
            &["SHA256WITHECDSA"],
            &["SHA256WITHRSA", "MD5"],
        ),
        field("validity", &["10y", "5y", "3650d"], &["0y", "10w", "12h"]),
        prop::option::of(mapping(vec![
            field("mode", &["default", "sni_only"], &["SNI_ONLY", "both"]),
            field("status", &["active", "inactive"], &["pending"]),
            field("auto_registration", &["true", "false"], &[]),
        ]))
        .prop_map(|iot| iot.map(|i| format!("iot: {i}")))
        .boxed(),
    ]);
    let adopt = value(
        &["arn:aws:acm-pca:ap-northeast-1:123456789012:certificate-authority/0b2f6a3e-1c4d-4e5f-8a9b-0c1d2e3f4a5b"],
        &[
            "arn:aws:acm-pca:us-east-1:123456789012:certificate-authority/0b2f6a3e-1c4d-4e5f-8a9b-0c1d2e3f4a5b",
            "arn:aws:acm-pca:nope",
            "\"\"",
        ],
    )
    .prop_map(|arn| format!("{{arn: {arn}}}"));
    prop_oneof![
        8 => create,
        2 => adopt,
        // both, or neither
        1 => Just("{arn: \"arn:aws:acm-pca:ap-northeast-1:123456789012:certificate-authority/x\", subject: {common_name: X}}".to_string()),
        1 => Just("{}".to_string()),
    ]
    .boxed()
}

/// Device `index`: its own name nine times in ten (names must be unique).
fn device(index: usize) -> BoxedStrategy<String> {
    let name = prop_oneof![
        9 => Just(format!("dev-{index}")),
        1 => prop::sample::select(&["\"bad name\"", "\"\"", "fleetcert-lock-x", "dev-0"][..])
            .prop_map(str::to_string),
    ];
    // How the device's key comes: generated (nothing), its CSR (whose CN
    // is sensor-1), an external certificate, or both (refused).
    let key = prop_oneof![
        6 => Just(None),
        1 => Just(Some("csr: csr/sensor-1.csr".to_string())),
        1 => Just(Some("csr: csr/missing.csr".to_string())),
        1 => Just(Some(format!("certificate_id: \"{}\"", "0".repeat(64)))),
        1 => prop::sample::select(&[
            "certificate_id: abc",
            "csr: policies/p.json",
            "csr: csr/sensor-1.csr, certificate_id: abc",
        ][..]).prop_map(|s| Some(s.to_string())),
    ];
    let revoked = prop_oneof![
        6 => Just(None),
        2 => Just(Some("revoked: false".to_string())),
        2 => prop::sample::select(&["", ", revocation_reason: key_compromise", ", revocation_reason: superseded"][..])
            .prop_map(|reason| Some(format!("revoked: true{reason}"))),
        1 => prop::sample::select(&["revocation_reason: superseded", "revoked: true, revocation_reason: stolen"][..])
            .prop_map(|s| Some(s.to_string())),
    ];
    (
        name,
        key,
        revoked,
        mapping(vec![
            field("attributes", ATTRIBUTES.0, ATTRIBUTES.1),
            prop::option::weighted(0.2, value(THING_TYPE.0, THING_TYPE.1))
                .prop_map(|t| t.map(|t| format!("thing_type: {t}")))
                .boxed(),
            field("policies", POLICY_LIST.0, POLICY_LIST.1),
            field("validity", VALIDITY.0, VALIDITY.1),
            field("renew_before", RENEW_BEFORE.0, RENEW_BEFORE.1),
            prop::option::weighted(0.1, Just("adopt: true".to_string())).boxed(),
        ]),
    )
        .prop_map(|(name, key, revoked, rest)| {
            let mut fields = vec![format!("name: {name}")];
            fields.extend(key);
            fields.extend(revoked);
            let rest = &rest[1..rest.len() - 1]; // the fields inside `{...}`
            if !rest.is_empty() {
                fields.push(rest.to_string());
            }
            format!("{{{}}}", fields.join(", "))
        })
        .boxed()
}

/// The spec's policies: always `telemetry` (the defaults name it), maybe
/// `ota`, rarely one with an invalid name.
fn policies() -> BoxedStrategy<String> {
    let document = || {
        value(
            &[
                "policies/p.json",
                "{Version: \"2012-10-17\", Statement: [{Effect: Allow, Action: \"iot:Connect\", Resource: \"*\"}]}",
            ],
            &[
                "policies/missing.json",
                "{Version: \"2012-10-17\", Statement: []}",
                "{Version: \"2012-10-17\", Statement: [{Effect: Maybe, Action: \"iot:Connect\", Resource: \"*\"}]}",
                "\"\"",
            ],
        )
    };
    (
        document(),
        prop::option::of(document()),
        prop::option::weighted(0.1, document()),
        prop::option::weighted(0.2, Just(", adopt: true")),
    )
        .prop_map(|(telemetry, ota, bad, adopt)| {
            let mut entries = vec![format!(
                "telemetry: {{document: {telemetry}{}}}",
                adopt.unwrap_or_default()
            )];
            entries.extend(ota.map(|d| format!("ota: {{document: {d}}}")));
            entries.extend(bad.map(|d| format!("\"bad name!\": {{document: {d}}}")));
            format!("{{{}}}", entries.join(", "))
        })
        .boxed()
}

/// A fleet.yaml built field by field from the model.
fn fleet_yaml() -> impl Strategy<Value = String> {
    let thing_types = prop::option::weighted(
        0.5,
        mapping(vec![
            field("description", &["Sensors"], &["\"\""]),
            field(
                "searchable_attributes",
                &["[line]", "[line, model]"],
                &["[a, b, c, d]"],
            ),
        ]),
    )
    .prop_map(|t| t.map(|t| format!("thing_types: {{sensor: {t}}}")));
    let defaults = mapping(vec![
        field("validity", VALIDITY.0, VALIDITY.1),
        field("renew_before", RENEW_BEFORE.0, RENEW_BEFORE.1),
        required("policies", POLICY_LIST.0, POLICY_LIST.1),
        field("attributes", ATTRIBUTES.0, ATTRIBUTES.1),
    ]);
    let lifecycle = mapping(vec![
        field("on_removal", &["revoke", "deactivate", "keep"], &["shred"]),
        field("delete_things", &["true", "false"], &[]),
        field("delete_certificates", &["true", "false"], &[]),
        field("rotation_overlap", &["7d", "1h", "0s"], &["3x", "\"\""]),
        field("retire", &["revoke", "deactivate"], &["keep"]),
        field("max_destructive_changes", &["10", "0", "1000"], &[]),
    ]);
    let top = (
        required("version", &["1", "\"1\""], &["2", "one"]),
        required("fleet", &["factory-a", "f", "x_1"], &["\"a b\"", "\"\""]),
        field("region", &["ap-northeast-1"], &["mars-north-9", "\"\""]),
        ca(),
    );
    let middle = (
        defaults.prop_map(|d| format!("defaults: {d}")),
        policies(),
        thing_types,
        (0usize..6).prop_flat_map(|n| (0..n).map(device).collect::<Vec<_>>()),
    );
    let bottom = (
        prop::option::of(lifecycle),
        field("output", &["{dir: out}"], &["{dir: \"\"}"]),
        field(
            "rate_limits",
            &["{\"iot:RegisterCertificate\": 5}"],
            &[
                "{\"s3:GetObject\": 1}",
                "{\"acm-pca:IssueCertificate\": 0}",
                "{\"iot:CreateThing\": -3}",
            ],
        ),
    );
    (top, middle, bottom).prop_map(
        |(
            (version, fleet, region, ca),
            (defaults, policies, thing_types, devices),
            (lifecycle, output, rate_limits),
        )| {
            let mut lines: Vec<String> = [version, fleet, region].into_iter().flatten().collect();
            lines.push(format!("ca: {ca}"));
            lines.push(defaults);
            lines.push(format!("policies: {policies}"));
            lines.extend(thing_types);
            lines.push("devices:".to_string());
            if devices.is_empty() {
                lines.last_mut().unwrap().push_str(" []");
            }
            lines.extend(devices.iter().map(|d| format!("  - {d}")));
            lines.extend(lifecycle.map(|l| format!("lifecycle: {l}")));
            lines.extend(output);
            lines.extend(rate_limits);
            lines.join("\n") + "\n"
        },
    )
}

/// Runs `cases` cases of `strategy` through the loader; returns how many
/// stopped at parsing, were refused by validation, and were valid.
fn run_cases<S: Strategy>(cases: u32, strategy: S, bytes: impl Fn(&S::Value) -> Vec<u8>) -> [u32; 3]
where
    S::Value: std::fmt::Debug,
{
    let dir = fixture_dir();
    let counts = [Cell::new(0), Cell::new(0), Cell::new(0)];
    let mut runner = TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    });
    runner
        .run(&strategy, |value| {
            let reached = load_in(dir.path(), &bytes(&value));
            counts[reached as usize].set(counts[reached as usize].get() + 1);
            Ok(())
        })
        .unwrap();
    counts.map(|c| c.get())
}

#[test]
fn load_never_panics_on_specs_built_from_the_model_and_most_reach_validation() {
    let [parsing, refused, valid] = run_cases(256, fleet_yaml(), |text| text.clone().into_bytes());
    let reached = refused + valid;
    eprintln!(
        "specs built from the model: {reached} of {} reached validation ({refused} refused, {valid} valid); {parsing} stopped at parsing",
        parsing + reached
    );
    // Every generated field has the model's type, so nearly all parse; the
    // bounds sit far below the expected rates so that chance cannot fail them.
    assert!(
        reached * 10 >= (parsing + reached) * 8,
        "only {reached} cases reached validation"
    );
    assert!(valid >= 3, "only {valid} generated specs were valid");
    assert!(
        refused >= 100,
        "only {refused} cases were refused by validation"
    );
}

#[test]
fn load_never_panics_on_a_valid_spec_with_one_value_changed() {
    let spec = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/minimal/fleet.yaml"
    ))
    .unwrap();
    let lines: Vec<String> = spec.lines().map(str::to_owned).collect();
    // The lines that set a value (`key: value`, `- key: value`): one of them
    // gets another value, so the YAML keeps its shape (a random line in
    // place of one almost never parses: 6 of 256 did).
    let settable: Vec<usize> = (0..lines.len())
        .filter(|&i| !lines[i].trim_start().starts_with('#'))
        .filter(|&i| {
            lines[i]
                .split_once(": ")
                .is_some_and(|(_, v)| !v.trim().is_empty())
        })
        .collect();
    assert!(settable.len() >= 8, "{settable:?}");
    let replacement = prop_oneof![
        // any printable text, as a YAML string
        "[ -~]{0,40}".prop_map(|text| serde_json::to_string(&text).unwrap()),
        // values of the spec's other fields, valid somewhere
        prop::sample::select(
            &[
                "1",
                "0",
                "-1",
                "true",
                "null",
                "[]",
                "{}",
                "365d",
                "10y",
                "2w",
                "sni_only",
                "[connect, missing]",
                "iot:Connect",
                "\"*\"",
                "x1",
            ][..]
        )
        .prop_map(str::to_string),
    ];
    let strategy = (prop::sample::select(settable), replacement);
    let [parsing, refused, valid] = run_cases(256, strategy, |(at, value)| {
        let mut lines = lines.clone();
        let (key, _) = lines[*at].split_once(": ").unwrap();
        lines[*at] = format!("{key}: {value}");
        lines.join("\n").into_bytes()
    });
    let reached = refused + valid;
    eprintln!(
        "one value changed: {reached} of 256 reached validation ({refused} refused, {valid} valid); {parsing} stopped at parsing"
    );
    // Only a value of the wrong type for its field (a list for a name, a
    // string for the version's...) stops at parsing.
    assert!(reached >= 128, "only {reached} cases reached validation");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Arbitrary bytes almost never get past UTF-8 and YAML parsing: this
    /// only guards the parsing stage, the tests above the rest.
    #[test]
    fn load_never_panics_on_bytes(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let dir = tempfile::tempdir().unwrap();
        load_in(dir.path(), &bytes);
    }
}
