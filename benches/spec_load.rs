//! How long loading and validating a 10,000-device spec takes.
//!
//!     cargo bench --bench spec_load
//!
//! 1. examples/large-fleet (keys made by fleetcert, 20 include files);
//! 2. a temporary 10,000-device fleet whose devices all have CSRs (made once
//!    here with rcgen, P-256), so every CSR is read, parsed and its signature
//!    checked (in parallel, with rayon).

use std::path::Path;
use std::time::{Duration, Instant};

const DEVICES: usize = 10_000;
const RUNS: usize = 7;

/// The median of `RUNS` timed loads of `path`, and the device count.
fn time_load(path: &Path) -> (Duration, usize) {
    let mut times = Vec::new();
    let mut devices = 0;
    for _ in 0..RUNS {
        let start = Instant::now();
        let spec = fleetcert::spec::load(path).unwrap_or_else(|e| panic!("{e}"));
        times.push(start.elapsed());
        devices = spec.devices.len();
    }
    times.sort();
    (times[RUNS / 2], devices)
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let (time, devices) = time_load(&root.join("examples/large-fleet/fleet.yaml"));
    println!(
        "spec_load: {devices} devices (generated keys): {:.1} ms",
        ms(time)
    );

    let dir = tempfile::tempdir().unwrap();
    let start = Instant::now();
    std::fs::create_dir(dir.path().join("csr")).unwrap();
    let mut yaml = String::from(
        "version: 1\nfleet: bench\nca:\n  subject: {common_name: Bench Root CA}\n\
         policies:\n  p:\n    document: {Version: \"2012-10-17\", Statement: [{Effect: Allow, Action: \"iot:*\", Resource: \"*\"}]}\n\
         defaults:\n  policies: [p]\ndevices:\n",
    );
    for n in 0..DEVICES {
        let name = format!("device-{n:05}");
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.distinguished_name = rcgen::DistinguishedName::new();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, name.as_str());
        let pem = params.serialize_request(&key).unwrap().pem().unwrap();
        std::fs::write(dir.path().join(format!("csr/{name}.csr")), pem).unwrap();
        yaml.push_str(&format!("  - {{name: {name}, csr: csr/{name}.csr}}\n"));
    }
    let path = dir.path().join("fleet.yaml");
    std::fs::write(&path, yaml).unwrap();
    eprintln!("(made {DEVICES} CSRs in {:.0} ms)", ms(start.elapsed()));
    let (time, devices) = time_load(&path);
    println!(
        "spec_load: {devices} devices (CSRs, signatures checked on {} threads): {:.1} ms",
        rayon::current_num_threads(),
        ms(time)
    );
}
