//! Loader tests on small specs written to a temp dir.

use std::path::Path;

use super::*;

fn write(dir: &Path, relative: &str, text: &str) {
    let path = dir.join(relative);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

const SPEC: &str = "version: 1
fleet: t
ca:
  subject: {common_name: T}
defaults:
  validity: 90d
  renew_before: 10d
  policies: [p]
  attributes: {site: a}
policies:
  p:
    document: p.json
include: more/*.yaml
devices:
  - name: d1
    attributes: {line: x}
  - name: d2
    policies: []
    validity: 12mo
    revoked: true
";

fn fixture() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "fleet.yaml", SPEC);
    write(
        dir.path(),
        "p.json",
        r#"{"Statement": [{"Resource": "*", "Effect": "Allow", "Action": "iot:Connect"}], "Version": "2012-10-17"}"#,
    );
    write(dir.path(), "more/b.yaml", "devices:\n  - name: d3\n");
    dir
}

#[test]
fn defaults_apply_and_devices_override() {
    let dir = fixture();
    let spec = load(&dir.path().join("fleet.yaml")).unwrap();
    let d1 = &spec.devices["d1"];
    assert_eq!(d1.validity, CertValidity::Days(90));
    assert_eq!(d1.renew_before, SpecDuration::from_days(10));
    assert_eq!(d1.policies.iter().collect::<Vec<_>>(), ["p"]);
    assert_eq!(d1.attributes.len(), 2);
    assert_eq!(d1.key, DeviceKey::Generated);
    assert_eq!((d1.source.line, d1.source.column), (15, 11));
    let d2 = &spec.devices["d2"];
    assert!(d2.policies.is_empty());
    assert_eq!(d2.validity, CertValidity::Months(12));
    assert_eq!(d2.revoked, Some(RevocationReason::Unspecified));
    assert!(spec.devices["d3"].source.file.ends_with("more/b.yaml"));
    assert_eq!(spec.lifecycle, Lifecycle::default());
    assert_eq!(spec.output.dir(), Some(dir.path().join("out").as_path()));
    assert_eq!(spec.files.len(), 3);
    assert_eq!(
        spec.policies["p"].canonical,
        "{\n  \"Statement\": [\n    {\n      \"Action\": \"iot:Connect\",\n      \"Effect\": \"Allow\",\n      \"Resource\": \"*\"\n    }\n  ],\n  \"Version\": \"2012-10-17\"\n}"
    );
}

#[test]
fn digest_does_not_depend_on_how_the_path_is_written_but_on_contents() {
    let dir = fixture();
    let a = load(&dir.path().join("fleet.yaml")).unwrap();
    let b = load(&dir.path().join("more/../fleet.yaml")).unwrap();
    assert_eq!(a.digest, b.digest);
    write(dir.path(), "more/b.yaml", "devices:\n  - name: d4\n");
    let c = load(&dir.path().join("fleet.yaml")).unwrap();
    assert_ne!(a.digest, c.digest);
}

#[test]
fn errors_carry_file_line_and_column() {
    let dir = fixture();
    write(
        dir.path(),
        "more/b.yaml",
        "devices:\n  - name: d1\n  - name: \"x y\"\n",
    );
    let errors = load(&dir.path().join("fleet.yaml")).unwrap_err();
    let found: Vec<(String, u32, u32)> = errors
        .diagnostics
        .iter()
        .map(|d| {
            (
                display_path(d.file().strip_prefix(dir.path()).unwrap()),
                d.line(),
                d.column(),
            )
        })
        .collect();
    assert_eq!(
        found,
        [
            ("more/b.yaml".to_owned(), 2, 11),
            ("more/b.yaml".to_owned(), 3, 11)
        ]
    );
    let text = errors.render(false);
    assert!(
        text.ends_with("2 errors in ") || text.contains("2 errors in "),
        "{text}"
    );
}

#[test]
fn a_missing_spec_is_one_error() {
    let errors = load(Path::new("no/such/fleet.yaml")).unwrap_err();
    assert_eq!(errors.len(), 1);
    assert_eq!(
        errors.render(false),
        "error: cannot read the spec `no/such/fleet.yaml`: no such file\n--> no/such/fleet.yaml\n = help: name the spec with -f, e.g. `fleetcert validate -f path/to/fleet.yaml`\n\n1 error in no/such/fleet.yaml"
    );
}

#[test]
fn the_schema_is_json_with_every_top_level_field() {
    let schema: serde_json::Value = serde_json::from_str(&json_schema()).unwrap();
    let properties = schema["properties"].as_object().unwrap();
    for field in [
        "version",
        "fleet",
        "region",
        "ca",
        "defaults",
        "policies",
        "thing_types",
        "devices",
        "include",
        "lifecycle",
        "output",
        "rate_limits",
    ] {
        assert!(properties.contains_key(field), "{field}");
    }
    assert_eq!(schema["additionalProperties"], false);
}
