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
//! FLEETCERT_REGENERATE_FIXTURES=1 cargo test --test it spec_fixtures
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
fn pem_der(text: &str) -> Vec<u8> {
    pem::parse(text).unwrap().into_contents()
}

fn der_pem(label: &str, der: &[u8]) -> String {
    let config = pem::EncodeConfig::new().set_line_ending(pem::LineEnding::LF);
    pem::encode_config(&pem::Pem::new(label, der.to_vec()), config)
}

/// Rewrites the checked-in CSR fixtures when `FLEETCERT_REGENERATE_FIXTURES=1`;
/// otherwise checks that each fixture still has the one property it exists
/// for (the corpus snapshots check what the loader says about them).
#[test]
fn csr_fixtures_have_the_properties_they_exist_for() {
    if std::env::var_os("FLEETCERT_REGENERATE_FIXTURES").is_some() {
        regenerate_csr_fixtures();
    }
    use x509_parser::prelude::FromDer;
    let read = |relative: &str| std::fs::read_to_string(root().join(relative)).unwrap();
    let csr_cn_and_curve = |relative: &str| {
        let der = pem_der(&read(relative));
        let (_, csr) =
            x509_parser::certification_request::X509CertificationRequest::from_der(&der).unwrap();
        let info = &csr.certification_request_info;
        let cn = info
            .subject
            .iter_common_name()
            .next()
            .unwrap()
            .as_str()
            .unwrap()
            .to_string();
        let curve = info
            .subject_pki
            .algorithm
            .parameters
            .as_ref()
            .and_then(|p| p.as_oid().ok())
            .map(|o| o.to_id_string());
        (cn, curve, csr.verify_signature().is_ok())
    };
    const P256: &str = "1.2.840.10045.3.1.7";
    const P384: &str = "1.3.132.0.34";
    for name in ["sensor-001", "sensor-002"] {
        assert_eq!(
            csr_cn_and_curve(&format!("csr/{name}.csr")),
            (name.to_string(), Some(P256.to_string()), true)
        );
    }
    for name in ["press-01", "press-02", "press-03", "robot-arm-01"] {
        let path = format!("examples/gitops-csr/csr/{name}.csr");
        assert_eq!(
            csr_cn_and_curve(&path),
            (name.to_string(), Some(P256.to_string()), true)
        );
    }
    let corpus = "tests/spec_corpus";
    assert_eq!(
        csr_cn_and_curve(&format!("{corpus}/csr-wrong-cn/csr/gateway-01.csr")).0,
        "gateway-02"
    );
    assert_eq!(
        csr_cn_and_curve(&format!("{corpus}/csr-p384/csr/sensor-p384.csr"))
            .1
            .as_deref(),
        Some(P384)
    );
    assert!(
        !csr_cn_and_curve(&format!(
            "{corpus}/csr-bad-signature/csr/sensor-tampered.csr"
        ))
        .2
    );
    assert!(
        read(&format!("{corpus}/csr-wrong-pem-label/csr/sensor-cert.csr"))
            .starts_with("-----BEGIN CERTIFICATE-----")
    );
}

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
