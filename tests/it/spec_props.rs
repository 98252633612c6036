//! `spec::load` never panics, whatever the file holds: arbitrary bytes, and
//! YAML-ish text built from the spec's own keys and values (so that much of it
//! gets past the parser and into validation).

use proptest::prelude::*;

fn load_text(bytes: &[u8]) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fleet.yaml");
    std::fs::write(&path, bytes).unwrap();
    if let Err(errors) = fleetcert::spec::load(&path) {
        // Rendering must not panic either, and always says something.
        assert!(!errors.render(false).is_empty());
        assert!(!errors.render(true).is_empty());
    }
}

/// Lines that look like fleet.yaml, in any order and indentation.
fn yamlish() -> impl Strategy<Value = String> {
    let keys = prop::sample::select(vec![
        "version",
        "fleet",
        "region",
        "ca",
        "arn",
        "subject",
        "common_name",
        "country",
        "key_algorithm",
        "signing_algorithm",
        "validity",
        "iot",
        "mode",
        "status",
        "auto_registration",
        "defaults",
        "renew_before",
        "policies",
        "document",
        "Version",
        "Statement",
        "Effect",
        "Action",
        "Resource",
        "thing_types",
        "searchable_attributes",
        "devices",
        "name",
        "csr",
        "certificate_id",
        "attributes",
        "thing_type",
        "revoked",
        "revocation_reason",
        "include",
        "lifecycle",
        "on_removal",
        "rotation_overlap",
        "output",
        "dir",
        "rate_limits",
        "iot:RegisterCertificate",
        "fleetcert",
    ]);
    let values = prop::sample::select(vec![
        "",
        "1",
        "2",
        "factory-a",
        "ap-northeast-1",
        "365d",
        "12mo",
        "10y",
        "30d",
        "2w",
        "0d",
        "-1",
        "1e999",
        "true",
        "maybe",
        "null",
        "~",
        "[]",
        "{}",
        "[telemetry]",
        "sni_only",
        "EC_prime256v1",
        "SHA256WITHRSA",
        "csr/x.csr",
        "devices/*.yaml",
        "*",
        "../..",
        "/etc/passwd",
        "{a: [1, {b: c}]}",
        "&a x",
        "*a",
        "!!binary AAAA",
        "\"\\u0000\"",
        "'quoted'",
        "|\n  block",
        "arn:aws:acm-pca:ap-northeast-1:123456789012:certificate-authority/0b2f6a3e-1c4d-4e5f-8a9b-0c1d2e3f4a5b",
    ]);
    let line = (0usize..4, prop::bool::ANY, keys, values).prop_map(|(indent, dash, key, value)| {
        format!(
            "{}{}{key}: {value}",
            "  ".repeat(indent),
            if dash { "- " } else { "" }
        )
    });
    prop::collection::vec(line, 0..24).prop_map(|lines| lines.join("\n"))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn load_never_panics_on_bytes(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        load_text(&bytes);
    }

    #[test]
    fn load_never_panics_on_yamlish_text(text in yamlish()) {
        load_text(text.as_bytes());
    }

    #[test]
    fn load_never_panics_on_a_valid_spec_with_one_line_changed(line in 0usize..40, replacement in "[ -~]{0,40}") {
        let spec = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/minimal/fleet.yaml")).unwrap();
        let mut lines: Vec<String> = spec.lines().map(str::to_owned).collect();
        let at = line % lines.len();
        lines[at] = replacement;
        load_text(lines.join("\n").as_bytes());
    }
}
