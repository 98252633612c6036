//! One rotation: take the next job, install the certificate beside the
//! current one, prove it against the broker, promote it or fall back, report.

use crate::document::{self, DocumentError, KeySource, Rotation};
use crate::jobs::{
    BrokerProbe, Execution, JobsChannel, Proof, Status, StatusDetails, detail_value,
};
use crate::keys;
use crate::store::{Identity, Store};

/// What a run did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// No job execution was pending.
    NoJob,
    /// The execution was updated to `status` with `details`.
    Reported {
        job_id: String,
        status: Status,
        details: StatusDetails,
    },
}

fn details(certificate_id: Option<&str>, reason: Option<&str>) -> StatusDetails {
    let mut d = StatusDetails::new();
    if let Some(id) = certificate_id {
        d.insert("certificateId".into(), id.to_string());
    }
    if let Some(reason) = reason {
        d.insert("reason".into(), detail_value(reason));
    }
    d
}

fn report(
    jobs: &mut dyn JobsChannel,
    execution: &Execution,
    status: Status,
    details: StatusDetails,
) -> Result<Outcome, String> {
    jobs.update(execution, status, &details).map_err(|e| {
        format!(
            "reporting {} for job {}: {e}",
            status.as_str(),
            execution.job_id
        )
    })?;
    Ok(Outcome::Reported {
        job_id: execution.job_id.clone(),
        status,
        details,
    })
}

/// The key for the delivered certificate: (its file, its PEM).
fn key_for(store: &Store, rotation: &Rotation) -> Result<(std::path::PathBuf, Vec<u8>), String> {
    let want = match &rotation.key {
        KeySource::Device { public_key_sha256 } => public_key_sha256,
        // The reference agent holds no AWS credentials. A device team that
        // lets fleetcert generate keys wires its credentials provider here
        // and reads the key with GetSecretValue / GetParameter
        // (WithDecryption). AWS IoT's own: "The credentials provider
        // authenticates a caller using an X.509 certificate and issues a
        // temporary, limited-privilege security token" ("Authorizing direct
        // calls to AWS services using AWS IoT Core credential provider",
        // https://docs.aws.amazon.com/iot/latest/developerguide/authorizing-direct-aws.html).
        KeySource::SecretsManager { secret_id } => {
            return Err(format!(
                "key.source secretsManager (secret {secret_id}): this agent has no AWS credentials to read the key; \
                 wire a credentials provider to fetch it"
            ));
        }
        KeySource::Ssm { parameter_name } => {
            return Err(format!(
                "key.source ssm (parameter {parameter_name}): this agent has no AWS credentials to read the key; \
                 wire a credentials provider to fetch it"
            ));
        }
    };
    let (path, key) = keys::find_key(&store.key_candidates()?, want)?;
    keys::check_certificate_matches(&rotation.certificate_pem, &key)?;
    let pem = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok((path, pem))
}

/// Prove that the broker accepts `identity`: over the jobs channel when it is
/// MQTT (reconnecting), else by a connection of its own.
fn prove(
    jobs: &mut dyn JobsChannel,
    probe: &dyn BrokerProbe,
    identity: &Identity,
) -> Result<(), String> {
    match jobs.switch_identity(identity)? {
        Proof::BrokerAccepted => Ok(()),
        Proof::NotChecked => probe.connect(identity),
    }
}

/// Take this device's next job execution and carry it out.
pub fn rotate_once(
    thing: &str,
    store: &Store,
    jobs: &mut dyn JobsChannel,
    probe: &dyn BrokerProbe,
) -> Result<Outcome, String> {
    let Some(execution) = jobs.start_next()? else {
        return Ok(Outcome::NoJob);
    };
    if execution.thing_name != thing {
        return Err(format!(
            "job {} is for thing {:?}, not {thing:?}",
            execution.job_id, execution.thing_name
        ));
    }
    let rotation = match document::from_job_document(&execution.job_document, thing) {
        Ok(r) => r,
        Err(DocumentError::NotForThisDevice(reason)) => {
            return report(
                jobs,
                &execution,
                Status::Rejected,
                details(None, Some(&reason)),
            );
        }
        Err(DocumentError::BadEntry {
            certificate_id,
            reason,
        }) => {
            let d = details(certificate_id.as_deref(), Some(&reason));
            return report(jobs, &execution, Status::Failed, d);
        }
    };
    let id = rotation.certificate_id.as_str();
    let fail = |jobs: &mut dyn JobsChannel, reason: String| {
        report(
            jobs,
            &execution,
            Status::Failed,
            details(Some(id), Some(&reason)),
        )
    };

    let old = store.current()?;
    if old.name == id {
        // Promoted by an earlier run that could not report: prove and report.
        return match prove(jobs, probe, &old) {
            Ok(()) => report(jobs, &execution, Status::Succeeded, details(Some(id), None)),
            Err(e) => fail(
                jobs,
                format!("the current certificate {id} cannot connect: {e}"),
            ),
        };
    }
    let (key_path, key_pem) = match key_for(store, &rotation) {
        Ok(k) => k,
        Err(reason) => return fail(jobs, reason),
    };
    let new = match store.install(
        id,
        &rotation.certificate_pem,
        &key_pem,
        &rotation.ca_certificate_pem,
    ) {
        Ok(n) => n,
        Err(e) => return fail(jobs, format!("installing the certificate failed: {e}")),
    };

    let refused = match prove(jobs, probe, &new) {
        Ok(()) => match store.promote(&new, Some(&key_path)) {
            Ok(()) => return report(jobs, &execution, Status::Succeeded, details(Some(id), None)),
            Err(e) => {
                format!("the broker accepted the new certificate but promoting it failed: {e}")
            }
        },
        Err(e) => format!("the broker refused the new certificate: {e}"),
    };
    // Fall back: the old certificate stays current and reconnects.
    let back = jobs.switch_identity(&old).and_then(|proof| match proof {
        Proof::BrokerAccepted => Ok(()),
        Proof::NotChecked => probe.connect(&old),
    });
    let _ = store.discard(&new);
    match back {
        Ok(()) => fail(
            jobs,
            format!("{refused}; kept the current certificate {}", old.name),
        ),
        Err(e) => Err(format!(
            "{refused}; and the current certificate {} cannot connect either: {e}",
            old.name
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::spki_sha256;
    use rcgen::{CertificateParams, KeyPair, PKCS_ECDSA_P256_SHA256};
    use serde_json::{Value, json};
    use std::cell::RefCell;
    use std::collections::BTreeSet;

    const ID: &str = "2222222222222222222222222222222222222222222222222222222222222222";

    /// A jobs service and broker in memory: the broker accepts the
    /// certificates in `accepted` (by PEM text).
    struct Fake {
        document: Option<Value>,
        updates: Vec<(Status, StatusDetails)>,
        accepted: BTreeSet<String>,
        connected_as: Vec<String>,
        mqtt: bool,
    }

    impl Fake {
        fn accepts(&self, identity: &Identity) -> Result<(), String> {
            let pem = std::fs::read_to_string(&identity.certificate).unwrap();
            if self.accepted.contains(&pem) {
                Ok(())
            } else {
                Err("certificate verify failed".into())
            }
        }
    }

    impl JobsChannel for Fake {
        fn start_next(&mut self) -> Result<Option<Execution>, String> {
            Ok(self.document.take().map(|d| Execution {
                job_id: "rotate-1".into(),
                thing_name: "sensor-1".into(),
                status: "IN_PROGRESS".into(),
                version_number: 2,
                execution_number: Some(1),
                job_document: d,
            }))
        }
        fn update(&mut self, e: &Execution, s: Status, d: &StatusDetails) -> Result<(), String> {
            assert_eq!(e.version_number, 2);
            self.updates.push((s, d.clone()));
            Ok(())
        }
        fn switch_identity(&mut self, identity: &Identity) -> Result<Proof, String> {
            if !self.mqtt {
                return Ok(Proof::NotChecked);
            }
            self.accepts(identity)?;
            self.connected_as.push(identity.name.clone());
            Ok(Proof::BrokerAccepted)
        }
    }

    struct FakeProbe<'a>(&'a RefCell<Vec<String>>, BTreeSet<String>);
    impl BrokerProbe for FakeProbe<'_> {
        fn connect(&self, identity: &Identity) -> Result<(), String> {
            let pem = std::fs::read_to_string(&identity.certificate).unwrap();
            self.0.borrow_mut().push(identity.name.clone());
            if self.1.contains(&pem) {
                Ok(())
            } else {
                Err("refused".into())
            }
        }
    }

    struct Device {
        dir: tempfile::TempDir,
        old_cert: String,
        new_cert: String,
        new_key_sha: String,
    }

    fn device() -> Device {
        let dir = tempfile::tempdir().unwrap();
        let old_key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
        let old_cert = CertificateParams::new(vec![])
            .unwrap()
            .self_signed(&old_key)
            .unwrap()
            .pem();
        std::fs::write(dir.path().join("certificate.pem"), &old_cert).unwrap();
        std::fs::write(dir.path().join("private-key.pem"), old_key.serialize_pem()).unwrap();
        let new_key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
        std::fs::write(dir.path().join("pending-key.pem"), new_key.serialize_pem()).unwrap();
        let new_cert = CertificateParams::new(vec![])
            .unwrap()
            .self_signed(&new_key)
            .unwrap()
            .pem();
        Device {
            dir,
            old_cert,
            new_cert,
            new_key_sha: hex::encode(spki_sha256(&crate::keys::tests::spki_der(&new_key))),
        }
    }

    fn doc(cert: &str, key: Value) -> Value {
        json!({"operation": "fleetcert:rotate-certificate", "formatVersion": 1, "fleet": "f",
               "caCertificatePem": "CA", "devices": {"sensor-1": {
                   "certificateId": ID, "certificatePem": cert, "key": key}}})
    }

    fn fake(document: Value, accepted: &[&str], mqtt: bool) -> Fake {
        Fake {
            document: Some(document),
            updates: vec![],
            accepted: accepted.iter().map(|s| s.to_string()).collect(),
            connected_as: vec![],
            mqtt,
        }
    }

    fn run(d: &Device, jobs: &mut Fake) -> Outcome {
        let store = Store::open(d.dir.path()).unwrap();
        let probed = RefCell::new(vec![]);
        let probe = FakeProbe(&probed, jobs.accepted.clone());
        rotate_once("sensor-1", &store, jobs, &probe).unwrap()
    }

    #[test]
    fn success_promotes_and_reports_the_new_id() {
        let d = device();
        let mut jobs = fake(
            doc(
                &d.new_cert,
                json!({"source": "device", "publicKeySha256": d.new_key_sha}),
            ),
            &[&d.old_cert, &d.new_cert],
            true,
        );
        let outcome = run(&d, &mut jobs);
        assert_eq!(
            outcome,
            Outcome::Reported {
                job_id: "rotate-1".into(),
                status: Status::Succeeded,
                details: details(Some(ID), None)
            }
        );
        assert_eq!(jobs.connected_as, vec![ID.to_string()]);
        let store = Store::open(d.dir.path()).unwrap();
        assert_eq!(store.current().unwrap().name, ID);
        assert!(!d.dir.path().join("pending-key.pem").exists());
    }

    #[test]
    fn a_refused_certificate_falls_back_and_fails_with_the_reason() {
        let d = device();
        let mut jobs = fake(
            doc(
                &d.new_cert,
                json!({"source": "device", "publicKeySha256": d.new_key_sha}),
            ),
            &[&d.old_cert],
            true,
        );
        let Outcome::Reported {
            status, details, ..
        } = run(&d, &mut jobs)
        else {
            panic!()
        };
        assert_eq!(status, Status::Failed);
        assert_eq!(details["certificateId"], ID);
        assert_eq!(
            details["reason"],
            "the broker refused the new certificate: certificate verify failed; kept the current certificate initial"
        );
        assert_eq!(jobs.connected_as, vec!["initial".to_string()]);
        let store = Store::open(d.dir.path()).unwrap();
        assert_eq!(store.current().unwrap().name, "initial");
        assert!(
            d.dir.path().join("pending-key.pem").exists(),
            "the key is kept for a retry"
        );
        assert!(!d.dir.path().join("slots").join(ID).exists());
    }

    #[test]
    fn over_https_the_broker_is_probed_separately() {
        let d = device();
        let mut jobs = fake(
            doc(
                &d.new_cert,
                json!({"source": "device", "publicKeySha256": d.new_key_sha}),
            ),
            &[&d.old_cert],
            false,
        );
        let store = Store::open(d.dir.path()).unwrap();
        let probed = RefCell::new(vec![]);
        let probe = FakeProbe(&probed, jobs.accepted.clone());
        let outcome = rotate_once("sensor-1", &store, &mut jobs, &probe).unwrap();
        assert!(matches!(
            outcome,
            Outcome::Reported {
                status: Status::Failed,
                ..
            }
        ));
        assert_eq!(
            *probed.borrow(),
            vec![ID.to_string(), "initial".to_string()]
        );
    }

    #[test]
    fn keys_it_does_not_hold_or_cannot_read_fail() {
        let d = device();
        let other = "ab".repeat(32);
        let mut jobs = fake(
            doc(
                &d.new_cert,
                json!({"source": "device", "publicKeySha256": other}),
            ),
            &[],
            true,
        );
        let Outcome::Reported {
            status, details, ..
        } = run(&d, &mut jobs)
        else {
            panic!()
        };
        assert_eq!(status, Status::Failed);
        assert!(
            details["reason"].starts_with("none of the 2 private keys"),
            "{details:?}"
        );

        let mut jobs = fake(
            doc(
                &d.new_cert,
                json!({"source": "secretsManager", "secretId": "fleet/sensor-1"}),
            ),
            &[],
            true,
        );
        let Outcome::Reported {
            status, details, ..
        } = run(&d, &mut jobs)
        else {
            panic!()
        };
        assert_eq!(status, Status::Failed);
        assert!(
            details["reason"].contains("no AWS credentials"),
            "{details:?}"
        );
        assert!(
            jobs.connected_as.is_empty(),
            "nothing was installed or tried"
        );
    }

    #[test]
    fn a_certificate_for_another_key_fails_before_install() {
        let d = device();
        let mut jobs = fake(
            doc(
                &d.old_cert,
                json!({"source": "device", "publicKeySha256": d.new_key_sha}),
            ),
            &[&d.old_cert],
            true,
        );
        let Outcome::Reported {
            status, details, ..
        } = run(&d, &mut jobs)
        else {
            panic!()
        };
        assert_eq!(status, Status::Failed);
        assert!(
            details["reason"].contains("is not the matched key's"),
            "{details:?}"
        );
        assert!(!d.dir.path().join("slots").join(ID).exists());
    }

    #[test]
    fn a_run_that_promoted_but_never_reported_reports_on_the_next_run() {
        let d = device();
        let key_sha = d.new_key_sha.clone();
        let document = doc(
            &d.new_cert,
            json!({"source": "device", "publicKeySha256": key_sha}),
        );
        // The earlier run: installed and promoted, then died before its update.
        let store = Store::open(d.dir.path()).unwrap();
        let key = std::fs::read(d.dir.path().join("pending-key.pem")).unwrap();
        let new = store.install(ID, &d.new_cert, &key, "CA").unwrap();
        store
            .promote(&new, Some(&d.dir.path().join("pending-key.pem")))
            .unwrap();

        let mut jobs = fake(document, &[&d.new_cert], true);
        let outcome = run(&d, &mut jobs);
        assert_eq!(
            outcome,
            Outcome::Reported {
                job_id: "rotate-1".into(),
                status: Status::Succeeded,
                details: details(Some(ID), None)
            }
        );
        // It proved the current (new) certificate before saying so.
        assert_eq!(jobs.connected_as, vec![ID.to_string()]);
    }

    #[test]
    fn other_documents_are_rejected_and_no_job_is_nothing() {
        let d = device();
        let mut jobs = fake(json!({"operation": "reboot"}), &[], true);
        let Outcome::Reported {
            status, details, ..
        } = run(&d, &mut jobs)
        else {
            panic!()
        };
        assert_eq!(status, Status::Rejected);
        assert!(details["reason"].contains("not a fleetcert certificate rotation"));
        assert!(!details.contains_key("certificateId"));
        assert_eq!(run(&d, &mut jobs), Outcome::NoJob);
    }
}
