//! MQTT over TLS mutual authentication, for real: a mosquitto broker whose
//! client CA is the fleet's CA accepts a device that presents the
//! certificate.pem and private-key.pem fleetcert wrote, and refuses a
//! certificate from another CA.

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, PKCS_ECDSA_P256_SHA256,
};

use crate::fleet_dir::{FleetDir, apply_ok};
use crate::harness::{Account, shared};

pub(crate) fn tool(name: &str) -> PathBuf {
    for dir in ["/usr/sbin", "/usr/bin", "/usr/local/sbin", "/usr/local/bin"] {
        let path = Path::new(dir).join(name);
        if path.exists() {
            return path;
        }
    }
    panic!(
        "{name} is not installed: run `make test` (scripts/system-deps.sh installs mosquitto and mosquitto-clients)"
    );
}

pub(crate) fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A CA (self-signed) and a leaf it signs, as PEM files in `dir`.
pub(crate) struct Pki {
    pub(crate) ca_cert: PathBuf,
    pub(crate) leaf_cert: PathBuf,
    pub(crate) leaf_key: PathBuf,
}

pub(crate) fn make_pki(
    dir: &Path,
    prefix: &str,
    ca_cn: &str,
    leaf_cn: &str,
    leaf_names: &[&str],
) -> Pki {
    let ca_key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.distinguished_name.push(DnType::CommonName, ca_cn);
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_cert = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca_params, ca_key);
    let leaf_key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
    let names: Vec<String> = leaf_names.iter().map(|n| n.to_string()).collect();
    let mut leaf_params = CertificateParams::new(names).unwrap();
    leaf_params
        .distinguished_name
        .push(DnType::CommonName, leaf_cn);
    let leaf = leaf_params.signed_by(&leaf_key, &issuer).unwrap();
    let pki = Pki {
        ca_cert: dir.join(format!("{prefix}-ca.pem")),
        leaf_cert: dir.join(format!("{prefix}-cert.pem")),
        leaf_key: dir.join(format!("{prefix}-key.pem")),
    };
    std::fs::write(&pki.ca_cert, ca_cert.pem()).unwrap();
    std::fs::write(&pki.leaf_cert, leaf.pem()).unwrap();
    std::fs::write(&pki.leaf_key, leaf_key.serialize_pem()).unwrap();
    pki
}

/// The broker's own certificate, for `localhost`, from a test CA.
pub(crate) fn server_pki(dir: &Path) -> Pki {
    make_pki(
        dir,
        "server",
        "Test Broker CA",
        "localhost",
        &["localhost", "127.0.0.1"],
    )
}

pub(crate) struct Broker(Child);

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub(crate) fn start_broker(dir: &Path, port: u16, client_ca: &Path, server: &Pki) -> Broker {
    let config = dir.join("mosquitto.conf");
    std::fs::write(
        &config,
        format!(
            "listener {port} 127.0.0.1\nuser root\nallow_anonymous true\nrequire_certificate true\nuse_identity_as_username true\n\
             cafile {}\ncertfile {}\nkeyfile {}\npersistence false\nlog_dest stderr\n",
            client_ca.display(),
            server.leaf_cert.display(),
            server.leaf_key.display()
        ),
    )
    .unwrap();
    // `user root` keeps a root-started broker from dropping to a user that
    // cannot read the test's private temporary files.
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
    Broker(child)
}

pub(crate) fn client(port: u16, server_ca: &Path, cert: &Path, key: &Path, id: &str) -> Command {
    let mut command = Command::new(tool("mosquitto_pub"));
    command
        .args([
            "-h",
            "localhost",
            "-p",
            &port.to_string(),
            "-i",
            id,
            "-q",
            "1",
        ])
        .arg("--cafile")
        .arg(server_ca)
        .arg("--cert")
        .arg(cert)
        .arg("--key")
        .arg(key);
    command
}

#[test]
fn a_device_connects_with_the_files_fleetcert_wrote_and_a_foreign_certificate_is_refused() {
    let account = Account::new(shared());
    let fleet = FleetDir::root_example();
    apply_ok(&account, fleet.path());

    let tls = tempfile::tempdir().unwrap();
    let server = server_pki(tls.path());
    let port = free_port();
    let out = fleet.path().join("out");
    let _broker = start_broker(tls.path(), port, &out.join("sensor-003/chain.pem"), &server);

    // sensor-003 publishes a retained message (QoS 1: mosquitto_pub exits 0
    // only once the broker acknowledged it), then a subscriber (gateway-01)
    // receives it whenever it connects: no wait for the subscriber to be ready.
    let published = client(
        port,
        &server.ca_cert,
        &out.join("sensor-003/certificate.pem"),
        &out.join("sensor-003/private-key.pem"),
        "sensor-003",
    )
    .args([
        "-t",
        "factory-a/sensor-003/telemetry",
        "-m",
        "hello from sensor-003",
        "-r",
    ])
    .output()
    .unwrap();
    assert!(
        published.status.success(),
        "the device could not publish: {}",
        String::from_utf8_lossy(&published.stderr)
    );
    let received = Command::new(tool("mosquitto_sub"))
        .args([
            "-h",
            "localhost",
            "-p",
            &port.to_string(),
            "-i",
            "gateway-01",
            "-t",
            "factory-a/#",
            "-C",
            "1",
            "-W",
            "20",
        ])
        .arg("--cafile")
        .arg(&server.ca_cert)
        .arg("--cert")
        .arg(out.join("gateway-01/certificate.pem"))
        .arg("--key")
        .arg(out.join("gateway-01/private-key.pem"))
        .output()
        .expect("run mosquitto_sub");
    assert!(
        received.status.success(),
        "the subscriber failed: {}",
        String::from_utf8_lossy(&received.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&received.stdout).trim(),
        "hello from sensor-003"
    );

    // A certificate from another CA is refused by the TLS handshake.
    let log = tls.path().join("mosquitto.log");
    let log_before = std::fs::read_to_string(&log).unwrap().len();
    let foreign = make_pki(tls.path(), "foreign", "Some Other CA", "sensor-003", &[]);
    let refused = client(
        port,
        &server.ca_cert,
        &foreign.leaf_cert,
        &foreign.leaf_key,
        "sensor-003",
    )
    .args(["-t", "factory-a/sensor-003/telemetry", "-m", "intruder"])
    .output()
    .unwrap();
    let client_said = String::from_utf8_lossy(&refused.stderr).into_owned();
    let broker_said = std::fs::read_to_string(&log).unwrap()[log_before..].to_string();
    assert!(
        !refused.status.success(),
        "a certificate from another CA was accepted"
    );
    // The refusal is the TLS handshake's: the broker's OpenSSL could not
    // verify the client certificate and dropped the connection before any
    // MQTT was spoken (the client only sees the connection go; TLS 1.3
    // verifies the client after the client's side of the handshake is done),
    // not an MQTT CONNACK refusal, a timeout or a wrong port.
    assert!(
        broker_said.contains("OpenSSL Error") && broker_said.contains("certificate verify failed"),
        "the broker log does not show a failed certificate verification:\n{broker_said}"
    );
    assert!(
        !client_said.contains("Connection Refused") && !client_said.contains("timed out"),
        "mosquitto_pub was refused by MQTT, not by TLS: {client_said}"
    );
}

/// With bundles in Secrets Manager: nothing is written under `out/`;
/// `fleetcert export` writes a device's bundle for a provisioning station,
/// and the device connects with the certificate and key read back from the
/// store.
#[test]
fn a_device_connects_with_its_bundle_exported_from_secrets_manager() {
    let account = Account::new(shared());
    let fleet = FleetDir::root_example();
    fleet.edit("output:\n  dir: out\n", "output:\n  secrets_manager: {}\n");
    apply_ok(&account, fleet.path());
    assert!(!fleet.path().join("out").exists(), "nothing under out/");

    let station = tempfile::tempdir().unwrap();
    let exported = crate::fleet_dir::run(
        account
            .fleetcert(fleet.path())
            .args(["export", "--device", "sensor-003", "--to"])
            .arg(station.path()),
    )
    .success();
    assert!(
        exported.stdout.contains("Wrote sensor-003's bundle"),
        "{}",
        exported.stdout
    );
    assert!(!exported.stdout.contains("PRIVATE KEY"));
    let device = station.path().join("sensor-003");
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&device), 0o700);
    assert_eq!(mode(&device.join("private-key.pem")), 0o600);

    let tls = tempfile::tempdir().unwrap();
    let server = server_pki(tls.path());
    let port = free_port();
    let _broker = start_broker(tls.path(), port, &device.join("chain.pem"), &server);
    let published = client(
        port,
        &server.ca_cert,
        &device.join("certificate.pem"),
        &device.join("private-key.pem"),
        "sensor-003",
    )
    .args([
        "-t",
        "factory-a/sensor-003/telemetry",
        "-m",
        "from the store",
    ])
    .output()
    .unwrap();
    assert!(
        published.status.success(),
        "the device could not publish with its exported bundle: {}",
        String::from_utf8_lossy(&published.stderr)
    );
}
