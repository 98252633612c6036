//! The generator of the checked-in CSR fixtures (the root fleet.yaml's `csr/`,
//! `examples/gitops-csr/csr/`, and the invalid CSRs of `tests/spec_corpus/`).
//!
//! Each CSR is made with rcgen from a throwaway key that is dropped at once:
//! no device private key is saved anywhere. The one exception is the RSA test
//! key `tests/fixtures/rsa-2048.key.pem` (rcgen's ring backend cannot make RSA
//! keys), which is a test fixture and signs only the corpus's RSA CSR.
//!
//! Regenerate (keys are random, so every run changes the files):
//!
//! ```text
//! cargo test --test it spec_fixtures -- --ignored
//! ```

use std::path::Path;

use rcgen::{CertificateParams, DistinguishedName, DnType, KeyPair, SignatureAlgorithm};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn params(cn: &str) -> CertificateParams {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.distinguished_name = DistinguishedName::new();
    params.distinguished_name.push(DnType::CommonName, cn);
    params
}

/// A CSR for `cn` signed by `key`.
fn csr_with(key: &KeyPair, cn: &str) -> String {
    params(cn).serialize_request(key).unwrap().pem().unwrap()
}

/// A CSR for `cn` with a fresh key of `alg`, the key thrown away.
pub fn csr(cn: &str, alg: &'static SignatureAlgorithm) -> String {
    csr_with(&KeyPair::generate_for(alg).unwrap(), cn)
}

/// A CSR for `cn` with a fresh P-256 key, the key thrown away.
pub fn p256_csr(cn: &str) -> String {
    csr(cn, &rcgen::PKCS_ECDSA_P256_SHA256)
}

fn write(relative: &str, text: &str) {
    let path = root().join(relative);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// The DER of a one-block PEM text.
fn pem_der(pem: &str) -> Vec<u8> {
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    let value = |c: u8| match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        _ => 63,
    };
    let bytes: Vec<u8> = body.bytes().filter(|&c| c != b'=').map(value).collect();
    let mut out = Vec::new();
    for chunk in bytes.chunks(4) {
        let mut n = 0u32;
        for (i, &b) in chunk.iter().enumerate() {
            n |= u32::from(b) << (18 - 6 * i);
        }
        for i in 0..chunk.len().saturating_sub(1) {
            out.push((n >> (16 - 8 * i)) as u8);
        }
    }
    out
}

fn der_pem(label: &str, der: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut body = String::new();
    for chunk in der.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            body.push(if i <= chunk.len() {
                ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char
            } else {
                '='
            });
        }
    }
    let lines: Vec<&str> = body
        .as_bytes()
        .chunks(64)
        .map(|l| std::str::from_utf8(l).unwrap())
        .collect();
    format!(
        "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
        lines.join("\n")
    )
}

#[test]
#[ignore = "rewrites the checked-in CSR fixtures; run with --ignored"]
fn regenerate_csr_fixtures() {
    // The root fleet.yaml.
    for name in ["sensor-001", "sensor-002"] {
        write(&format!("csr/{name}.csr"), &p256_csr(name));
    }
    // The CSR-only GitOps example.
    for name in ["press-01", "press-02", "press-03", "robot-arm-01"] {
        write(
            &format!("examples/gitops-csr/csr/{name}.csr"),
            &p256_csr(name),
        );
    }

    // Invalid CSRs for the corpus.
    let corpus = "tests/spec_corpus";
    write(
        &format!("{corpus}/csr-wrong-cn/csr/gateway-01.csr"),
        &p256_csr("gateway-02"),
    );
    write(
        &format!("{corpus}/csr-p384/csr/sensor-p384.csr"),
        &csr("sensor-p384", &rcgen::PKCS_ECDSA_P384_SHA384),
    );
    write(
        &format!("{corpus}/include-errors-in-several-files/csr/line-b-02.csr"),
        &csr("line-b-02", &rcgen::PKCS_ECDSA_P384_SHA384),
    );
    let rsa_pem = std::fs::read_to_string(root().join("tests/fixtures/rsa-2048.key.pem")).unwrap();
    let rsa = KeyPair::from_pem_and_sign_algo(&rsa_pem, &rcgen::PKCS_RSA_SHA256).unwrap();
    write(
        &format!("{corpus}/csr-rsa/csr/sensor-rsa.csr"),
        &csr_with(&rsa, "sensor-rsa"),
    );

    // A good CSR whose subject was altered after signing: the signature fails.
    let good = p256_csr("sensor-tampered");
    let mut der = pem_der(&good);
    let at = der
        .windows(15)
        .position(|w| w == b"sensor-tampered")
        .unwrap();
    der[at] = b'S';
    let tampered = der_pem("CERTIFICATE REQUEST", &der);
    write(
        &format!("{corpus}/csr-bad-signature/csr/sensor-tampered.csr"),
        &tampered,
    );

    // A certificate where a CSR belongs.
    let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let cert = params("sensor-cert").self_signed(&key).unwrap();
    write(
        &format!("{corpus}/csr-wrong-pem-label/csr/sensor-cert.csr"),
        &cert.pem(),
    );
}

#[test]
fn pem_round_trips() {
    let pem = p256_csr("x");
    assert_eq!(
        der_pem("CERTIFICATE REQUEST", &pem_der(&pem)).replace('\n', ""),
        pem.replace(['\n', '\r'], "")
    );
}
