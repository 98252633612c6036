//! The article's flow done by hand through the AWS SDK against the emulator,
//! checked with our own X.509 code rather than the emulator's word: proves the
//! emulator is faithful where fleetcert's correctness depends on it.

use aws_sdk_acmpca::types::{
    Asn1Subject, CertificateAuthorityConfiguration, CertificateAuthorityStatus,
    CertificateAuthorityType, KeyAlgorithm, SigningAlgorithm, Validity, ValidityPeriodType,
};
use aws_sdk_iot::error::ProvideErrorMetadata;
use rcgen::{CertificateParams, DistinguishedName, DnType, KeyPair, PKCS_ECDSA_P256_SHA256};
use x509_parser::oid_registry::{
    OID_EC_P256, OID_KEY_TYPE_EC_PUBLIC_KEY, OID_SIG_ECDSA_WITH_SHA256,
};
use x509_parser::prelude::*;

use crate::harness::{Account, shared};

const ROOT_TEMPLATE: &str = "arn:aws:acm-pca:::template/RootCACertificate/V1";
const CLIENT_TEMPLATE: &str = "arn:aws:acm-pca:::template/EndEntityClientAuthCertificate/V1";

/// A P-256 CSR with the given CN; the key never leaves this function.
pub fn p256_csr(common_name: &str) -> String {
    let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, common_name);
    params.distinguished_name = dn;
    params.serialize_request(&key).unwrap().pem().unwrap()
}

/// Wait out `RequestInProgressException` and return the certificate PEM.
pub async fn get_certificate(pca: &aws_sdk_acmpca::Client, ca_arn: &str, cert_arn: &str) -> String {
    for _ in 0..50 {
        match pca
            .get_certificate()
            .certificate_authority_arn(ca_arn)
            .certificate_arn(cert_arn)
            .send()
            .await
        {
            Ok(out) => return out.certificate().unwrap().to_string(),
            Err(err) if err.code() == Some("RequestInProgressException") => {
                tokio::time::sleep(std::time::Duration::from_millis(100)).await
            }
            Err(err) => panic!("GetCertificate: {err:?}"),
        }
    }
    panic!("certificate {cert_arn} never became ready")
}

/// Wait out CREATING and `RequestInProgressException` (as the SDK's
/// `CertificateAuthorityCSRCreated` waiter does) and return the CA's CSR.
pub async fn ca_csr(pca: &aws_sdk_acmpca::Client, ca_arn: &str) -> String {
    for _ in 0..100 {
        match pca
            .get_certificate_authority_csr()
            .certificate_authority_arn(ca_arn)
            .send()
            .await
        {
            Ok(out) => return out.csr().unwrap().to_string(),
            Err(err) if err.code() == Some("RequestInProgressException") => {
                tokio::time::sleep(std::time::Duration::from_millis(100)).await
            }
            Err(err) => panic!("GetCertificateAuthorityCsr: {err:?}"),
        }
    }
    panic!("the CSR of {ca_arn} never became ready")
}

/// Create an EC_prime256v1 root CA and activate it as the seed article does:
/// get its CSR, issue its certificate with the root template, import it.
/// Returns (CA ARN, CA certificate PEM).
pub async fn create_active_root_ca(pca: &aws_sdk_acmpca::Client, cn: &str) -> (String, String) {
    let config = CertificateAuthorityConfiguration::builder()
        .key_algorithm(KeyAlgorithm::EcPrime256v1)
        .signing_algorithm(SigningAlgorithm::Sha256Withecdsa)
        .subject(
            Asn1Subject::builder()
                .common_name(cn)
                .organization("Example Corp")
                .build(),
        )
        .build()
        .unwrap();
    let ca_arn = pca
        .create_certificate_authority()
        .certificate_authority_type(CertificateAuthorityType::Root)
        .certificate_authority_configuration(config)
        .send()
        .await
        .expect("CreateCertificateAuthority")
        .certificate_authority_arn()
        .unwrap()
        .to_string();
    let csr = ca_csr(pca, &ca_arn).await;
    let cert_arn = pca
        .issue_certificate()
        .certificate_authority_arn(&ca_arn)
        .csr(aws_sdk_acmpca::primitives::Blob::new(csr.into_bytes()))
        .signing_algorithm(SigningAlgorithm::Sha256Withecdsa)
        .template_arn(ROOT_TEMPLATE)
        .validity(
            Validity::builder()
                .r#type(ValidityPeriodType::Years)
                .value(10)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .expect("IssueCertificate (root)")
        .certificate_arn()
        .unwrap()
        .to_string();
    let ca_pem = get_certificate(pca, &ca_arn, &cert_arn).await;
    pca.import_certificate_authority_certificate()
        .certificate_authority_arn(&ca_arn)
        .certificate(aws_sdk_acmpca::primitives::Blob::new(
            ca_pem.clone().into_bytes(),
        ))
        .send()
        .await
        .expect("ImportCertificateAuthorityCertificate");
    (ca_arn, ca_pem)
}

pub async fn issue(
    pca: &aws_sdk_acmpca::Client,
    ca_arn: &str,
    csr_pem: &str,
    validity: Validity,
) -> String {
    let cert_arn = pca
        .issue_certificate()
        .certificate_authority_arn(ca_arn)
        .csr(aws_sdk_acmpca::primitives::Blob::new(
            csr_pem.as_bytes().to_vec(),
        ))
        .signing_algorithm(SigningAlgorithm::Sha256Withecdsa)
        .template_arn(CLIENT_TEMPLATE)
        .validity(validity)
        .send()
        .await
        .expect("IssueCertificate")
        .certificate_arn()
        .unwrap()
        .to_string();
    get_certificate(pca, ca_arn, &cert_arn).await
}

fn der(pem_text: &str) -> Vec<u8> {
    let (_, pem) = x509_parser::pem::parse_x509_pem(pem_text.as_bytes()).expect("PEM");
    pem.contents
}

#[tokio::test]
async fn ec_p256_ca_issues_ecdsa_certificates_with_the_requested_validity() {
    let account = Account::new(shared());
    let pca = account.pca().await;
    let (ca_arn, ca_pem) = create_active_root_ca(&pca, "Emulator Test Root CA").await;

    let status = pca
        .describe_certificate_authority()
        .certificate_authority_arn(&ca_arn)
        .send()
        .await
        .unwrap()
        .certificate_authority()
        .unwrap()
        .status()
        .cloned();
    assert_eq!(status, Some(CertificateAuthorityStatus::Active));

    let ca_der = der(&ca_pem);
    let (_, ca_cert) = X509Certificate::from_der(&ca_der).unwrap();
    let spki = ca_cert.public_key();
    assert_eq!(
        spki.algorithm.algorithm, OID_KEY_TYPE_EC_PUBLIC_KEY,
        "CA key is not EC"
    );
    let curve = spki
        .algorithm
        .parameters
        .as_ref()
        .unwrap()
        .as_oid()
        .unwrap();
    assert_eq!(curve, OID_EC_P256, "CA key is not P-256");
    assert!(ca_cert.is_ca());

    let before = jiff::Timestamp::now();
    let validity = Validity::builder()
        .r#type(ValidityPeriodType::Days)
        .value(7)
        .build()
        .unwrap();
    let leaf_pem = issue(&pca, &ca_arn, &p256_csr("sensor-001"), validity).await;
    let after = jiff::Timestamp::now();

    let leaf_der = der(&leaf_pem);
    let (_, leaf) = X509Certificate::from_der(&leaf_der).unwrap();
    assert_eq!(
        leaf.signature_algorithm.algorithm,
        OID_SIG_ECDSA_WITH_SHA256
    );
    leaf.verify_signature(Some(ca_cert.public_key()))
        .expect("leaf signature verifies against the CA key");
    let cn = leaf
        .subject()
        .iter_common_name()
        .next()
        .unwrap()
        .as_str()
        .unwrap();
    assert_eq!(cn, "sensor-001");

    // notAfter is issuance + 7 days (AWS may backdate notBefore, so measure from now).
    let not_after = leaf.validity().not_after.timestamp();
    let seven_days = 7 * 86_400;
    assert!(
        not_after >= before.as_second() + seven_days - 60
            && not_after <= after.as_second() + seven_days + 60,
        "notAfter {not_after} is not 7 days after issuance ({})",
        before.as_second()
    );
}

#[tokio::test]
async fn iot_registers_the_ca_only_with_a_correct_verification_certificate() {
    let account = Account::new(shared());
    let pca = account.pca().await;
    let iot = account.iot().await;
    let (ca_arn, ca_pem) = create_active_root_ca(&pca, "Emulator IoT Root CA").await;
    let code = iot
        .get_registration_code()
        .send()
        .await
        .unwrap()
        .registration_code()
        .unwrap()
        .to_string();
    let one_day = || {
        Validity::builder()
            .r#type(ValidityPeriodType::Days)
            .value(1)
            .build()
            .unwrap()
    };

    // Wrong: the CN is not the registration code.
    let wrong_cn = issue(
        &pca,
        &ca_arn,
        &p256_csr("not-the-registration-code"),
        one_day(),
    )
    .await;
    let refused = iot
        .register_ca_certificate()
        .ca_certificate(&ca_pem)
        .verification_certificate(&wrong_cn)
        .set_as_active(true)
        .send()
        .await
        .expect_err("a verification certificate with the wrong CN must be refused");
    assert_eq!(
        refused.code(),
        Some("CertificateValidationException"),
        "{refused:?}"
    );

    // Wrong: the right CN, but signed by another CA.
    let (other_arn, _) = create_active_root_ca(&pca, "Some Other CA").await;
    let wrong_signer = issue(&pca, &other_arn, &p256_csr(&code), one_day()).await;
    let refused = iot
        .register_ca_certificate()
        .ca_certificate(&ca_pem)
        .verification_certificate(&wrong_signer)
        .set_as_active(true)
        .send()
        .await
        .expect_err("a verification certificate from another CA must be refused");
    assert_eq!(
        refused.code(),
        Some("CertificateValidationException"),
        "{refused:?}"
    );

    // Right: CN = registration code, issued by the CA being registered.
    let verification = issue(&pca, &ca_arn, &p256_csr(&code), one_day()).await;
    let registered = iot
        .register_ca_certificate()
        .ca_certificate(&ca_pem)
        .verification_certificate(&verification)
        .set_as_active(true)
        .send()
        .await
        .expect("RegisterCACertificate with a correct verification certificate");
    let ca_id = registered.certificate_id().unwrap().to_string();
    let described = iot
        .describe_ca_certificate()
        .certificate_id(&ca_id)
        .send()
        .await
        .unwrap();
    let description = described.certificate_description().unwrap();
    assert_eq!(description.status().map(|s| s.as_str()), Some("ACTIVE"));

    // The same CA again is refused.
    let again = iot
        .register_ca_certificate()
        .ca_certificate(&ca_pem)
        .verification_certificate(&verification)
        .send()
        .await
        .expect_err("registering the same CA twice must be refused");
    assert_eq!(
        again.code(),
        Some("ResourceAlreadyExistsException"),
        "{again:?}"
    );
}
