"""ACM PCA fidelity patches."""

from __future__ import annotations

import datetime as dt

import pytest
from botocore.exceptions import ClientError
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa, padding
from cryptography.x509.oid import ExtendedKeyUsageOID

from conftest import TEMPLATE, create_root_ca, issue, load, make_csr


def code(exc: ClientError) -> str:
    return exc.response["Error"]["Code"]


def test_ec_p256_ca_signs_with_ecdsa_sha256(pca):
    ca_arn, ca_pem = create_root_ca(pca)
    ca = load(ca_pem)
    key = ca.public_key()
    assert isinstance(key, ec.EllipticCurvePublicKey) and key.curve.name == "secp256r1"
    assert ca.signature_algorithm_oid == x509.SignatureAlgorithmOID.ECDSA_WITH_SHA256
    key.verify(ca.signature, ca.tbs_certificate_bytes, ec.ECDSA(hashes.SHA256()))  # self-signed root
    bc = ca.extensions.get_extension_for_class(x509.BasicConstraints)
    assert bc.value.ca and bc.critical
    ku = ca.extensions.get_extension_for_class(x509.KeyUsage).value
    assert ku.key_cert_sign and ku.crl_sign
    # the CA's CSR is signed with the CA's algorithm too
    csr = x509.load_pem_x509_csr(pca.get_certificate_authority_csr(CertificateAuthorityArn=ca_arn)["Csr"].encode())
    assert csr.signature_algorithm_oid == x509.SignatureAlgorithmOID.ECDSA_WITH_SHA256
    _, pem = issue(pca, ca_arn)
    leaf = load(pem)
    assert leaf.signature_algorithm_oid == x509.SignatureAlgorithmOID.ECDSA_WITH_SHA256
    key.verify(leaf.signature, leaf.tbs_certificate_bytes, ec.ECDSA(hashes.SHA256()))
    assert leaf.issuer == ca.subject


@pytest.mark.parametrize("key_alg,sign_alg,oid", [
    ("EC_secp384r1", "SHA384WITHECDSA", x509.SignatureAlgorithmOID.ECDSA_WITH_SHA384),
    ("RSA_2048", "SHA256WITHRSA", x509.SignatureAlgorithmOID.RSA_WITH_SHA256),
])
def test_other_key_algorithms(pca, key_alg, sign_alg, oid):
    ca_arn, ca_pem = create_root_ca(pca, key_alg, sign_alg)
    ca = load(ca_pem)
    assert ca.signature_algorithm_oid == oid
    _, pem = issue(pca, ca_arn, sign=sign_alg)
    leaf = load(pem)
    assert leaf.signature_algorithm_oid == oid
    if key_alg.startswith("RSA"):
        assert isinstance(ca.public_key(), rsa.RSAPublicKey) and ca.public_key().key_size == 2048
        ca.public_key().verify(leaf.signature, leaf.tbs_certificate_bytes, padding.PKCS1v15(), hashes.SHA256())
    else:
        assert ca.public_key().curve.name == "secp384r1"


def test_signing_algorithm_family_must_match(pca):
    with pytest.raises(ClientError) as e:
        pca.create_certificate_authority(
            CertificateAuthorityConfiguration={"KeyAlgorithm": "EC_prime256v1", "SigningAlgorithm": "SHA256WITHRSA",
                                               "Subject": {"CommonName": "x"}}, CertificateAuthorityType="ROOT")
    assert code(e.value) == "InvalidArgsException"
    ca_arn, _ = create_root_ca(pca)
    with pytest.raises(ClientError) as e:
        issue(pca, ca_arn, sign="SHA256WITHRSA")
    assert code(e.value) == "InvalidArgsException"


def test_validity_days_is_exact(pca):
    ca_arn, _ = create_root_ca(pca)
    before = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    _, pem = issue(pca, ca_arn, days=7)
    after = dt.datetime.now(dt.timezone.utc)
    c = load(pem)
    # AWS backdates notBefore by 60 minutes; notAfter is issuance + 7 days exactly
    issued_at = c.not_valid_before_utc + dt.timedelta(minutes=60)
    assert before <= issued_at <= after
    assert c.not_valid_after_utc - issued_at == dt.timedelta(days=7)


def test_validity_other_types(pca):
    ca_arn, _ = create_root_ca(pca)
    _, pem = issue(pca, ca_arn, validity={"Type": "MONTHS", "Value": 2})
    c = load(pem)
    issued = c.not_valid_before_utc + dt.timedelta(minutes=60)
    assert 59 <= (c.not_valid_after_utc - issued).days <= 62
    _, pem = issue(pca, ca_arn, validity={"Type": "YEARS", "Value": 1})
    c = load(pem)
    assert 365 <= (c.not_valid_after_utc - c.not_valid_before_utc).days <= 366
    end = int((dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=3)).timestamp())
    _, pem = issue(pca, ca_arn, validity={"Type": "ABSOLUTE", "Value": end})
    assert int(load(pem).not_valid_after_utc.timestamp()) == end
    _, pem = issue(pca, ca_arn, validity={"Type": "END_DATE", "Value": 20300102030405})
    assert load(pem).not_valid_after_utc == dt.datetime(2030, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc)


def test_validity_cannot_exceed_ca(pca):
    ca_arn, _ = create_root_ca(pca, years=1)
    with pytest.raises(ClientError) as e:
        issue(pca, ca_arn, days=400)
    assert code(e.value) == "ValidationException"


def test_a_short_lived_mode_ca_issues_at_most_seven_days(pca):
    ca_arn, _ = create_root_ca(pca, years=1, usage_mode="SHORT_LIVED_CERTIFICATE")
    described = pca.describe_certificate_authority(CertificateAuthorityArn=ca_arn)
    assert described["CertificateAuthority"]["UsageMode"] == "SHORT_LIVED_CERTIFICATE"
    _, pem = issue(pca, ca_arn, days=7)
    cert = load(pem)
    assert cert.not_valid_after_utc - cert.not_valid_before_utc >= dt.timedelta(days=7)
    with pytest.raises(ClientError) as e:
        issue(pca, ca_arn, days=8)
    assert code(e.value) == "ValidationException"
    # A general-purpose CA (the default) issues longer.
    general, _ = create_root_ca(pca, years=1)
    assert pca.describe_certificate_authority(
        CertificateAuthorityArn=general)["CertificateAuthority"]["UsageMode"] == "GENERAL_PURPOSE"
    issue(pca, general, days=30)


def test_idempotency_token(pca):
    ca_arn, _ = create_root_ca(pca)
    csr = make_csr("idem")
    args = dict(CertificateAuthorityArn=ca_arn, Csr=csr, SigningAlgorithm="SHA256WITHECDSA",
                Validity={"Type": "DAYS", "Value": 30}, IdempotencyToken="fleet-dev-1")
    a1 = pca.issue_certificate(**args)["CertificateArn"]
    a2 = pca.issue_certificate(**args)["CertificateArn"]
    assert a1 == a2
    a3 = pca.issue_certificate(**dict(args, IdempotencyToken="fleet-dev-2"))["CertificateArn"]
    assert a3 != a1
    a4 = pca.issue_certificate(**{k: v for k, v in args.items() if k != "IdempotencyToken"})["CertificateArn"]
    assert a4 not in (a1, a3)
    # CreateCertificateAuthority honours its token too
    cfg = {"KeyAlgorithm": "EC_prime256v1", "SigningAlgorithm": "SHA256WITHECDSA", "Subject": {"CommonName": "i"}}
    c1 = pca.create_certificate_authority(CertificateAuthorityConfiguration=cfg, CertificateAuthorityType="ROOT",
                                          IdempotencyToken="ca-token")["CertificateAuthorityArn"]
    c2 = pca.create_certificate_authority(CertificateAuthorityConfiguration=cfg, CertificateAuthorityType="ROOT",
                                          IdempotencyToken="ca-token")["CertificateAuthorityArn"]
    assert c1 == c2


def test_arn_suffix_is_serial_hex(pca):
    ca_arn, _ = create_root_ca(pca)
    arn, pem = issue(pca, ca_arn)
    serial = load(pem).serial_number
    # The suffix is the serial in hex; compare numbers, leading zeros aside.
    assert int(arn.rsplit("/certificate/", 1)[1], 16) == serial
    assert arn.startswith(ca_arn + "/certificate/")
    assert 0 < serial < 2**128


def test_templates(pca):
    ca_arn, _ = create_root_ca(pca)
    _, pem = issue(pca, ca_arn, template="EndEntityClientAuthCertificate/V1")
    c = load(pem)
    assert c.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value == x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH])
    ku = c.extensions.get_extension_for_class(x509.KeyUsage).value
    assert ku.digital_signature and ku.key_agreement and not ku.key_cert_sign
    assert c.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is False
    assert c.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)[0].value == "dev"
    arn = pca.issue_certificate(CertificateAuthorityArn=ca_arn, Csr=make_csr("web", san=["a.example"]),
                                SigningAlgorithm="SHA256WITHECDSA", Validity={"Type": "DAYS", "Value": 1})["CertificateArn"]
    c = load(pca.get_certificate(CertificateAuthorityArn=ca_arn, CertificateArn=arn)["Certificate"])
    eku = c.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert set(eku) == {ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH}
    assert c.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(x509.DNSName) == ["a.example"]


def test_state_and_csr_errors(pca):
    arn = pca.create_certificate_authority(
        CertificateAuthorityConfiguration={"KeyAlgorithm": "EC_prime256v1", "SigningAlgorithm": "SHA256WITHECDSA",
                                           "Subject": {"CommonName": "p"}}, CertificateAuthorityType="ROOT")["CertificateAuthorityArn"]
    with pytest.raises(ClientError) as e:  # PENDING_CERTIFICATE: only its own root certificate
        issue(pca, arn)
    assert code(e.value) == "InvalidStateException"
    ca_arn, _ = create_root_ca(pca)
    for bad in (b"not a csr", make_csr("x")[:-80] + b"\n-----END CERTIFICATE REQUEST-----\n"):
        with pytest.raises(ClientError) as e:
            pca.issue_certificate(CertificateAuthorityArn=ca_arn, Csr=bad, SigningAlgorithm="SHA256WITHECDSA",
                                  Validity={"Type": "DAYS", "Value": 1})
        assert code(e.value) == "MalformedCSRException"
    # a CSR whose signature does not verify
    good = x509.load_pem_x509_csr(make_csr("sig"))
    der = bytearray(good.public_bytes(__import__("cryptography.hazmat.primitives.serialization", fromlist=["x"]).Encoding.DER))
    der[-3] ^= 0x01
    with pytest.raises(ClientError) as e:
        pca.issue_certificate(CertificateAuthorityArn=ca_arn, Csr=bytes(der), SigningAlgorithm="SHA256WITHECDSA",
                              Validity={"Type": "DAYS", "Value": 1})
    assert code(e.value) == "MalformedCSRException"
    pca.update_certificate_authority(CertificateAuthorityArn=ca_arn, Status="DISABLED")
    with pytest.raises(ClientError) as e:
        issue(pca, ca_arn)
    assert code(e.value) == "InvalidStateException"


def test_revocation(emulator, pca, account):
    ca_arn, _ = create_root_ca(pca)
    arn, pem = issue(pca, ca_arn)
    serial = f"{load(pem).serial_number:x}"
    with_colons = ":".join(serial[i:i + 2] for i in range(0, len(serial), 2)).upper()
    pca.revoke_certificate(CertificateAuthorityArn=ca_arn, CertificateSerial=with_colons, RevocationReason="KEY_COMPROMISE")
    with pytest.raises(ClientError) as e:
        pca.revoke_certificate(CertificateAuthorityArn=ca_arn, CertificateSerial=serial, RevocationReason="KEY_COMPROMISE")
    assert code(e.value) == "RequestAlreadyProcessedException"
    with pytest.raises(ClientError) as e:
        pca.revoke_certificate(CertificateAuthorityArn=ca_arn, CertificateSerial="0123abcd", RevocationReason="SUPERSEDED")
    assert code(e.value) == "ResourceNotFoundException"
    # a revoked certificate is still returned by GetCertificate
    assert pca.get_certificate(CertificateAuthorityArn=ca_arn, CertificateArn=arn)["Certificate"].strip() == pem.strip()
    recs = [r for r in emulator.control("pca/revocations") if r["account"] == account]
    assert len(recs) == 1
    assert recs[0]["serial"] == serial and recs[0]["ca_arn"] == ca_arn and recs[0]["reason"] == "KEY_COMPROMISE"
    assert dt.datetime.fromisoformat(recs[0]["revoked_at"].replace("Z", "+00:00"))


def test_request_in_progress(emulator, pca):
    ca_arn, _ = create_root_ca(pca)
    emulator.control("config", {"request_in_progress_calls": 2})
    arn = pca.issue_certificate(CertificateAuthorityArn=ca_arn, Csr=make_csr("slow"), SigningAlgorithm="SHA256WITHECDSA",
                                Validity={"Type": "DAYS", "Value": 1})["CertificateArn"]
    for _ in range(2):
        with pytest.raises(ClientError) as e:
            pca.get_certificate(CertificateAuthorityArn=ca_arn, CertificateArn=arn)
        assert code(e.value) == "RequestInProgressException"
    assert "BEGIN CERTIFICATE" in pca.get_certificate(CertificateAuthorityArn=ca_arn, CertificateArn=arn)["Certificate"]
    assert pca.get_certificate(CertificateAuthorityArn=ca_arn, CertificateArn=arn)["CertificateChain"]


def test_clock_offset(emulator, pca):
    emulator.control("config", {"clock_offset_seconds": -9 * 86400})
    ca_arn, ca_pem = create_root_ca(pca)
    _, pem = issue(pca, ca_arn, days=7)
    now = dt.datetime.now(dt.timezone.utc)
    leaf = load(pem)
    assert abs((now - dt.timedelta(days=9, minutes=60)) - leaf.not_valid_before_utc) < dt.timedelta(minutes=1)
    assert leaf.not_valid_after_utc < now  # issued "9 days ago" for 7 days: expired
    assert abs((now - dt.timedelta(days=9, minutes=60)) - load(ca_pem).not_valid_before_utc) < dt.timedelta(minutes=1)


def test_tags_and_list_pagination(pca):
    arns = [create_root_ca(pca, tags=[{"Key": "fleetcert:fleet", "Value": f"f{i}"}])[0] for i in range(3)]
    assert pca.list_tags(CertificateAuthorityArn=arns[0])["Tags"] == [{"Key": "fleetcert:fleet", "Value": "f0"}]
    pca.tag_certificate_authority(CertificateAuthorityArn=arns[1], Tags=[{"Key": "owner", "Value": "me"}])
    assert {t["Key"] for t in pca.list_tags(CertificateAuthorityArn=arns[1])["Tags"]} == {"fleetcert:fleet", "owner"}
    seen, token = [], None
    while True:
        kw = {"NextToken": token} if token else {}
        page = pca.list_certificate_authorities(MaxResults=2, **kw)
        assert len(page["CertificateAuthorities"]) <= 2
        seen += [c["Arn"] for c in page["CertificateAuthorities"]]
        token = page.get("NextToken")
        if not token:
            break
    assert sorted(seen) == sorted(arns)
