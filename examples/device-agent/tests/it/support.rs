//! The scene of every test: a test PKI (rcgen), a real mosquitto broker that
//! requires client certificates from the fleet CA (as in the main suite's
//! tests/it/mqtt.rs), a device directory as fleetcert writes it, and the
//! agent binary.

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use rcgen::{
    BasicConstraints, Certificate, CertificateParams, DnType, IsCa, Issuer, KeyPair,
    PKCS_ECDSA_P256_SHA256,
};
use rustls_pki_types::SubjectPublicKeyInfoDer;
use rustls_pki_types::pem::PemObject;

pub fn tool(name: &str) -> PathBuf {
    for dir in ["/usr/sbin", "/usr/bin", "/usr/local/sbin", "/usr/local/bin"] {
        let path = Path::new(dir).join(name);
        if path.exists() {
            return path;
        }
    }
    panic!("{name} is not installed: run `make test` (scripts/system-deps.sh installs mosquitto)");
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub struct Ca {
    pub pem: String,
    issuer: Issuer<'static, KeyPair>,
}

impl Ca {
    pub fn new(cn: &str) -> Ca {
        let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.distinguished_name.push(DnType::CommonName, cn);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let cert = params.self_signed(&key).unwrap();
        Ca {
            pem: cert.pem(),
            issuer: Issuer::new(params, key),
        }
    }

    pub fn issue(&self, key: &KeyPair, cn: &str, names: &[&str]) -> Certificate {
        let mut params =
            CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
                .unwrap();
        params.distinguished_name.push(DnType::CommonName, cn);
        params.signed_by(key, &self.issuer).unwrap()
    }
}

pub fn new_key() -> KeyPair {
    KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap()
}

/// The document's `key.publicKeySha256`: SHA-256 of the SPKI DER, computed
/// here from the `PUBLIC KEY` PEM (not by the agent's code).
pub fn public_key_sha256(key: &KeyPair) -> String {
    let spki = SubjectPublicKeyInfoDer::from_pem_slice(key.public_key_pem().as_bytes()).unwrap();
    hex::encode(ring::digest::digest(&ring::digest::SHA256, spki.as_ref()))
}

/// A made-up certificate id (64 hex), distinct per label.
pub fn certificate_id(label: &str) -> String {
    hex::encode(ring::digest::digest(
        &ring::digest::SHA256,
        label.as_bytes(),
    ))
}

pub struct Broker {
    child: Child,
    pub port: u16,
    pub log: PathBuf,
    /// The CA the broker's own certificate chains to (the agent's `--ca`).
    pub server_ca: PathBuf,
}

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Broker {
    /// mosquitto on a free port, requiring a client certificate from `client_ca`.
    pub fn start(dir: &Path, client_ca: &Ca) -> Broker {
        let server_ca = Ca::new("Test Broker CA");
        let server_key = new_key();
        let server = server_ca.issue(&server_key, "localhost", &["localhost", "127.0.0.1"]);
        let write = |name: &str, text: &str| {
            let p = dir.join(name);
            std::fs::write(&p, text).unwrap();
            p
        };
        let cafile = write("client-ca.pem", &client_ca.pem);
        let certfile = write("server-cert.pem", &server.pem());
        let keyfile = write("server-key.pem", &server_key.serialize_pem());
        let server_ca_file = write("server-ca.pem", &server_ca.pem);
        let port = free_port();
        // `user root` keeps a root-started broker from dropping to a user that
        // cannot read the test's private temporary files.
        let config = write(
            "mosquitto.conf",
            &format!(
                "listener {port} 127.0.0.1\nuser root\nallow_anonymous true\nrequire_certificate true\n\
                 use_identity_as_username true\ncafile {}\ncertfile {}\nkeyfile {}\npersistence false\n\
                 log_dest stderr\nlog_type all\n",
                cafile.display(),
                certfile.display(),
                keyfile.display()
            ),
        );
        let log = dir.join("mosquitto.log");
        let child = Command::new(tool("mosquitto"))
            .arg("-c")
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("start mosquitto");
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "mosquitto did not start listening on {port}:\n{}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Broker {
            child,
            port,
            log,
            server_ca: server_ca_file,
        }
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The client usernames (certificate CNs: `use_identity_as_username`)
    /// of every connection the broker accepted, in order.
    pub fn connected_as(&self) -> Vec<String> {
        self.log_text()
            .lines()
            .filter(|l| l.contains("New client connected"))
            .filter_map(|l| l.split("u'").nth(1))
            .filter_map(|rest| rest.split('\'').next())
            .map(str::to_string)
            .collect()
    }
}

/// A device's directory as fleetcert writes it (certificate.pem,
/// private-key.pem, chain.pem), plus a key the device made for its next
/// certificate (its CSR went to fleetcert), in keys/.
pub struct Device {
    pub thing: String,
    pub dir: tempfile::TempDir,
    pub old_cert: String,
    pub next_key: KeyPair,
}

impl Device {
    pub fn new(thing: &str, ca: &Ca) -> Device {
        let dir = tempfile::tempdir().unwrap();
        let key = new_key();
        let old_cert = ca.issue(&key, &format!("{thing} gen1"), &[]).pem();
        std::fs::write(dir.path().join("certificate.pem"), &old_cert).unwrap();
        std::fs::write(dir.path().join("private-key.pem"), key.serialize_pem()).unwrap();
        std::fs::write(dir.path().join("chain.pem"), &ca.pem).unwrap();
        let next_key = new_key();
        std::fs::create_dir(dir.path().join("keys")).unwrap();
        std::fs::write(dir.path().join("keys/next.pem"), next_key.serialize_pem()).unwrap();
        Device {
            thing: thing.to_string(),
            dir,
            old_cert,
            next_key,
        }
    }

    /// The document entry for a new certificate of the device's next key, signed by `ca`.
    pub fn entry(&self, ca: &Ca, id: &str) -> (serde_json::Value, String) {
        let cert = ca
            .issue(&self.next_key, &format!("{} gen2", self.thing), &[])
            .pem();
        let entry = serde_json::json!({
            "certificateId": id,
            "certificatePem": cert,
            "key": {"source": "device", "publicKeySha256": public_key_sha256(&self.next_key)}
        });
        (entry, cert)
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    pub fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.path(rel))
            .unwrap_or_else(|e| panic!("{}: {e}", self.path(rel).display()))
    }

    pub fn current(&self) -> String {
        self.read("current").trim().to_string()
    }
}

pub fn document(ca: &Ca, devices: serde_json::Value) -> serde_json::Value {
    serde_json::json!({
        "operation": "fleetcert:rotate-certificate",
        "formatVersion": 1,
        "fleet": "factory-a",
        "caCertificatePem": ca.pem,
        "devices": devices,
    })
}

/// Run the agent binary for `device` against `broker` with extra flags.
pub fn agent(device: &Device, broker: &Broker, extra: &[&str], env: &[(&str, &str)]) -> Output {
    agent_command(device, broker, extra, env)
        .output()
        .expect("run device-agent")
}

/// The agent's command line for `device` against `broker`.
pub fn agent_command(
    device: &Device,
    broker: &Broker,
    extra: &[&str],
    env: &[(&str, &str)],
) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_device-agent"));
    command
        .args(["--thing", &device.thing, "--cert-dir"])
        .arg(device.dir.path())
        .args(["--broker", &format!("localhost:{}", broker.port), "--ca"])
        .arg(&broker.server_ca)
        .args(["--timeout-seconds", "5"])
        .args(extra)
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .env_remove("AWS_SESSION_TOKEN");
    for (k, v) in env {
        command.env(k, v);
    }
    command
}

pub fn text(output: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}
