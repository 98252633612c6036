//! The agent over the jobs HTTPS data plane: the project's AWS emulator
//! (tests/emulator, which serves iot-jobs-data requests by their SigV4
//! signing name) over plain http, SigV4 with test credentials; the broker
//! proof is a separate mutual-TLS MQTT connection to mosquitto.

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};

use serde_json::{Value, json};

use crate::support::{Broker, Ca, Device, agent, certificate_id, document, text};

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn python() -> PathBuf {
    let python = repo_root().join("tests/emulator/.venv/bin/python");
    assert!(
        python.exists(),
        "the AWS emulator is not installed ({} is missing): run `make test` (or `tests/emulator/setup.sh`)",
        python.display()
    );
    python
}

struct Emulator {
    child: Child,
    _stdin: ChildStdin,
    port: u16,
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Emulator {
    fn start() -> Emulator {
        let root = repo_root();
        let mut child = Command::new(python())
            .args([
                "-m",
                "fleetcert_emulator",
                "--host",
                "127.0.0.1",
                "--port",
                "0",
            ])
            .arg("--exit-on-stdin-eof")
            .current_dir(root.join("tests/emulator"))
            .env("PYTHONPATH", root.join("tests/emulator"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the emulator");
        let stdin = child.stdin.take().unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let port = loop {
            let line = lines
                .next()
                .expect("the emulator exited before it was ready")
                .unwrap();
            if let Some(rest) = line.strip_prefix("FLEETCERT_EMULATOR_READY port=") {
                break rest.trim().parse().unwrap();
            }
        };
        std::thread::spawn(move || for _ in lines {});
        Emulator {
            child,
            _stdin: stdin,
            port,
        }
    }

    fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Run tests/it/iot_jobs.py (boto3) with `request`.
    fn cloud(&self, account: &str, mut request: Value) -> Value {
        request["endpoint"] = json!(self.endpoint());
        request["region"] = json!("eu-west-1");
        request["account"] = json!(account);
        let mut child = Command::new(python())
            .arg(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/it/iot_jobs.py"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(request.to_string().as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "iot_jobs.py: {}", text(&out));
        serde_json::from_slice(&out.stdout).unwrap()
    }
}

#[test]
fn over_the_https_data_plane_one_job_succeeds_one_falls_back_and_one_is_rejected() {
    let tmp = tempfile::tempdir().unwrap();
    let fleet_ca = Ca::new("Factory A Root CA");
    let broker = Broker::start(tmp.path(), &fleet_ca);
    let emulator = Emulator::start();
    // A 12-digit access key id is the emulator's account: nothing else sees it.
    let account = format!("7{:011}", std::process::id());

    let good = Device::new("sensor-a", &fleet_ca);
    let refused = Device::new("sensor-b", &fleet_ca);
    let stranger = Device::new("sensor-c", &fleet_ca);
    let good_id = certificate_id("sensor-a gen2");
    let refused_id = certificate_id("sensor-b gen2");
    let (good_entry, good_cert) = good.entry(&fleet_ca, &good_id);
    let (refused_entry, _) = refused.entry(&Ca::new("Some Other CA"), &refused_id);
    let doc = document(
        &fleet_ca,
        json!({"sensor-a": good_entry, "sensor-b": refused_entry}),
    );
    let things = json!(["sensor-a", "sensor-b", "sensor-c"]);
    emulator.cloud(
        &account,
        json!({"action": "create", "things": things, "jobId": "rotate-w1", "document": doc}),
    );

    let env = [
        ("AWS_ACCESS_KEY_ID", account.as_str()),
        ("AWS_SECRET_ACCESS_KEY", "emulator-secret"),
    ];
    let endpoint = emulator.endpoint();
    let flags = [
        "--jobs-endpoint",
        endpoint.as_str(),
        "--region",
        "eu-west-1",
    ];
    let runs = [(&good, Some(0)), (&refused, Some(3)), (&stranger, Some(3))];
    for (device, code) in runs {
        let out = agent(device, &broker, &flags, &env);
        assert_eq!(out.status.code(), code, "{}: {}", device.thing, text(&out));
    }

    let executions = emulator.cloud(
        &account,
        json!({"action": "describe", "things": things, "jobId": "rotate-w1"}),
    );
    assert_eq!(
        executions["sensor-a"]["status"], "SUCCEEDED",
        "{executions}"
    );
    assert_eq!(
        executions["sensor-a"]["statusDetails"],
        json!({"certificateId": good_id})
    );
    assert_eq!(good.current(), good_id);
    assert_eq!(
        good.read(&format!("slots/{good_id}/certificate.pem")),
        good_cert
    );

    assert_eq!(executions["sensor-b"]["status"], "FAILED", "{executions}");
    assert_eq!(
        executions["sensor-b"]["statusDetails"]["certificateId"],
        refused_id
    );
    let reason = executions["sensor-b"]["statusDetails"]["reason"]
        .as_str()
        .unwrap();
    assert!(
        reason.starts_with("the broker refused the new certificate")
            && reason.ends_with("kept the current certificate initial"),
        "{reason}"
    );
    assert_eq!(refused.current(), "initial");

    assert_eq!(executions["sensor-c"]["status"], "REJECTED", "{executions}");
    assert_eq!(
        executions["sensor-c"]["statusDetails"]["reason"],
        "the document has no entry for thing \"sensor-c\""
    );

    // The broker saw sensor-a's new certificate, and sensor-b's old one
    // after its new one was refused by TLS.
    let connected = broker.connected_as();
    assert!(
        connected.contains(&"sensor-a gen2".to_string()),
        "{connected:?}"
    );
    assert!(
        connected.contains(&"sensor-b gen1".to_string()),
        "{connected:?}"
    );
    assert!(
        !connected.contains(&"sensor-b gen2".to_string()),
        "{connected:?}"
    );
    assert!(broker.log_text().contains("certificate verify failed"));
}

/// A one-request HTTPS server (rustls) for `localhost`: it records the
/// request and answers `body`.
fn https_server(
    dir: &std::path::Path,
    body: &'static str,
) -> (u16, PathBuf, std::thread::JoinHandle<String>) {
    use std::sync::Arc;
    let ca = Ca::new("Jobs Endpoint CA");
    let key = crate::support::new_key();
    let cert = ca.issue(&key, "localhost", &["localhost"]);
    let ca_file = dir.join("jobs-ca.pem");
    std::fs::write(&ca_file, &ca.pem).unwrap();
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(
        vec![cert.der().clone()],
        rustls_pki_types::PrivateKeyDer::try_from(key.serialize_der()).unwrap(),
    )
    .unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = std::thread::spawn(move || {
        use std::io::Read;
        let (tcp, _) = listener.accept().unwrap();
        let conn = rustls::ServerConnection::new(Arc::new(config)).unwrap();
        let mut tls = rustls::StreamOwned::new(conn, tcp);
        let mut request = Vec::new();
        let mut buf = [0u8; 4096];
        // Read the header, then the body its Content-Length gives.
        loop {
            let n = match tls.read(&mut buf) {
                Ok(n) => n,
                Err(e) => return format!("TLS ERROR {e}"),
            };
            if n == 0 {
                break;
            }
            request.extend_from_slice(&buf[..n]);
            let text = String::from_utf8_lossy(&request).to_string();
            if let Some(head_end) = text.find("\r\n\r\n") {
                let length: usize = text
                    .lines()
                    .find_map(|l| l.strip_prefix("Content-Length: "))
                    .and_then(|v| v.trim().parse().ok())
                    .unwrap_or(0);
                if request.len() >= head_end + 4 + length {
                    break;
                }
            }
        }
        let answer = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        tls.write_all(answer.as_bytes()).unwrap();
        tls.conn.send_close_notify();
        let _ = tls.flush();
        String::from_utf8_lossy(&request).to_string()
    });
    (port, ca_file, server)
}

fn https_jobs(port: u16, ca: PathBuf) -> device_agent::https::HttpJobs {
    device_agent::https::HttpJobs::new(
        device_agent::https::HttpJobsConfig {
            endpoint: device_agent::https::Endpoint::parse(&format!("https://localhost:{port}"))
                .unwrap(),
            roots: device_agent::tls::ServerRoots::File(ca),
            region: "eu-west-1".into(),
            credentials: device_agent::sigv4::Credentials {
                access_key_id: "AKIDEXAMPLE".into(),
                secret_access_key: "secret".into(),
                session_token: Some("session".into()),
            },
            timeout: std::time::Duration::from_secs(5),
        },
        "sensor-1",
    )
    .unwrap()
}

#[test]
fn over_tls_the_data_plane_request_is_signed_and_the_server_verified() {
    use device_agent::jobs::JobsChannel;
    let tmp = tempfile::tempdir().unwrap();
    let (port, ca, server) = https_server(
        tmp.path(),
        r#"{"execution":{"jobId":"rotate-1","thingName":"sensor-1","status":"IN_PROGRESS","versionNumber":2,"executionNumber":1,"jobDocument":"{\"operation\":\"x\"}"}}"#,
    );
    let execution = https_jobs(port, ca).start_next().unwrap().unwrap();
    assert_eq!(execution.job_id, "rotate-1");
    assert_eq!(execution.version_number, 2);
    assert_eq!(execution.job_document, json!("{\"operation\":\"x\"}"));
    let request = server.join().unwrap();
    assert!(
        request.starts_with("PUT /things/sensor-1/jobs/$next HTTP/1.1\r\n"),
        "{request}"
    );
    assert!(
        request.contains(&format!("\r\nHost: localhost:{port}\r\n")),
        "{request}"
    );
    assert!(
        request.contains("\r\nX-Amz-Security-Token: session\r\n"),
        "{request}"
    );
    assert!(
        request.contains("\r\nAuthorization: AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/")
            && request.contains("/eu-west-1/iot-jobs-data/aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-security-token, Signature="),
        "{request}"
    );
    assert!(request.ends_with("\r\n\r\n{}"), "{request}");

    // A server whose certificate does not chain to the given CA is refused.
    let (port, _, server) = https_server(tmp.path(), "{}");
    let other_ca = tmp.path().join("other-ca.pem");
    std::fs::write(&other_ca, Ca::new("Other CA").pem).unwrap();
    let err = https_jobs(port, other_ca).start_next().unwrap_err();
    assert!(err.contains("invalid peer certificate"), "{err}");
    assert!(server.join().unwrap().starts_with("TLS ERROR"));
}
