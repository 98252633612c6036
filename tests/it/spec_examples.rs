//! The root fleet.yaml and every example validate (`fleetcert validate
//! --strict` exits 0) and conform to `schema/fleet.schema.json`; the schema is what
//! `fleetcert schema` prints; the 10,000-device example is what its generator
//! makes.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The root fleet.yaml and every examples/*/fleet.yaml.
fn specs() -> Vec<PathBuf> {
    let mut specs = vec![root().join("fleet.yaml")];
    let mut examples: Vec<PathBuf> = std::fs::read_dir(root().join("examples"))
        .unwrap()
        .map(|e| e.unwrap().path().join("fleet.yaml"))
        .filter(|p| p.is_file())
        .collect();
    examples.sort();
    specs.extend(examples);
    specs
}

fn schema() -> Value {
    let text = std::fs::read_to_string(root().join("schema/fleet.schema.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn yaml_value(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap();
    serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The examples pass `validate --strict`: their policies have no finding,
/// or accept theirs with `allow_findings` and a comment saying why.
#[test]
fn examples_validate() {
    let specs = specs();
    assert!(specs.len() >= 6, "{specs:?}");
    for spec in specs {
        let dir = spec.parent().unwrap();
        let output = Command::new(env!("CARGO_BIN_EXE_fleetcert"))
            .args(["validate", "--strict", "-f", "fleet.yaml"])
            .current_dir(dir)
            .env("NO_COLOR", "1")
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert_eq!(
            output.status.code(),
            Some(0),
            "{}:\n{}",
            spec.display(),
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(
            stdout.starts_with("fleet.yaml: fleet ") && stdout.contains(" is valid: "),
            "{stdout}"
        );
    }
}

#[test]
fn examples_conform_to_the_schema() {
    let schema = schema();
    let validator = jsonschema::validator_for(&schema).unwrap();
    // Included device files are checked against the schema's device definition.
    let mut include_schema = serde_json::json!({
        "type": "object",
        "required": ["devices"],
        "additionalProperties": false,
        "properties": { "devices": { "type": "array", "items": { "$ref": "#/$defs/DeviceFile" } } }
    });
    include_schema["$defs"] = schema["$defs"].clone();
    let include_validator = jsonschema::validator_for(&include_schema).unwrap();
    for spec in specs() {
        let value = yaml_value(&spec);
        let errors: Vec<String> = validator
            .iter_errors(&value)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect();
        assert!(errors.is_empty(), "{}: {errors:#?}", spec.display());
        if let Some(pattern) = value.get("include").and_then(Value::as_str) {
            let full = spec.parent().unwrap().join(pattern);
            for file in glob::glob(&full.to_string_lossy()).unwrap() {
                let file = file.unwrap();
                let value = yaml_value(&file);
                let errors: Vec<String> = include_validator
                    .iter_errors(&value)
                    .map(|e| e.to_string())
                    .collect();
                assert!(errors.is_empty(), "{}: {errors:#?}", file.display());
            }
        }
    }
}

/// Whether `fleetcert::spec::load` accepts `yaml` as a fleet.yaml of its own.
fn loader_accepts(yaml: &str) -> Result<(), String> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fleet.yaml");
    std::fs::write(&path, yaml).unwrap();
    fleetcert::spec::load(&path)
        .map(|_| ())
        .map_err(|e| e.render(false))
}

#[test]
fn the_schema_rejects_what_the_loader_rejects() {
    let validator = jsonschema::validator_for(&schema()).unwrap();
    // A spec both accept, and mistakes in it that the loader refuses: the
    // schema (what editors check as one types) must refuse each of them too.
    let good = "version: 1\nfleet: a\nca: {subject: {common_name: X}}\n";
    let value: Value = serde_saphyr::from_str(good).unwrap();
    assert!(validator.is_valid(&value), "the schema refuses:\n{good}");
    loader_accepts(good).unwrap_or_else(|e| panic!("the loader refuses:\n{good}\n{e}"));
    for bad in [
        "version: 2\nfleet: a\nca: {subject: {common_name: X}}\n",
        "version: 1\nfleet: a b\nca: {subject: {common_name: X}}\n",
        "version: 1\nfleet: a\nca: {subject: {common_name: X}}\ndevcies: []\n",
        "version: 1\nfleet: a\nca: {subject: {common_name: X}, iot: {mode: SNI_ONLY}}\n",
        "version: 1\nfleet: a\nca: {subject: {common_name: X}}\ndevices: [{name: a, validity: 2w}]\n",
        "version: 1\nfleet: a\nca: {subject: {common_name: X}}\ndevices: [{name: a b}]\n",
        "version: 1\nfleet: a\nca: {subject: {common_name: X}}\nrate_limits: {\"iot:RegisterCertificate\": 0}\n",
        "version: 1\nfleet: a\nca: {subject: {common_name: X}}\nlifecycle: {on_removal: shred}\n",
    ] {
        assert!(
            loader_accepts(bad).is_err(),
            "the loader accepts (a bad example):\n{bad}"
        );
        let value: Value = serde_saphyr::from_str(bad).unwrap();
        assert!(!validator.is_valid(&value), "the schema accepts:\n{bad}");
    }
}

#[test]
fn checked_in_schema_is_up_to_date() {
    let output = Command::new(env!("CARGO_BIN_EXE_fleetcert"))
        .arg("schema")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0));
    let printed = String::from_utf8(output.stdout).unwrap();
    let checked_in =
        std::fs::read_to_string(root().join("schema/fleet.schema.json")).unwrap_or_default();
    assert!(
        printed == checked_in,
        "schema/fleet.schema.json differs from `fleetcert schema`; regenerate it with:\n\n    cargo run -q -- schema > schema/fleet.schema.json\n"
    );
}

// ------------------------------------------------------------------ large fleet

const LARGE_DEVICES: usize = 10_000;
const LARGE_FILES: usize = 20;

/// The files of examples/large-fleet: (path relative to it, contents).
fn large_fleet_files() -> Vec<(String, String)> {
    let mut files = Vec::new();
    files.push((
        "fleet.yaml".to_owned(),
        format!(
            "# yaml-language-server: $schema=../../schema/fleet.schema.json\n\
             #\n\
             # {LARGE_DEVICES} devices with keys made by fleetcert, split over {LARGE_FILES} include\n\
             # files of {} devices each (one per production line). Generated by\n\
             # tests/it/spec_examples.rs; regenerate with\n\
             #   FLEETCERT_REGENERATE=1 cargo test --test it spec_examples::large_fleet\n\
             version: 1\n\
             fleet: large-fleet\n\
             region: ap-northeast-1\n\
             \n\
             ca:\n  subject: {{common_name: Large Fleet Root CA, organization: Example Corp, country: JP}}\n  validity: 10y\n  iot: {{mode: sni_only}}\n\
             \n\
             defaults:\n  validity: 365d\n  renew_before: 30d\n  policies: [sensor]\n\
             \n\
             policies:\n  sensor:\n    document:\n      Version: \"2012-10-17\"\n      Statement:\n        - Effect: Allow\n          Action: [iot:Connect]\n          Resource: \"arn:aws:iot:*:*:client/${{iot:Connection.Thing.ThingName}}\"\n        - Effect: Allow\n          Action: [iot:Publish]\n          Resource: \"arn:aws:iot:*:*:topic/sensors/${{iot:Connection.Thing.ThingName}}/*\"\n\
             \n\
             include: devices/*.yaml\n\
             \n\
             rate_limits:\n  acm-pca:IssueCertificate: 20\n  iot:RegisterCertificate: 8\n",
            LARGE_DEVICES / LARGE_FILES
        ),
    ));
    let per_file = LARGE_DEVICES / LARGE_FILES;
    for file in 0..LARGE_FILES {
        let line = file + 1;
        let mut text =
            format!("# Line {line:02}: generated, do not edit (see ../fleet.yaml).\ndevices:\n");
        for slot in 0..per_file {
            let n = file * per_file + slot + 1;
            text.push_str(&format!(
                "  - {{name: sensor-{n:05}, attributes: {{line: l{line:02}, slot: \"{:03}\"}}}}\n",
                slot + 1
            ));
        }
        files.push((format!("devices/line-{line:02}.yaml"), text));
    }
    files
}

#[test]
fn large_fleet_example_is_generated() {
    let dir = root().join("examples/large-fleet");
    let regenerate = std::env::var_os("FLEETCERT_REGENERATE").is_some();
    let mut stale = Vec::new();
    for (relative, text) in large_fleet_files() {
        let path = dir.join(&relative);
        if regenerate {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, &text).unwrap();
        } else if std::fs::read_to_string(&path).ok().as_deref() != Some(text.as_str()) {
            stale.push(relative);
        }
    }
    assert!(
        stale.is_empty(),
        "examples/large-fleet differs from its generator ({stale:?}); regenerate with\n\n    FLEETCERT_REGENERATE=1 cargo test --test it spec_examples::large_fleet\n"
    );
    let spec = fleetcert::spec::load(&dir.join("fleet.yaml")).unwrap();
    assert_eq!(spec.devices.len(), LARGE_DEVICES);
}
