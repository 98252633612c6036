//! fleetcert's rotation job document, and this device's entry in it.
//!
//! The contract (README.md): `operation` `fleetcert:rotate-certificate`,
//! `formatVersion` 1, `caCertificatePem`, and `devices.<thing name>` with
//! `certificateId`, `certificatePem` and `key` (`source` `device`,
//! `secretsManager` or `ssm`). A document that is not such a rotation, or has
//! no entry for this thing, is REJECTED; an entry this agent cannot carry out
//! is FAILED (see [`crate::agent`]).

use serde_json::Value;

pub const OPERATION: &str = "fleetcert:rotate-certificate";
pub const FORMAT_VERSION: u64 = 1;

/// Where the private key of the new certificate is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    /// The device holds it (it made the key and sent a CSR); the certificate's
    /// SubjectPublicKeyInfo hashes (SHA-256) to these 32 bytes.
    Device { public_key_sha256: [u8; 32] },
    /// fleetcert generated the key and keeps it in a Secrets Manager secret.
    SecretsManager { secret_id: String },
    /// ... or in an SSM SecureString parameter.
    Ssm { parameter_name: String },
}

impl KeySource {
    pub fn name(&self) -> &'static str {
        match self {
            KeySource::Device { .. } => "device",
            KeySource::SecretsManager { .. } => "secretsManager",
            KeySource::Ssm { .. } => "ssm",
        }
    }
}

/// This device's rotation, read from the job document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rotation {
    pub fleet: String,
    pub certificate_id: String,
    pub certificate_pem: String,
    pub ca_certificate_pem: String,
    pub key: KeySource,
}

/// Why the document cannot be carried out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DocumentError {
    /// Not a fleetcert rotation of a version this agent knows, or no entry
    /// for this thing: the job is not for this agent (REJECTED).
    NotForThisDevice(String),
    /// This device's entry is there but unusable (FAILED). The certificate id
    /// is reported when the entry had a well-formed one.
    BadEntry {
        certificate_id: Option<String>,
        reason: String,
    },
}

impl std::fmt::Display for DocumentError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DocumentError::NotForThisDevice(reason) => f.write_str(reason),
            DocumentError::BadEntry { reason, .. } => f.write_str(reason),
        }
    }
}

fn is_hex64(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Read `thing`'s rotation from a job document. `document` is the parsed
/// JSON (the MQTT API delivers `jobDocument` as an object, the HTTP API as a
/// JSON string: see [`from_job_document`]).
pub fn rotation_for(document: &Value, thing: &str) -> Result<Rotation, DocumentError> {
    let not_ours = |reason: String| Err(DocumentError::NotForThisDevice(reason));
    let Some(doc) = document.as_object() else {
        return not_ours("the job document is not a JSON object".into());
    };
    match doc.get("operation").and_then(Value::as_str) {
        Some(OPERATION) => {}
        Some(other) => {
            return not_ours(format!(
                "operation {other:?} is not {OPERATION:?}: not a fleetcert certificate rotation"
            ));
        }
        None => return not_ours(format!("the document has no operation {OPERATION:?}")),
    }
    match doc.get("formatVersion").and_then(Value::as_u64) {
        Some(FORMAT_VERSION) => {}
        other => {
            return not_ours(format!(
                "formatVersion {} is not supported (this agent reads {FORMAT_VERSION})",
                other.map_or("missing".to_string(), |v| v.to_string())
            ));
        }
    }
    let Some(entry) = doc
        .get("devices")
        .and_then(Value::as_object)
        .and_then(|d| d.get(thing))
    else {
        return not_ours(format!("the document has no entry for thing {thing:?}"));
    };

    let certificate_id = entry
        .get("certificateId")
        .and_then(Value::as_str)
        .filter(|id| is_hex64(id))
        .map(str::to_ascii_lowercase);
    let bad = |reason: String| DocumentError::BadEntry {
        certificate_id: certificate_id.clone(),
        reason,
    };
    if certificate_id.is_none() {
        return Err(bad("certificateId is missing or not 64 hex digits".into()));
    }
    let text = |obj: &Value, field: &str| -> Result<String, DocumentError> {
        obj.get(field)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .ok_or_else(|| bad(format!("{field} is missing or empty")))
    };
    let certificate_pem = text(entry, "certificatePem")?;
    let ca_certificate_pem = text(document, "caCertificatePem")?;
    let key = entry
        .get("key")
        .filter(|k| k.is_object())
        .ok_or_else(|| bad("key is missing".into()))?;
    let key = match key.get("source").and_then(Value::as_str) {
        Some("device") => {
            let sha = text(key, "publicKeySha256")?;
            let bytes = hex::decode(&sha)
                .ok()
                .and_then(|b| <[u8; 32]>::try_from(b).ok())
                .ok_or_else(|| bad("key.publicKeySha256 is not 64 hex digits".into()))?;
            KeySource::Device {
                public_key_sha256: bytes,
            }
        }
        Some("secretsManager") => KeySource::SecretsManager {
            secret_id: text(key, "secretId")?,
        },
        Some("ssm") => KeySource::Ssm {
            parameter_name: text(key, "parameterName")?,
        },
        Some(other) => return Err(bad(format!("key.source {other:?} is not known"))),
        None => return Err(bad("key.source is missing".into())),
    };
    Ok(Rotation {
        fleet: doc
            .get("fleet")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string(),
        certificate_id: certificate_id.expect("checked above"),
        certificate_pem,
        ca_certificate_pem,
        key,
    })
}

/// `jobDocument` as a job execution carries it: an object (MQTT API), or the
/// document's JSON text (HTTP API, whose JobExecution.jobDocument is a string).
pub fn from_job_document(job_document: &Value, thing: &str) -> Result<Rotation, DocumentError> {
    match job_document {
        Value::String(text) => match serde_json::from_str::<Value>(text) {
            Ok(value) => rotation_for(&value, thing),
            Err(e) => Err(DocumentError::NotForThisDevice(format!(
                "the job document is not JSON: {e}"
            ))),
        },
        other => rotation_for(other, thing),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const ID: &str = "a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90";
    const SHA: &str = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

    fn doc(key: Value) -> Value {
        json!({
            "operation": "fleetcert:rotate-certificate",
            "formatVersion": 1,
            "fleet": "factory-a",
            "caCertificatePem": "-----BEGIN CERTIFICATE-----\nCA\n",
            "devices": {
                "sensor-1": {"certificateId": ID, "certificatePem": "-----BEGIN CERTIFICATE-----\nX\n", "key": key},
                "sensor-2": {"certificateId": "short", "certificatePem": "P", "key": {"source": "device"}}
            }
        })
    }

    #[test]
    fn takes_its_own_entry() {
        let r = rotation_for(
            &doc(json!({"source": "device", "publicKeySha256": SHA})),
            "sensor-1",
        )
        .unwrap();
        assert_eq!(r.certificate_id, ID);
        assert_eq!(r.fleet, "factory-a");
        assert_eq!(r.ca_certificate_pem, "-----BEGIN CERTIFICATE-----\nCA\n");
        assert_eq!(
            r.key,
            KeySource::Device {
                public_key_sha256: hex::decode(SHA).unwrap().try_into().unwrap()
            }
        );
    }

    #[test]
    fn the_http_api_string_form_reads_the_same() {
        let d = doc(json!({"source": "ssm", "parameterName": "/fleet/sensor-1"}));
        let text = Value::String(d.to_string());
        assert_eq!(
            from_job_document(&text, "sensor-1").unwrap(),
            rotation_for(&d, "sensor-1").unwrap()
        );
        assert_eq!(
            rotation_for(&d, "sensor-1").unwrap().key,
            KeySource::Ssm {
                parameter_name: "/fleet/sensor-1".into()
            }
        );
    }

    #[test]
    fn other_documents_and_other_things_are_not_ours() {
        let d = doc(json!({"source": "device", "publicKeySha256": SHA}));
        let e = rotation_for(&d, "sensor-9").unwrap_err();
        assert_eq!(
            e,
            DocumentError::NotForThisDevice(
                "the document has no entry for thing \"sensor-9\"".into()
            )
        );
        let mut other = d.clone();
        other["operation"] = json!("firmware-update");
        assert!(matches!(
            rotation_for(&other, "sensor-1"),
            Err(DocumentError::NotForThisDevice(r)) if r.contains("not a fleetcert certificate rotation")
        ));
        let mut v2 = d.clone();
        v2["formatVersion"] = json!(2);
        assert!(matches!(
            rotation_for(&v2, "sensor-1"),
            Err(DocumentError::NotForThisDevice(r)) if r.contains("formatVersion 2")
        ));
        assert!(matches!(
            from_job_document(&json!("not json"), "sensor-1"),
            Err(DocumentError::NotForThisDevice(_))
        ));
    }

    #[test]
    fn a_bad_entry_fails_with_its_reason() {
        let d = doc(json!({"source": "device", "publicKeySha256": "zz"}));
        assert_eq!(
            rotation_for(&d, "sensor-1").unwrap_err(),
            DocumentError::BadEntry {
                certificate_id: Some(ID.into()),
                reason: "key.publicKeySha256 is not 64 hex digits".into()
            }
        );
        assert_eq!(
            rotation_for(&d, "sensor-2").unwrap_err(),
            DocumentError::BadEntry {
                certificate_id: None,
                reason: "certificateId is missing or not 64 hex digits".into()
            }
        );
        let unknown = doc(json!({"source": "tpm"}));
        assert!(matches!(
            rotation_for(&unknown, "sensor-1"),
            Err(DocumentError::BadEntry { reason, .. }) if reason == "key.source \"tpm\" is not known"
        ));
        let sm = doc(json!({"source": "secretsManager"}));
        assert!(matches!(
            rotation_for(&sm, "sensor-1"),
            Err(DocumentError::BadEntry { reason, .. }) if reason == "secretId is missing or empty"
        ));
    }
}
