"""ACM PCA CA hierarchy: subordinate CAs, CA renewal, validity in the chain,
CRLs written to S3, CA states (issue 17). See README "CA hierarchy, renewal,
CRLs and CA states"."""

from __future__ import annotations

import datetime as dt
import json

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from conftest import REGION, TEMPLATE, create_root_ca, issue, load, make_csr


def code(exc: ClientError) -> str:
    return exc.response["Error"]["Code"]


def error_of(fn, **kw) -> str:
    with pytest.raises(ClientError) as e:
        fn(**kw)
    return code(e.value)


def pems(text: str) -> list[x509.Certificate]:
    return x509.load_pem_x509_certificates(text.encode())


def verify(child: x509.Certificate, parent: x509.Certificate) -> None:
    child.verify_directly_issued_by(parent)


def create_sub(pca, cn="Test Sub", key_alg="EC_prime256v1", sign_alg="SHA256WITHECDSA", revocation=None):
    kw = {"RevocationConfiguration": revocation} if revocation else {}
    return pca.create_certificate_authority(
        CertificateAuthorityConfiguration={"KeyAlgorithm": key_alg, "SigningAlgorithm": sign_alg,
                                           "Subject": {"CommonName": cn, "Organization": "Example"}},
        CertificateAuthorityType="SUBORDINATE", **kw)["CertificateAuthorityArn"]


def sign_ca_csr(pca, parent_arn, child_arn, pathlen=0, validity=None):
    """The parent issues a subordinate CA certificate for the child's CSR; returns (pem, chain)."""
    csr = pca.get_certificate_authority_csr(CertificateAuthorityArn=child_arn)["Csr"]
    arn = pca.issue_certificate(
        CertificateAuthorityArn=parent_arn, Csr=csr.encode(), SigningAlgorithm="SHA256WITHECDSA",
        TemplateArn=TEMPLATE + f"SubordinateCACertificate_PathLen{pathlen}/V1",
        Validity=validity or {"Type": "YEARS", "Value": 5})["CertificateArn"]
    out = pca.get_certificate(CertificateAuthorityArn=parent_arn, CertificateArn=arn)
    return out["Certificate"], out["CertificateChain"]


def install_sub(pca, parent_arn, pathlen=0, cn="Test Sub", validity=None, revocation=None):
    sub_arn = create_sub(pca, cn, revocation=revocation)
    pem, chain = sign_ca_csr(pca, parent_arn, sub_arn, pathlen, validity)
    pca.import_certificate_authority_certificate(CertificateAuthorityArn=sub_arn, Certificate=pem.encode(),
                                                 CertificateChain=chain.encode())
    return sub_arn, pem, chain


def status(pca, arn) -> str:
    return pca.describe_certificate_authority(CertificateAuthorityArn=arn)["CertificateAuthority"]["Status"]


# ---------------------------------------------------------------------------
# 1. The subordinate flow
# ---------------------------------------------------------------------------
def test_subordinate_ca_flow(pca):
    root_arn, root_pem = create_root_ca(pca)
    root = load(root_pem)
    sub_arn = create_sub(pca)
    assert status(pca, sub_arn) == "PENDING_CERTIFICATE"
    csr = x509.load_pem_x509_csr(pca.get_certificate_authority_csr(CertificateAuthorityArn=sub_arn)["Csr"].encode())
    # not ACTIVE yet: no certificate to return, nothing to issue
    assert error_of(pca.get_certificate_authority_certificate, CertificateAuthorityArn=sub_arn) == "InvalidStateException"
    assert error_of(pca.issue_certificate, CertificateAuthorityArn=sub_arn, Csr=make_csr("x"),
                    SigningAlgorithm="SHA256WITHECDSA", Validity={"Type": "DAYS", "Value": 1}) == "InvalidStateException"

    pem, chain = sign_ca_csr(pca, root_arn, sub_arn, pathlen=0)
    sub = load(pem)
    assert sub.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo) == \
        csr.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    bc = sub.extensions.get_extension_for_class(x509.BasicConstraints)
    assert bc.critical and bc.value.ca and bc.value.path_length == 0
    ku = sub.extensions.get_extension_for_class(x509.KeyUsage).value
    assert ku.key_cert_sign and ku.crl_sign
    verify(sub, root)
    assert [c.subject for c in pems(chain)] == [root.subject]

    pca.import_certificate_authority_certificate(CertificateAuthorityArn=sub_arn, Certificate=pem.encode(),
                                                 CertificateChain=chain.encode())
    assert status(pca, sub_arn) == "ACTIVE"
    got = pca.get_certificate_authority_certificate(CertificateAuthorityArn=sub_arn)
    assert load(got["Certificate"]) == sub
    assert pems(got["CertificateChain"]) == [root]

    _, leaf_pem = issue(pca, sub_arn, "device-1")
    leaf = load(leaf_pem)
    verify(leaf, sub)
    out = pca.get_certificate(CertificateAuthorityArn=sub_arn, CertificateArn=issue(pca, sub_arn, "device-2")[0])
    assert pems(out["CertificateChain"]) == [sub, root]


@pytest.mark.parametrize("pathlen", [0, 1, 2, 3])
def test_subordinate_path_length_templates(pca, pathlen):
    root_arn, _ = create_root_ca(pca)
    sub_arn = create_sub(pca)
    pem, _ = sign_ca_csr(pca, root_arn, sub_arn, pathlen=pathlen)
    bc = load(pem).extensions.get_extension_for_class(x509.BasicConstraints).value
    assert bc.ca and bc.path_length == pathlen


def test_subordinate_csr_in_progress_after_creation(emulator, pca):
    # GetCertificateAuthorityCsr lists RequestInProgressException (asynchrony.py)
    emulator.control("config", {"ca_csr_in_progress_seconds": 30})
    sub_arn = create_sub(pca)
    assert error_of(pca.get_certificate_authority_csr, CertificateAuthorityArn=sub_arn) == "RequestInProgressException"
    emulator.control("config", {"ca_csr_in_progress_seconds": 0})


def test_a_two_level_hierarchy_chains_to_the_root(pca):
    root_arn, root_pem = create_root_ca(pca)
    mid_arn, mid_pem, _ = install_sub(pca, root_arn, pathlen=1, cn="Mid")
    low_arn, low_pem, low_chain = install_sub(pca, mid_arn, pathlen=0, cn="Low", validity={"Type": "YEARS", "Value": 3})
    assert pems(low_chain) == [load(mid_pem), load(root_pem)]
    arn, _ = issue(pca, low_arn)
    chain = pems(pca.get_certificate(CertificateAuthorityArn=low_arn, CertificateArn=arn)["CertificateChain"])
    assert chain == [load(low_pem), load(mid_pem), load(root_pem)]


def _external_root(days=3650):
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "External Root")])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(hours=1))
            .not_valid_after(now + dt.timedelta(days=days))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                         crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
            .sign(key, hashes.SHA256()))
    return key, cert


def _sign_external(key, issuer, csr_pem, days=365, pathlen=0, bc_critical=True, extra=()):
    csr = x509.load_pem_x509_csr(csr_pem.encode())
    now = dt.datetime.now(dt.timezone.utc)
    b = (x509.CertificateBuilder().subject_name(csr.subject).issuer_name(issuer.subject)
         .public_key(csr.public_key()).serial_number(x509.random_serial_number())
         .not_valid_before(now - dt.timedelta(hours=1)).not_valid_after(now + dt.timedelta(days=days))
         .add_extension(x509.BasicConstraints(ca=True, path_length=pathlen), critical=bc_critical))
    for ext, critical in extra:
        b = b.add_extension(ext, critical)
    return b.sign(key, hashes.SHA256())


def _pem(*certs) -> bytes:
    return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certs)


def test_external_root_signs_the_subordinate(pca):
    key, root = _external_root()
    sub_arn = create_sub(pca)
    csr = pca.get_certificate_authority_csr(CertificateAuthorityArn=sub_arn)["Csr"]
    sub = _sign_external(key, root, csr)
    pca.import_certificate_authority_certificate(CertificateAuthorityArn=sub_arn, Certificate=_pem(sub),
                                                 CertificateChain=_pem(root))
    assert status(pca, sub_arn) == "ACTIVE"
    assert pems(pca.get_certificate_authority_certificate(CertificateAuthorityArn=sub_arn)["CertificateChain"]) == [root]
    arn, leaf_pem = issue(pca, sub_arn)
    verify(load(leaf_pem), sub)
    chain = pems(pca.get_certificate(CertificateAuthorityArn=sub_arn, CertificateArn=arn)["CertificateChain"])
    assert chain == [sub, root]


def test_import_refusals(pca):
    key, root = _external_root()
    sub_arn = create_sub(pca)
    csr = pca.get_certificate_authority_csr(CertificateAuthorityArn=sub_arn)["Csr"]
    good = _sign_external(key, root, csr)

    def imp(cert, chain=None, arn=sub_arn):
        kw = {"CertificateChain": chain} if chain is not None else {}
        return error_of(pca.import_certificate_authority_certificate, CertificateAuthorityArn=arn, Certificate=cert, **kw)

    # a certificate for another key than the CA's
    other = _sign_external(key, root, make_csr("Test Sub").decode())
    assert imp(_pem(other), _pem(root)) == "CertificateMismatchException"
    # signed by a root that is not the chain's
    key2, root2 = _external_root()
    assert imp(_pem(_sign_external(key2, root2, csr)), _pem(root)) == "CertificateMismatchException"
    # a subordinate without its chain; with itself in the chain
    assert imp(_pem(good)) == "InvalidRequestException"
    assert imp(_pem(good), _pem(good, root)) == "InvalidRequestException"
    # the chain in the wrong order (root first) / not ending in a root
    mid_key = ec.generate_private_key(ec.SECP256R1())
    mid_csr = x509.CertificateSigningRequestBuilder().subject_name(
        x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "Ext Mid")])).sign(mid_key, hashes.SHA256())
    mid = _sign_external(key, root, mid_csr.public_bytes(serialization.Encoding.PEM).decode(), days=3000, pathlen=1)
    under_mid = _sign_external(mid_key, mid, csr)
    assert imp(_pem(under_mid), _pem(root, mid)) == "CertificateMismatchException"
    assert imp(_pem(under_mid), _pem(mid)) == "CertificateMismatchException"
    # the chain must be PEM
    assert imp(_pem(good), root.public_bytes(serialization.Encoding.DER)) == "MalformedCertificateException"
    # Basic constraints must be critical; a critical CRL distribution points extension is refused
    assert imp(_pem(_sign_external(key, root, csr, bc_critical=False)), _pem(root)) == "MalformedCertificateException"
    cdp = x509.CRLDistributionPoints([x509.DistributionPoint(
        [x509.UniformResourceIdentifier("http://crl.example.com/x.crl")], None, None, None)])
    assert imp(_pem(_sign_external(key, root, csr, extra=[(cdp, True)])), _pem(root)) == "MalformedCertificateException"
    # a self-signed certificate cannot be a subordinate; only a self-signed one can be a root
    assert imp(_pem(root), _pem(root2)) == "InvalidRequestException"
    root_arn = pca.create_certificate_authority(
        CertificateAuthorityConfiguration={"KeyAlgorithm": "EC_prime256v1", "SigningAlgorithm": "SHA256WITHECDSA",
                                           "Subject": {"CommonName": "R"}},
        CertificateAuthorityType="ROOT")["CertificateAuthorityArn"]
    rcsr = pca.get_certificate_authority_csr(CertificateAuthorityArn=root_arn)["Csr"]
    assert imp(_pem(_sign_external(key, root, rcsr)), arn=root_arn) == "InvalidRequestException"
    # a CA certificate that outlives the certificate that signed it
    short_key, short_root = _external_root(days=30)
    assert imp(_pem(_sign_external(short_key, short_root, csr, days=60)), _pem(short_root)) == "CertificateMismatchException"
    long_lived = _sign_external(key, root, csr, days=4000)
    assert imp(_pem(long_lived), _pem(root)) == "CertificateMismatchException"
    # nothing was installed by any of these
    assert status(pca, sub_arn) == "PENDING_CERTIFICATE"
    pca.import_certificate_authority_certificate(CertificateAuthorityArn=sub_arn, Certificate=_pem(good),
                                                 CertificateChain=_pem(root))
    assert status(pca, sub_arn) == "ACTIVE"


def test_import_respects_path_length(pca):
    root_arn, _ = create_root_ca(pca)
    sub_arn, _, _ = install_sub(pca, root_arn, pathlen=0, cn="PathLen0")
    low_arn = create_sub(pca, "Below PathLen0")
    pem, chain = sign_ca_csr(pca, sub_arn, low_arn, pathlen=0, validity={"Type": "YEARS", "Value": 1})
    assert error_of(pca.import_certificate_authority_certificate, CertificateAuthorityArn=low_arn,
                    Certificate=pem.encode(), CertificateChain=chain.encode()) == "CertificateMismatchException"
    assert status(pca, low_arn) == "PENDING_CERTIFICATE"


# ---------------------------------------------------------------------------
# 2. CA certificate renewal with the same key
# ---------------------------------------------------------------------------
def test_root_renewal_with_the_same_key(emulator, pca):
    root_arn, old_pem = create_root_ca(pca, years=2)
    old = load(old_pem)
    before = pca.describe_certificate_authority(CertificateAuthorityArn=root_arn)["CertificateAuthority"]["NotAfter"]
    _, early_leaf = issue(pca, root_arn, "early")
    # a leaf cannot outlive the current root certificate
    assert error_of(pca.issue_certificate, CertificateAuthorityArn=root_arn, Csr=make_csr("late"),
                    SigningAlgorithm="SHA256WITHECDSA", Validity={"Type": "YEARS", "Value": 3}) == "ValidationException"

    csr = pca.get_certificate_authority_csr(CertificateAuthorityArn=root_arn)["Csr"]
    arn = pca.issue_certificate(CertificateAuthorityArn=root_arn, Csr=csr.encode(), SigningAlgorithm="SHA256WITHECDSA",
                                TemplateArn=TEMPLATE + "RootCACertificate/V1",
                                Validity={"Type": "YEARS", "Value": 10})["CertificateArn"]
    got = pca.get_certificate(CertificateAuthorityArn=root_arn, CertificateArn=arn)
    assert "CertificateChain" not in got  # self-signed
    new = load(got["Certificate"])
    verify(new, new)
    assert new.public_key() == old.public_key() and new.subject == old.subject
    pca.import_certificate_authority_certificate(CertificateAuthorityArn=root_arn, Certificate=got["Certificate"].encode())
    desc = pca.describe_certificate_authority(CertificateAuthorityArn=root_arn)["CertificateAuthority"]
    assert desc["Status"] == "ACTIVE" and desc["NotAfter"] > before + dt.timedelta(days=365 * 7)
    assert load(pca.get_certificate_authority_certificate(CertificateAuthorityArn=root_arn)["Certificate"]) == new
    verify(load(early_leaf), new)  # issued earlier, still chains to the same key
    _, late = issue(pca, root_arn, "late", validity={"Type": "YEARS", "Value": 3})
    verify(load(late), new)


def test_subordinate_renewal_by_its_parent(pca):
    root_arn, root_pem = create_root_ca(pca, years=10)
    sub_arn, old_pem, _ = install_sub(pca, root_arn, validity={"Type": "YEARS", "Value": 1})
    _, early = issue(pca, sub_arn, "early")
    pem, chain = sign_ca_csr(pca, root_arn, sub_arn, validity={"Type": "YEARS", "Value": 3})
    pca.import_certificate_authority_certificate(CertificateAuthorityArn=sub_arn, Certificate=pem.encode(),
                                                 CertificateChain=chain.encode())
    new, old = load(pem), load(old_pem)
    assert new.public_key() == old.public_key()
    assert new.not_valid_after_utc > old.not_valid_after_utc + dt.timedelta(days=365)
    desc = pca.describe_certificate_authority(CertificateAuthorityArn=sub_arn)["CertificateAuthority"]
    assert desc["NotAfter"] == new.not_valid_after_utc
    verify(load(early), new)
    arn, _ = issue(pca, sub_arn, "late", validity={"Type": "YEARS", "Value": 2})
    assert pems(pca.get_certificate(CertificateAuthorityArn=sub_arn, CertificateArn=arn)["CertificateChain"]) == \
        [new, load(root_pem)]


# ---------------------------------------------------------------------------
# 3. Validity within the chain
# ---------------------------------------------------------------------------
def test_a_ca_certificate_cannot_reach_its_parents_not_after(pca):
    root_arn, root_pem = create_root_ca(pca, years=2)
    end = int(load(root_pem).not_valid_after_utc.timestamp())
    sub_arn = create_sub(pca)
    csr = pca.get_certificate_authority_csr(CertificateAuthorityArn=sub_arn)["Csr"].encode()

    def sub_until(ts):
        return pca.issue_certificate(CertificateAuthorityArn=root_arn, Csr=csr, SigningAlgorithm="SHA256WITHECDSA",
                                     TemplateArn=TEMPLATE + "SubordinateCACertificate_PathLen0/V1",
                                     Validity={"Type": "ABSOLUTE", "Value": ts})

    with pytest.raises(ClientError) as e:
        sub_until(end)  # "greater than or equal to the parent's CA fails"
    assert code(e.value) == "ValidationException"
    with pytest.raises(ClientError) as e:
        sub_until(end + 1)
    assert code(e.value) == "ValidationException"
    sub_until(end - 1)
    # an end-entity certificate may end with the CA ("shorter than or equal to")
    issue(pca, root_arn, "same-end", validity={"Type": "ABSOLUTE", "Value": end})


def test_a_subordinates_certificates_cannot_outlive_it(pca):
    root_arn, _ = create_root_ca(pca, years=10)
    sub_arn, sub_pem, _ = install_sub(pca, root_arn, validity={"Type": "YEARS", "Value": 1})
    end = int(load(sub_pem).not_valid_after_utc.timestamp())
    issue(pca, sub_arn, "ok", validity={"Type": "ABSOLUTE", "Value": end})
    assert error_of(pca.issue_certificate, CertificateAuthorityArn=sub_arn, Csr=make_csr("late"),
                    SigningAlgorithm="SHA256WITHECDSA",
                    Validity={"Type": "ABSOLUTE", "Value": end + 1}) == "ValidationException"


# ---------------------------------------------------------------------------
# 4. CRLs written to S3
# ---------------------------------------------------------------------------
def s3_client(emulator, account):
    return boto3.client("s3", endpoint_url=emulator.url, region_name=REGION, aws_access_key_id=account,
                        aws_secret_access_key="test-secret",
                        config=Config(s3={"addressing_style": "path"}, retries={"total_max_attempts": 1}))


@pytest.fixture
def s3(emulator, account):
    return s3_client(emulator, account)


ALL_ACTIONS = ["s3:PutObject", "s3:PutObjectAcl", "s3:GetBucketAcl", "s3:GetBucketLocation"]


def crl_bucket(s3, name, actions=ALL_ACTIONS, condition=None, block_public=False):
    s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": REGION})
    if actions is not None:
        st = {"Effect": "Allow", "Principal": {"Service": "acm-pca.amazonaws.com"}, "Action": actions,
              "Resource": [f"arn:aws:s3:::{name}/*", f"arn:aws:s3:::{name}"]}
        if condition:
            st["Condition"] = condition
        s3.put_bucket_policy(Bucket=name, Policy=json.dumps({"Version": "2012-10-17", "Statement": [st]}))
    if block_public:
        s3.put_public_access_block(Bucket=name, PublicAccessBlockConfiguration={
            "BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True,
            "RestrictPublicBuckets": True})
    return name


def crl_conf(bucket, **kw):
    return {"CrlConfiguration": {"Enabled": True, "ExpirationInDays": 7, "S3BucketName": bucket, **kw}}


def test_crl_bucket_must_exist_and_grant_pca(pca, s3, account):
    root_arn, _ = create_root_ca(pca)

    def update(rc):
        return error_of(pca.update_certificate_authority, CertificateAuthorityArn=root_arn, RevocationConfiguration=rc)

    assert update(crl_conf(f"missing-{account}")) == "ValidationException"
    assert update(crl_conf(crl_bucket(s3, f"nopolicy-{account}", actions=None))) == "ValidationException"
    for i, missing in enumerate(ALL_ACTIONS):
        name = crl_bucket(s3, f"partial{i}-{account}", actions=[a for a in ALL_ACTIONS if a != missing])
        assert update(crl_conf(name)) == "ValidationException", missing
    # the documented condition: this account and this CA
    wrong = crl_bucket(s3, f"wrongsrc-{account}", condition={"StringEquals": {"aws:SourceAccount": "000000000000"}})
    assert update(crl_conf(wrong)) == "ValidationException"
    right = crl_bucket(s3, f"rightsrc-{account}", condition={"StringEquals": {
        "aws:SourceAccount": account, "aws:SourceArn": root_arn}})
    pca.update_certificate_authority(CertificateAuthorityArn=root_arn, RevocationConfiguration=crl_conf(right))
    got = pca.describe_certificate_authority(CertificateAuthorityArn=root_arn)["CertificateAuthority"]
    assert got["RevocationConfiguration"]["CrlConfiguration"]["S3BucketName"] == right
    assert got["RevocationConfiguration"]["CrlConfiguration"]["S3ObjectAcl"] == "PUBLIC_READ"  # the default
    # at creation too
    with pytest.raises(ClientError) as e:
        create_sub(pca, revocation=crl_conf(f"missing-{account}"))
    assert code(e.value) == "ValidationException"


def test_block_public_access_needs_bucket_owner_full_control(pca, s3, account):
    root_arn, _ = create_root_ca(pca)
    name = crl_bucket(s3, f"bpa-{account}", block_public=True)
    for rc in (crl_conf(name), crl_conf(name, S3ObjectAcl="PUBLIC_READ")):
        assert error_of(pca.update_certificate_authority, CertificateAuthorityArn=root_arn,
                        RevocationConfiguration=rc) == "ValidationException"
    pca.update_certificate_authority(CertificateAuthorityArn=root_arn,
                                     RevocationConfiguration=crl_conf(name, S3ObjectAcl="BUCKET_OWNER_FULL_CONTROL"))


def test_revocation_configuration_rules(pca, s3, account):
    root_arn, _ = create_root_ca(pca)
    name = crl_bucket(s3, f"rules-{account}")

    def update(rc):
        return error_of(pca.update_certificate_authority, CertificateAuthorityArn=root_arn, RevocationConfiguration=rc)

    # "A configuration disabling CRLs or OCSP must contain only the Enabled=False parameter"
    assert update({"CrlConfiguration": {"Enabled": False, "ExpirationInDays": 7}}) == "InvalidArgsException"
    assert update({"OcspConfiguration": {"Enabled": False, "OcspCustomCname": "ocsp.example.com"}}) == "InvalidArgsException"
    # "must not include a protocol prefix such as "http://" or "https://""
    assert update(crl_conf(name, CustomCname="http://crl.example.com")) == "InvalidArgsException"
    assert update({"OcspConfiguration": {"Enabled": True, "OcspCustomCname": "https://ocsp.example.com"}}) == "InvalidArgsException"
    # OmitExtension "cannot be enabled with a custom CNAME set"
    assert update(crl_conf(name, CustomCname="crl.example.com",
                           CrlDistributionPointExtensionConfiguration={"OmitExtension": True})) == "InvalidArgsException"


def test_ocsp_configuration_is_echoed(pca):
    arn = create_sub(pca, revocation={"OcspConfiguration": {"Enabled": True, "OcspCustomCname": "ocsp.example.com"}})
    rc = pca.describe_certificate_authority(CertificateAuthorityArn=arn)["CertificateAuthority"]["RevocationConfiguration"]
    assert rc["OcspConfiguration"] == {"Enabled": True, "OcspCustomCname": "ocsp.example.com"}


def test_revocation_writes_a_signed_crl_to_s3(emulator, pca, s3, account):
    root_arn, root_pem = create_root_ca(pca)
    root = load(root_pem)
    ca_id = root_arn.rsplit("/", 1)[1]
    name = crl_bucket(s3, f"crl-{account}")
    pca.update_certificate_authority(CertificateAuthorityArn=root_arn,
                                     RevocationConfiguration={**crl_conf(name, ExpirationInDays=5),
                                                              "OcspConfiguration": {"Enabled": True}})
    rc = pca.describe_certificate_authority(CertificateAuthorityArn=root_arn)["CertificateAuthority"]["RevocationConfiguration"]
    assert rc["CrlConfiguration"]["ExpirationInDays"] == 5 and rc["OcspConfiguration"] == {"Enabled": True}
    _, a_pem = issue(pca, root_arn, "a")
    _, b_pem = issue(pca, root_arn, "b")
    a, b = load(a_pem), load(b_pem)
    # the certificates point at the CRL
    cdp = a.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
    assert cdp[0].full_name[0].value == f"http://{name}.s3.{REGION}.amazonaws.com/crl/{ca_id}.crl"
    key = f"crl/{ca_id}.crl"
    assert "Contents" not in s3.list_objects_v2(Bucket=name, Prefix="crl/")

    pca.revoke_certificate(CertificateAuthorityArn=root_arn, CertificateSerial=f"{a.serial_number:x}",
                           RevocationReason="KEY_COMPROMISE")
    crl = x509.load_der_x509_crl(s3.get_object(Bucket=name, Key=key)["Body"].read())
    assert crl.is_signature_valid(root.public_key())
    assert crl.issuer == root.subject
    assert crl.next_update_utc - crl.last_update_utc == dt.timedelta(days=5)
    entry = crl.get_revoked_certificate_by_serial_number(a.serial_number)
    assert entry is not None and crl.get_revoked_certificate_by_serial_number(b.serial_number) is None
    assert entry.extensions.get_extension_for_class(x509.CRLReason).value.reason == x509.ReasonFlags.key_compromise
    first_number = crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number
    # PUBLIC_READ: the object is readable by everyone
    grants = s3.get_object_acl(Bucket=name, Key=key)["Grants"]
    assert any(g["Grantee"].get("URI", "").endswith("/AllUsers") and g["Permission"] == "READ" for g in grants)

    emulator.control("clock", {"advance_seconds": 3600})
    pca.revoke_certificate(CertificateAuthorityArn=root_arn, CertificateSerial=f"{b.serial_number:x}",
                           RevocationReason="SUPERSEDED")
    crl2 = x509.load_der_x509_crl(s3.get_object(Bucket=name, Key=key)["Body"].read())
    assert {r.serial_number for r in crl2} == {a.serial_number, b.serial_number}
    assert crl2.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number > first_number
    assert crl2.last_update_utc >= crl.last_update_utc + dt.timedelta(seconds=3600)


def test_crl_of_a_subordinate_with_a_cname_and_private_acl(pca, s3, account):
    root_arn, _ = create_root_ca(pca)
    name = crl_bucket(s3, f"subcrl-{account}")
    sub_arn, sub_pem, _ = install_sub(pca, root_arn, revocation=crl_conf(
        name, CustomCname="crl.example.com", S3ObjectAcl="BUCKET_OWNER_FULL_CONTROL"))
    ca_id = sub_arn.rsplit("/", 1)[1]
    _, pem = issue(pca, sub_arn)
    leaf = load(pem)
    cdp = leaf.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
    assert cdp[0].full_name[0].value == f"http://crl.example.com/crl/{ca_id}.crl"
    pca.revoke_certificate(CertificateAuthorityArn=sub_arn, CertificateSerial=f"{leaf.serial_number:x}",
                           RevocationReason="UNSPECIFIED")
    crl = x509.load_der_x509_crl(s3.get_object(Bucket=name, Key=f"crl/{ca_id}.crl")["Body"].read())
    assert crl.is_signature_valid(load(sub_pem).public_key())
    assert crl.get_revoked_certificate_by_serial_number(leaf.serial_number) is not None
    grants = s3.get_object_acl(Bucket=name, Key=f"crl/{ca_id}.crl")["Grants"]
    assert not any("AllUsers" in g["Grantee"].get("URI", "") for g in grants)


def test_omit_extension_leaves_out_the_distribution_point(pca, s3, account):
    root_arn, _ = create_root_ca(pca)
    name = crl_bucket(s3, f"omit-{account}")
    pca.update_certificate_authority(CertificateAuthorityArn=root_arn, RevocationConfiguration=crl_conf(
        name, CrlDistributionPointExtensionConfiguration={"OmitExtension": True}))
    _, pem = issue(pca, root_arn)
    with pytest.raises(x509.ExtensionNotFound):
        load(pem).extensions.get_extension_for_class(x509.CRLDistributionPoints)


# ---------------------------------------------------------------------------
# 5. CA states
# ---------------------------------------------------------------------------
def test_disable_and_enable(pca):
    root_arn, _ = create_root_ca(pca)
    arn, pem = issue(pca, root_arn)
    pca.update_certificate_authority(CertificateAuthorityArn=root_arn, Status="DISABLED")
    assert status(pca, root_arn) == "DISABLED"
    assert error_of(pca.issue_certificate, CertificateAuthorityArn=root_arn, Csr=make_csr("x"),
                    SigningAlgorithm="SHA256WITHECDSA", Validity={"Type": "DAYS", "Value": 1}) == "InvalidStateException"
    # a DISABLED CA can still revoke ("Certificates can be revoked": Yes)
    pca.revoke_certificate(CertificateAuthorityArn=root_arn, CertificateSerial=f"{load(pem).serial_number:x}",
                           RevocationReason="SUPERSEDED")
    assert "BEGIN CERTIFICATE" in pca.get_certificate_authority_certificate(CertificateAuthorityArn=root_arn)["Certificate"]
    # only ACTIVE / DISABLED can be set
    assert error_of(pca.update_certificate_authority, CertificateAuthorityArn=root_arn,
                    Status="EXPIRED") == "InvalidArgsException"
    pca.update_certificate_authority(CertificateAuthorityArn=root_arn, Status="ACTIVE")
    issue(pca, root_arn)
    # a CA that is not ACTIVE or DISABLED cannot be updated
    pending = create_sub(pca)
    assert error_of(pca.update_certificate_authority, CertificateAuthorityArn=pending,
                    Status="ACTIVE") == "InvalidStateException"


def test_delete_and_restore(emulator, pca):
    root_arn, _ = create_root_ca(pca)
    assert error_of(pca.delete_certificate_authority, CertificateAuthorityArn=root_arn) == "InvalidStateException"
    assert error_of(pca.restore_certificate_authority, CertificateAuthorityArn=root_arn) == "InvalidStateException"
    pca.update_certificate_authority(CertificateAuthorityArn=root_arn, Status="DISABLED")
    now = dt.datetime.fromisoformat(emulator.control("clock")["now"].replace("Z", "+00:00"))
    pca.delete_certificate_authority(CertificateAuthorityArn=root_arn, PermanentDeletionTimeInDays=7)
    desc = pca.describe_certificate_authority(CertificateAuthorityArn=root_arn)["CertificateAuthority"]
    assert desc["Status"] == "DELETED"
    assert abs(desc["RestorableUntil"] - (now + dt.timedelta(days=7))) < dt.timedelta(seconds=5)
    assert error_of(pca.delete_certificate_authority, CertificateAuthorityArn=root_arn) == "InvalidStateException"
    assert error_of(pca.issue_certificate, CertificateAuthorityArn=root_arn, Csr=make_csr("x"),
                    SigningAlgorithm="SHA256WITHECDSA", Validity={"Type": "DAYS", "Value": 1}) == "InvalidStateException"
    pca.restore_certificate_authority(CertificateAuthorityArn=root_arn)
    desc = pca.describe_certificate_authority(CertificateAuthorityArn=root_arn)["CertificateAuthority"]
    assert desc["Status"] == "DISABLED" and "RestorableUntil" not in desc  # its pre-deletion status
    pca.update_certificate_authority(CertificateAuthorityArn=root_arn, Status="ACTIVE")
    issue(pca, root_arn)

    # a PENDING_CERTIFICATE CA, default period (30 days), gone once it has passed
    pending = create_sub(pca)
    pca.delete_certificate_authority(CertificateAuthorityArn=pending)
    desc = pca.describe_certificate_authority(CertificateAuthorityArn=pending)["CertificateAuthority"]
    assert abs(desc["RestorableUntil"] - (now + dt.timedelta(days=30))) < dt.timedelta(seconds=5)
    emulator.control("clock", {"advance_seconds": 29 * 86400})
    pca.restore_certificate_authority(CertificateAuthorityArn=pending)
    assert status(pca, pending) == "PENDING_CERTIFICATE"
    pca.delete_certificate_authority(CertificateAuthorityArn=pending, PermanentDeletionTimeInDays=7)
    emulator.control("clock", {"advance_seconds": 7 * 86400 + 1})
    assert error_of(pca.describe_certificate_authority, CertificateAuthorityArn=pending) == "ResourceNotFoundException"
    assert error_of(pca.restore_certificate_authority, CertificateAuthorityArn=pending) == "ResourceNotFoundException"
    listed = [c["Arn"] for c in pca.list_certificate_authorities()["CertificateAuthorities"]]
    assert pending not in listed and root_arn in listed


def test_a_revoked_certificate_leaves_the_crl_one_crl_after_it_expires(emulator, pca, s3, account):
    # CrlConfiguration: "When a certificate is revoked, it appears in the CRL
    # until the certificate expires, and then in one additional CRL after expiration"
    root_arn, _ = create_root_ca(pca)
    name = crl_bucket(s3, f"expiry-{account}")
    pca.update_certificate_authority(CertificateAuthorityArn=root_arn, RevocationConfiguration=crl_conf(name))
    key = f"crl/{root_arn.rsplit('/', 1)[1]}.crl"
    serials = []

    def revoke_new(days):
        _, pem = issue(pca, root_arn, validity={"Type": "DAYS", "Value": days})
        serials.append(load(pem).serial_number)
        pca.revoke_certificate(CertificateAuthorityArn=root_arn, CertificateSerial=f"{serials[-1]:x}",
                               RevocationReason="SUPERSEDED")
        return {r.serial_number for r in x509.load_der_x509_crl(s3.get_object(Bucket=name, Key=key)["Body"].read())}

    assert revoke_new(1) == {serials[0]}
    emulator.control("clock", {"advance_seconds": 2 * 86400})  # the first one has expired
    assert revoke_new(30) == {serials[0], serials[1]}  # the one additional CRL
    emulator.control("clock", {"advance_seconds": 3600})
    assert revoke_new(30) == {serials[1], serials[2]}


def test_a_ca_deleted_while_creating_cannot_be_restored(emulator, pca):
    # "A private CA deleted in the CREATING or FAILED state has no assigned
    # restoration period and cannot be restored."
    emulator.control("config", {"ca_creating_seconds": 60})
    arn = create_sub(pca)
    assert status(pca, arn) == "CREATING"
    pca.delete_certificate_authority(CertificateAuthorityArn=arn)
    desc = pca.describe_certificate_authority(CertificateAuthorityArn=arn)["CertificateAuthority"]
    assert desc["Status"] == "DELETED" and "RestorableUntil" not in desc
    assert error_of(pca.restore_certificate_authority, CertificateAuthorityArn=arn) == "InvalidStateException"
    emulator.control("config", {"ca_creating_seconds": 0})
