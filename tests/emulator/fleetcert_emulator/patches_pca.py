"""Fidelity patches for moto's ACM PCA (acm-pca, awsJson1_1).

Each patch cites the AWS documentation it follows ("AWS Private CA API
Reference" = https://docs.aws.amazon.com/privateca/latest/APIReference/,
"User Guide" = https://docs.aws.amazon.com/privateca/latest/userguide/).
"""

from __future__ import annotations

import base64
import binascii
import calendar
import datetime as dt
import json
import os
import time

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, ExtensionOID, NameOID

from moto.acmpca import models as pca_models
from moto.acmpca.responses import ACMPCAResponse
from moto.core.exceptions import JsonRESTError
from moto.core.utils import unix_time
from moto.moto_api._internal import mock_random

from . import asynchrony, pca_crl, state

CA = pca_models.CertificateAuthority
TEMPLATE_PREFIX = "arn:aws:acm-pca:::template/"
IDEMPOTENCY_WINDOW_SECONDS = 300


def _err(code: str, message: str) -> JsonRESTError:
    e = JsonRESTError(code, message)
    e.code = 400
    return e


# ---------------------------------------------------------------------------
# Key and signing algorithms.
# API Reference, CertificateAuthorityConfiguration: KeyAlgorithm "Type and bit
# size of a private key" (RSA_2048 | RSA_3072 | RSA_4096 | EC_prime256v1 |
# EC_secp384r1 | EC_secp521r1) and SigningAlgorithm "Name of the algorithm your
# private CA uses to sign certificate requests".
# IssueCertificate, SigningAlgorithm: "The specified signing algorithm family
# (RSA or ECDSA) must match the algorithm family of the CA's secret key."
# ---------------------------------------------------------------------------
KEY_ALGORITHMS = {
    "RSA_2048": ("RSA", 2048),
    "RSA_3072": ("RSA", 3072),
    "RSA_4096": ("RSA", 4096),
    "EC_prime256v1": ("EC", ec.SECP256R1()),
    "EC_secp384r1": ("EC", ec.SECP384R1()),
    "EC_secp521r1": ("EC", ec.SECP521R1()),
}
SIGNING_ALGORITHMS = {
    "SHA256WITHECDSA": ("EC", hashes.SHA256),
    "SHA384WITHECDSA": ("EC", hashes.SHA384),
    "SHA512WITHECDSA": ("EC", hashes.SHA512),
    "SHA256WITHRSA": ("RSA", hashes.SHA256),
    "SHA384WITHRSA": ("RSA", hashes.SHA384),
    "SHA512WITHRSA": ("RSA", hashes.SHA512),
}


def _generate_key(key_algorithm: str):
    family, param = KEY_ALGORITHMS[key_algorithm]
    if family == "RSA":
        return rsa.generate_private_key(public_exponent=65537, key_size=param)
    return ec.generate_private_key(param)


def _check_algorithms(key_algorithm, signing_algorithm) -> None:
    if key_algorithm not in KEY_ALGORITHMS:
        raise _err("InvalidArgsException", f"Unsupported KeyAlgorithm: {key_algorithm}")
    if signing_algorithm not in SIGNING_ALGORITHMS:
        raise _err("InvalidArgsException", f"Unsupported SigningAlgorithm: {signing_algorithm}")
    if KEY_ALGORITHMS[key_algorithm][0] != SIGNING_ALGORITHMS[signing_algorithm][0]:
        raise _err(
            "InvalidArgsException",
            f"SigningAlgorithm {signing_algorithm} does not match the family of KeyAlgorithm {key_algorithm}",
        )


def _ca_init(self, region, account_id, certificate_authority_configuration,
             certificate_authority_type, revocation_configuration, security_standard):
    """moto's CertificateAuthority.__init__, with the key from KeyAlgorithm.

    moto always made an RSA-2048 key (encrypted, re-decrypted on every use:
    ~35 ms each time). The key object is generated once and kept in memory.
    """
    cfg = certificate_authority_configuration or {}
    _check_algorithms(cfg.get("KeyAlgorithm"), cfg.get("SigningAlgorithm"))
    self.id = mock_random.uuid4()
    self.arn = f"arn:aws:acm-pca:{region}:{account_id}:certificate-authority/{self.id}"
    self.account_id = account_id
    self.region_name = region
    self.certificate_authority_configuration = cfg
    self.certificate_authority_type = certificate_authority_type or "ROOT"
    self.revocation_configuration = {"CrlConfiguration": {"Enabled": False}}
    self.set_revocation_configuration(revocation_configuration)
    self.created_at = unix_time()
    self.updated_at = None
    self.status = "PENDING_CERTIFICATE"
    self.usage_mode = "GENERAL_PURPOSE"
    self.security_standard = security_standard or "FIPS_140_2_LEVEL_3_OR_HIGHER"
    self.policy = None
    self.revoked_certificates = {}
    self._fc_key = _generate_key(cfg["KeyAlgorithm"])
    self._fc_hash = SIGNING_ALGORITHMS[cfg["SigningAlgorithm"]][1]
    self.password = b""
    self.private_bytes = b""
    self.certificate_bytes = b""
    self.certificate_chain = None
    self.issued_certificates = {}
    self.issued_certificates_certificate_chains = {}
    self.subject = cfg.get("Subject", {})
    self._fc_serials = {}  # serial int -> certificate ARN
    self._fc_revoked = {}  # serial int -> revocation record
    self._fc_pending = {}  # certificate ARN -> remaining RequestInProgress answers
    self._fc_expiry = {}  # serial int -> notAfter (a revoked one leaves the CRL after it)
    self._fc_restorable_until = None  # DeleteCertificateAuthority (emulator clock)
    self._fc_status_before_delete = None


def _set_revocation_configuration(self, revocation_configuration) -> None:
    """moto's CertificateAuthority.set_revocation_configuration, used by
    CreateCertificateAuthority and UpdateCertificateAuthority: the
    configuration is checked as AWS documents (pca_crl.validate: CNAMEs, the
    S3 bucket, its policy and Block Public Access) and stored as given
    ("If you don't supply this parameter, existing capibilites remain
    unchanged"), so DescribeCertificateAuthority echoes CrlConfiguration and
    OcspConfiguration."""
    if revocation_configuration is None:
        return
    pca_crl.validate(self, revocation_configuration, _err)
    self.revocation_configuration = pca_crl.normalise(revocation_configuration)


def _ca_to_json(self) -> dict:
    """moto's to_json plus RestorableUntil for a DELETED CA (API Reference,
    CertificateAuthority: "RestorableUntil - The period during which a deleted
    CA can be restored"; DeleteCertificateAuthority: "The
    DescribeCertificateAuthority action returns the time remaining in the
    restoration window of a private CA in the DELETED state")."""
    out = _orig_ca_to_json(self)
    if self.status == "DELETED" and self._fc_restorable_until is not None:
        out["RestorableUntil"] = self._fc_restorable_until.timestamp()
    return out


_orig_ca_to_json = CA.to_json


_SUBJECT_OIDS = [
    ("Country", NameOID.COUNTRY_NAME),
    ("State", NameOID.STATE_OR_PROVINCE_NAME),
    ("Locality", NameOID.LOCALITY_NAME),
    ("Organization", NameOID.ORGANIZATION_NAME),
    ("OrganizationalUnit", NameOID.ORGANIZATIONAL_UNIT_NAME),
    ("DistinguishedNameQualifier", NameOID.DN_QUALIFIER),
    ("SerialNumber", NameOID.SERIAL_NUMBER),
    ("Title", NameOID.TITLE),
    ("Surname", NameOID.SURNAME),
    ("GivenName", NameOID.GIVEN_NAME),
    ("Initials", NameOID.INITIALS),
    ("Pseudonym", NameOID.PSEUDONYM),
    ("GenerationQualifier", NameOID.GENERATION_QUALIFIER),
    ("CommonName", NameOID.COMMON_NAME),
]


def _ca_subject(self) -> x509.Name:
    # API Reference, ASN1Subject: the CA's distinguished name fields.
    return x509.Name([x509.NameAttribute(oid, self.subject[k]) for k, oid in _SUBJECT_OIDS if k in self.subject])


def _ca_csr(self) -> bytes:
    # API Reference, GetCertificateAuthorityCsr: the CSR is signed by the CA's own
    # key with the CA's SigningAlgorithm (moto used SHA256 with its RSA key).
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(self.issuer)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(self._fc_key, self._fc_hash())
    )
    return csr.public_bytes(serialization.Encoding.PEM)


# ---------------------------------------------------------------------------
# Validity. API Reference, Validity data type: DAYS / MONTHS / YEARS are spans
# after issuance; ABSOLUTE is Unix seconds; END_DATE is GeneralizedTime
# (YYYYMMDDHHMMSS) or UTCTime (YYMMDDHHMMSS; YY >= 50 -> 19YY else 20YY).
# AWS knowledge center "private-ca-validity-period": "AWS Private CA sets the
# 'Not Before' date ... as the date and time minus 60 minutes" (clock skew).
# ---------------------------------------------------------------------------
BACKDATE = dt.timedelta(minutes=60)


def _add_months(t: dt.datetime, months: int) -> dt.datetime:
    y, m = divmod(t.month - 1 + months, 12)
    year, month = t.year + y, m + 1
    day = min(t.day, calendar.monthrange(year, month)[1])
    return t.replace(year=year, month=month, day=day)


def _parse_date_value(value) -> dt.datetime:
    s = str(int(value))
    if len(s) <= 12:
        s = s.zfill(12)
        yy = int(s[:2])
        s = ("19" if yy >= 50 else "20") + s
    if len(s) != 14:
        raise _err("InvalidArgsException", f"Invalid END_DATE value: {value}")
    try:
        return dt.datetime.strptime(s, "%Y%m%d%H%M%S").replace(tzinfo=dt.timezone.utc)
    except ValueError:
        raise _err("InvalidArgsException", f"Invalid END_DATE value: {value}")


def _validity_end(validity: dict, issued_at: dt.datetime) -> dt.datetime:
    if not validity or "Type" not in validity or "Value" not in validity:
        raise _err("InvalidArgsException", "Validity (Type and Value) is required")
    kind, value = validity["Type"], int(validity["Value"])
    if value <= 0:
        raise _err("InvalidArgsException", "Validity Value must be positive")
    if kind == "DAYS":
        return issued_at + dt.timedelta(days=value)
    if kind == "MONTHS":
        return _add_months(issued_at, value)
    if kind == "YEARS":
        return _add_months(issued_at, 12 * value)
    if kind == "ABSOLUTE":
        return dt.datetime.fromtimestamp(value, dt.timezone.utc)
    if kind == "END_DATE":
        return _parse_date_value(value)
    raise _err("InvalidArgsException", f"Unsupported Validity Type: {kind}")


def _validity_start(not_before: dict | None, issued_at: dt.datetime) -> dt.datetime:
    # IssueCertificate, ValidityNotBefore: only ABSOLUTE and END_DATE types.
    if not not_before:
        return issued_at - BACKDATE
    kind, value = not_before.get("Type"), int(not_before.get("Value", 0))
    if kind == "ABSOLUTE":
        return dt.datetime.fromtimestamp(value, dt.timezone.utc)
    if kind == "END_DATE":
        return _parse_date_value(value)
    raise _err("InvalidArgsException", "ValidityNotBefore Type must be ABSOLUTE or END_DATE")


# ---------------------------------------------------------------------------
# Templates. User Guide, "Understanding certificate templates" (template
# varieties / definitions).
# ---------------------------------------------------------------------------
def _ku(digital_signature=False, key_encipherment=False, key_agreement=False,
        key_cert_sign=False, crl_sign=False) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=digital_signature, content_commitment=False,
        key_encipherment=key_encipherment, data_encipherment=False,
        key_agreement=key_agreement, key_cert_sign=key_cert_sign, crl_sign=crl_sign,
        encipher_only=False, decipher_only=False,
    )


END_ENTITY = {
    # EndEntityCertificate/V1 (the default): KU critical digitalSignature,
    # keyEncipherment; EKU serverAuth, clientAuth; SAN passed through.
    "EndEntityCertificate/V1": (
        _ku(digital_signature=True, key_encipherment=True),
        [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH],
    ),
    # EndEntityClientAuthCertificate/V1: KU critical digitalSignature,
    # keyAgreement; EKU clientAuth; SAN passed through.
    "EndEntityClientAuthCertificate/V1": (
        _ku(digital_signature=True, key_agreement=True),
        [ExtendedKeyUsageOID.CLIENT_AUTH],
    ),
    # EndEntityServerAuthCertificate/V1: KU critical digitalSignature,
    # keyEncipherment; EKU serverAuth; SAN passed through.
    "EndEntityServerAuthCertificate/V1": (
        _ku(digital_signature=True, key_encipherment=True),
        [ExtendedKeyUsageOID.SERVER_AUTH],
    ),
}
CA_TEMPLATES = {
    # RootCACertificate/V1: BasicConstraints critical CA:TRUE (no path length),
    # KU critical digitalSignature, keyCertSign, cRLSign.
    "RootCACertificate/V1": None,
    "SubordinateCACertificate_PathLen0/V1": 0,
    "SubordinateCACertificate_PathLen1/V1": 1,
    "SubordinateCACertificate_PathLen2/V1": 2,
    "SubordinateCACertificate_PathLen3/V1": 3,
}


def _template_name(template_arn: str | None) -> str:
    if not template_arn:
        return "EndEntityCertificate/V1"
    if not template_arn.startswith(TEMPLATE_PREFIX):
        raise _err("InvalidArgsException", f"Invalid TemplateArn: {template_arn}")
    name = template_arn[len(TEMPLATE_PREFIX):]
    if name not in END_ENTITY and name not in CA_TEMPLATES:
        raise _err("InvalidArgsException", f"Unsupported template: {template_arn}")
    return name


def _extensions(template: str, csr: x509.CertificateSigningRequest, ca_public_key):
    exts = []
    subject_key = x509.SubjectKeyIdentifier.from_public_key(csr.public_key())
    if template in CA_TEMPLATES:
        exts.append((x509.BasicConstraints(ca=True, path_length=CA_TEMPLATES[template]), True))
        exts.append((_ku(digital_signature=True, key_cert_sign=True, crl_sign=True), True))
        exts.append((subject_key, False))
        if template != "RootCACertificate/V1":
            exts.append((x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_public_key), False))
        return exts
    ku, eku = END_ENTITY[template]
    exts.append((x509.BasicConstraints(ca=False, path_length=None), True))
    exts.append((ku, True))
    exts.append((x509.ExtendedKeyUsage(eku), False))
    exts.append((subject_key, False))
    exts.append((x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_public_key), False))
    try:
        san = csr.extensions.get_extension_for_class(x509.SubjectAlternativeName)
        exts.append((san.value, san.critical))
    except x509.ExtensionNotFound:
        pass
    return exts


def _load_csr(csr_field) -> x509.CertificateSigningRequest:
    # IssueCertificate, Csr: "The certificate signing request (CSR) ... in PEM or
    # DER format"; a bad one is MalformedCSRException.
    try:
        raw = base64.b64decode(csr_field, validate=False)
    except (binascii.Error, TypeError, ValueError):
        raise _err("MalformedCSRException", "The certificate signing request is invalid.")
    try:
        if b"-----BEGIN" in raw:
            csr = x509.load_pem_x509_csr(raw)
        else:
            csr = x509.load_der_x509_csr(raw)
        ok = csr.is_signature_valid
    except Exception:
        raise _err("MalformedCSRException", "The certificate signing request is invalid.")
    if not ok:
        raise _err("MalformedCSRException", "The certificate signing request signature is invalid.")
    return csr


def _new_serial() -> int:
    # 16 random bytes, positive, 32 hex digits.
    b = bytearray(os.urandom(16))
    b[0] = (b[0] & 0x7F) | 0x01
    return int.from_bytes(bytes(b), "big")


def _idem_cache(backend, name: str) -> dict:
    cache = getattr(backend, name, None)
    if cache is None:
        cache = {}
        setattr(backend, name, cache)
    return cache


def _idem_get(cache: dict, key):
    hit = cache.get(key)
    if hit and hit[0] > time.monotonic():
        return hit[1]
    cache.pop(key, None)
    return None


def _ca_chain_pem(ca) -> str:
    """CA certificate followed by the CA's own chain (if it was imported with one)."""
    chain = ca.certificate_bytes.decode().strip()
    extra = ca.certificate_chain
    if extra:
        if isinstance(extra, bytes):
            extra = extra.decode()
        if "-----BEGIN" not in extra:
            try:
                extra = base64.b64decode(extra).decode()
            except (binascii.Error, ValueError):
                extra = ""
        if extra.strip():
            chain += "\n" + extra.strip()
    return chain


# ---------------------------------------------------------------------------
# Response handlers (replace moto's).
# ---------------------------------------------------------------------------
def create_certificate_authority(self) -> str:
    """API Reference, CreateCertificateAuthority, IdempotencyToken: "Idempotency
    tokens for CreateCertificateAuthority time out after five minutes. Therefore,
    if you call CreateCertificateAuthority multiple times with the same
    idempotency token within five minutes, AWS Private CA recognizes that you are
    requesting only certificate authority and will issue only one." A reused
    token with other parameters is not documented: the original result is returned.
    """
    params = json.loads(self.body)
    backend = self.acmpca_backend
    token = params.get("IdempotencyToken")
    cache = _idem_cache(backend, "_fc_idem_create")
    if token:
        arn = _idem_get(cache, token)
        if arn and arn in backend.certificate_authorities:
            return json.dumps({"CertificateAuthorityArn": arn})
    arn = backend.create_certificate_authority(
        certificate_authority_configuration=params.get("CertificateAuthorityConfiguration"),
        revocation_configuration=params.get("RevocationConfiguration"),
        certificate_authority_type=params.get("CertificateAuthorityType"),
        security_standard=params.get("KeyStorageSecurityStandard"),
        tags=params.get("Tags"),
    )
    ca = backend.certificate_authorities[arn]
    if params.get("UsageMode"):
        ca.usage_mode = params["UsageMode"]
    asynchrony.on_ca_created(ca)  # CREATING for ca_creating_seconds
    if token:
        cache[token] = (time.monotonic() + IDEMPOTENCY_WINDOW_SECONDS, arn)
    return json.dumps({"CertificateAuthorityArn": arn})


def issue_certificate(self) -> str:
    """API Reference, IssueCertificate.

    - IdempotencyToken: "Idempotency tokens for IssueCertificate time out after
      five minutes. Therefore, if you call IssueCertificate multiple times with
      the same idempotency token within five minutes, AWS Private CA recognizes
      that you are requesting only one certificate and will issue only one."
      (Same token, other parameters: undocumented; the original ARN is returned.)
    - SigningAlgorithm, Validity, ValidityNotBefore, TemplateArn honoured.
    - InvalidStateException unless the CA is ACTIVE (User Guide, "Understand
      AWS Private CA CA status", PcaUpdateStatus.html: "Issue certificates"
      is Yes only for ACTIVE; DISABLED "You have manually disabled the CA.
      No"); a ROOT CA in PENDING_CERTIFICATE may issue its own certificate
      with RootCACertificate/V1 (User Guide, "Installing the root CA
      certificate"), and so may an ACTIVE ROOT CA: that is how its
      certificate is renewed with the same key (a new self-signed
      certificate from the CA's own CSR, then ImportCertificateAuthorityCertificate,
      whose first scenario is "Installing a certificate for a root CA hosted
      by Amazon Web Services Private CA"). The User Guide's "Managing the CA
      lifecycle" notes say "If you use ACM for issuance and renewal, you must
      re-issue the CA certificate to extend the lifetime of the CA" and "We
      recommend replacing an expiring CA rather than reissuing its
      certificate" (read as quoted by awsnotes.dendron.so, "Planning a
      private CA", adapted from the AWS guide; the AWS page itself,
      ca-lifecycle.html, could not be read to that section).
      Either is self-signed: issuer = the CSR's subject, no chain.
      A CA still CREATING (ca_creating_seconds) is refused the same way:
      InvalidStateException, "The state of the private CA does not allow this
      action to occur" (in IssueCertificate's error list).
    - "The validity period of the certificate ... cannot exceed the validity of
      the issuing CA" -> ValidationException. For a CA certificate
      (SubordinateCACertificate_PathLen*/V1) equal is refused too: User
      Guide, ca-lifecycle.html, "A certificate managed by AWS Private CA must
      have a validity period shorter than or equal to the validity period of
      the CA that issued it. In other words, child CAs and end-entity
      certificates cannot outlive their parent certificates. Attempting to
      use the IssueCertificate API to issue a CA certificate with a validity
      period greater than or equal to the parent's CA fails." A self-signed
      root certificate is not checked ("AWS Private CA does not perform
      validity checks on root CA certificates", short-lived-certificates.html).
    - With a CRL enabled, the certificate carries the CRL Distribution Points
      extension (pca_crl.distribution_point).
    - The certificate ARN ends with the serial number in lowercase hex, as AWS's
      certificate ARNs do (.../certificate/<serial hex>).
    """
    params = json.loads(self.body)
    backend = self.acmpca_backend
    ca = backend.describe_certificate_authority(params.get("CertificateAuthorityArn"))
    token = params.get("IdempotencyToken")
    cache = _idem_cache(backend, "_fc_idem_issue")
    if token:
        arn = _idem_get(cache, (ca.arn, token))
        if arn:
            return json.dumps({"CertificateArn": arn})

    template = _template_name(params.get("TemplateArn"))
    self_issue = (
        ca.status in ("PENDING_CERTIFICATE", "ACTIVE")
        and template == "RootCACertificate/V1"
        and ca.certificate_authority_type == "ROOT"
    )
    if ca.status != "ACTIVE" and not self_issue:
        raise _err("InvalidStateException", f"The certificate authority {ca.arn} is not in the correct state to issue certificates (status {ca.status}).")

    signing = params.get("SigningAlgorithm")
    key_alg = ca.certificate_authority_configuration.get("KeyAlgorithm")
    _check_algorithms(key_alg, signing)
    csr = _load_csr(params.get("Csr") or "")

    issued_at = state.now().replace(microsecond=0)
    not_before = _validity_start(params.get("ValidityNotBefore"), issued_at)
    not_after = _validity_end(params.get("Validity"), issued_at)
    if not_after <= not_before:
        raise _err("InvalidArgsException", "The validity period ends before it starts")
    ca_cert = None if self_issue else ca.certificate
    # User Guide, "Understand AWS Private CA CA modes": a short-lived
    # certificate mode CA "exclusively issues certificates with a maximum
    # validity period of seven days", and "AWS Private CA does not perform
    # validity checks on root CA certificates" (hence not self_issue).
    # https://docs.aws.amazon.com/privateca/latest/userguide/short-lived-certificates.html
    if (not self_issue and getattr(ca, "usage_mode", "") == "SHORT_LIVED_CERTIFICATE"
            and not_after - issued_at > dt.timedelta(days=7)):
        raise _err("ValidationException", "A CA in SHORT_LIVED_CERTIFICATE mode issues certificates valid for at most 7 days.")
    if ca_cert is not None:
        limit = ca_cert.not_valid_after_utc
        if not_after > limit or (template in CA_TEMPLATES and not_after >= limit):
            raise _err("ValidationException", "The certificate validity specified exceeds the certificate authority validity.")

    serial = _new_serial()
    builder = (
        x509.CertificateBuilder()
        .subject_name(csr.subject)
        .issuer_name(csr.subject if self_issue else ca_cert.subject)
        .public_key(csr.public_key())
        .serial_number(serial)
        .not_valid_before(not_before)
        .not_valid_after(not_after)
    )
    for ext, critical in _extensions(template, csr, ca._fc_key.public_key()):
        builder = builder.add_extension(ext, critical)
    cdp = None if self_issue else pca_crl.distribution_point(ca, ca.region_name)
    if cdp is not None:
        builder = builder.add_extension(cdp, False)
    cert = builder.sign(ca._fc_key, SIGNING_ALGORITHMS[signing][1]())
    pem = cert.public_bytes(serialization.Encoding.PEM)

    arn = f"{ca.arn}/certificate/{serial:032x}"
    ca.issued_certificates[arn] = pem
    if not self_issue:
        ca.issued_certificates_certificate_chains[arn] = _ca_chain_pem(ca).encode()
    ca._fc_serials[serial] = arn
    ca._fc_expiry[serial] = not_after
    ca._fc_pending[arn] = int(state.config.get("request_in_progress_calls") or 0)
    asynchrony.on_certificate_issued(ca, arn)
    if token:
        cache[(ca.arn, token)] = (time.monotonic() + IDEMPOTENCY_WINDOW_SECONDS, arn)
    return json.dumps({"CertificateArn": arn})


def get_certificate(self) -> str:
    """API Reference, GetCertificate: RequestInProgressException "Your request is
    already in progress" while the certificate is being issued: emulated for
    certificate_in_progress_seconds after each issuance (wall clock), then for
    request_in_progress_calls more calls. A revoked certificate is still
    returned (moto answered RequestInProgressException for it)."""
    params = json.loads(self.body)
    ca = self.acmpca_backend.describe_certificate_authority(params.get("CertificateAuthorityArn"))
    arn = params.get("CertificateArn")
    if arn not in ca.issued_certificates:
        raise _err("ResourceNotFoundException", f"Certificate {arn} not found.")
    asynchrony.check_certificate_ready(ca, arn, _err)
    if ca._fc_pending.get(arn, 0) > 0:
        ca._fc_pending[arn] -= 1
        raise _err("RequestInProgressException", "The request to issue certificate is still in progress.")
    out = {"Certificate": ca.issued_certificates[arn].decode().strip()}
    chain = ca.issued_certificates_certificate_chains.get(arn)
    if chain:
        out["CertificateChain"] = chain.decode().strip()
    return json.dumps(out)


REVOCATION_REASONS = {
    "UNSPECIFIED", "KEY_COMPROMISE", "CERTIFICATE_AUTHORITY_COMPROMISE",
    "AFFILIATION_CHANGED", "SUPERSEDED", "CESSATION_OF_OPERATION",
    "PRIVILEGE_WITHDRAWN", "A_A_COMPROMISE",
}


def revoke_certificate(self) -> str:
    """API Reference, RevokeCertificate: CertificateSerial "must be in hexadecimal
    format" (colon-separated as openssl prints it is accepted); unknown
    certificate -> ResourceNotFoundException; already revoked ->
    RequestAlreadyProcessedException ("Your request has already been
    completed"); "You cannot revoke a root CA self-signed certificate"
    -> InvalidRequestException; the CA must be ACTIVE or DISABLED (User
    Guide, "Understand AWS Private CA CA status", PcaUpdateStatus.html:
    "Certificates can be revoked" is Yes for ACTIVE and DISABLED, No for the
    other states) -> InvalidStateException.

    With a CRL enabled, the CRL is written to S3 at once (pca_crl.write_crl)."""
    params = json.loads(self.body)
    ca = self.acmpca_backend.describe_certificate_authority(params.get("CertificateAuthorityArn"))
    if ca.status not in ("ACTIVE", "DISABLED"):
        raise _err("InvalidStateException", f"The certificate authority {ca.arn} is {ca.status}: certificates cannot be revoked.")
    raw = str(params.get("CertificateSerial") or "")
    reason = params.get("RevocationReason")
    if reason not in REVOCATION_REASONS:
        raise _err("InvalidArgsException", f"Invalid RevocationReason: {reason}")
    try:
        serial = int(raw.replace(":", ""), 16)
    except ValueError:
        raise _err("InvalidArgsException", f"CertificateSerial is not hexadecimal: {raw}")
    # revoke_transient_rate: ConcurrentModificationException /
    # RequestInProgressException (both in RevokeCertificate's error list)
    # instead of carrying the revocation out
    asynchrony.revoke_transient(_err)
    arn = ca._fc_serials.get(serial)
    if arn is None:
        raise _err("ResourceNotFoundException", f"Certificate with serial {raw} was not issued by {ca.arn}.")
    if arn not in ca.issued_certificates_certificate_chains:
        raise _err("InvalidRequestException", "You cannot revoke a root CA self-signed certificate.")
    if serial in ca._fc_revoked:
        raise _err("RequestAlreadyProcessedException", "Your request has already been completed.")
    record = {
        "account": ca.account_id,
        "ca_arn": ca.arn,
        "serial": f"{serial:x}",
        "reason": reason,
        "revoked_at": state.now().replace(microsecond=0).isoformat().replace("+00:00", "Z"),
    }
    ca._fc_revoked[serial] = record
    ca.revoked_certificates[raw] = {"revocation_reason": reason, "revocation_time": unix_time()}
    with state.LOCK:
        state.revocations.append(record)
    pca_crl.write_crl(ca, ca._fc_hash)
    return "{}"


_orig_call_action = ACMPCAResponse.call_action
_orig_get_csr = ACMPCAResponse.get_certificate_authority_csr


def _purge_deleted(backend) -> None:
    """DeleteCertificateAuthority: "the CA won't be permanently deleted until
    the restoration period has passed"; RestoreCertificateAuthority: "You
    cannot restore a CA after the restoration period has ended." Once
    RestorableUntil is past on the emulator clock (POST /_fleetcert/clock
    moves it), the CA is gone: ResourceNotFoundException, and it is no
    longer listed."""
    now = state.now()
    for arn, ca in list(backend.certificate_authorities.items()):
        until = getattr(ca, "_fc_restorable_until", None)
        if ca.status == "DELETED" and until is not None and until <= now:
            del backend.certificate_authorities[arn]


def call_action(self):
    asynchrony.settle_pca(self.acmpca_backend)  # CREATING -> PENDING_CERTIFICATE when due
    _purge_deleted(self.acmpca_backend)
    return _orig_call_action(self)


def get_certificate_authority_csr(self) -> str:
    """API Reference, GetCertificateAuthorityCsr: "The CSR is created when you
    call the CreateCertificateAuthority action"; its error list has
    RequestInProgressException, on which botocore's waiter
    CertificateAuthorityCSRCreated retries. Answered while the CA is CREATING
    and for ca_csr_in_progress_seconds after."""
    ca = self.acmpca_backend.describe_certificate_authority(json.loads(self.body).get("CertificateAuthorityArn"))
    asynchrony.check_csr_ready(ca, _err)
    return _orig_get_csr(self)


# ---------------------------------------------------------------------------
# ImportCertificateAuthorityCertificate (API Reference). The rules it lists:
#   "Only a self-signed certificate can be imported as a root CA."
#   "A self-signed certificate cannot be imported as a subordinate CA."
#   "Your certificate chain must not include the private CA certificate that
#    you are importing."
#   "Your root CA must be the last certificate in your chain. The subordinate
#    certificate, if any, that your root CA signed must be next to last. The
#    subordinate certificate signed by the preceding subordinate CA must come
#    next, and so on until your chain is built."
#   "The chain must be PEM-encoded."
#   "Enforcement of Critical Constraints": the extensions allowed critical
#    (Basic constraints "must be marked critical"); AIA, CRL distribution
#    points, Freshest CRL and Policy constraints are rejected when critical,
#    "and any other extension marked as critical not contained on the
#    preceding list".
#   CertificateChain: "This parameter must be supplied when you import a
#    subordinate CA. When you import a root CA, there is no chain."
# Beyond that page: the certificate must be for the CA's own key (the CSR of
# GetCertificateAuthorityCsr is what gets signed); each certificate must be
# signed by the next one and the pathLenConstraints must hold, as RFC 5280
# path validation (6.1.4 (k)-(m)) checks a chain; and a CA certificate must
# not outlive the one that signed it (User Guide, ca-lifecycle.html:
# "Subordinate and validity periods must fall within the validity periods
# of their parents"). Those three are refused with CertificateMismatchException
# ("The certificate authority certificate you are importing does not comply
# with conditions specified in the certificate that signed it"); format and
# critical-extension faults with MalformedCertificateException ("One or more
# fields in the certificate are invalid"); root/subordinate/chain-shape faults
# with InvalidRequestException ("The request action cannot be performed or is
# prohibited"). AWS's codes for each case and its messages are not
# documented: the codes are picked from the operation's error list, the
# messages are ours.
# ---------------------------------------------------------------------------
CRITICAL_ALLOWED = {
    ExtensionOID.AUTHORITY_KEY_IDENTIFIER, ExtensionOID.BASIC_CONSTRAINTS,
    ExtensionOID.CERTIFICATE_POLICIES, ExtensionOID.EXTENDED_KEY_USAGE,
    ExtensionOID.INHIBIT_ANY_POLICY, ExtensionOID.ISSUER_ALTERNATIVE_NAME,
    ExtensionOID.KEY_USAGE, ExtensionOID.NAME_CONSTRAINTS, ExtensionOID.POLICY_MAPPINGS,
    ExtensionOID.SUBJECT_ALTERNATIVE_NAME, ExtensionOID.SUBJECT_DIRECTORY_ATTRIBUTES,
    ExtensionOID.SUBJECT_KEY_IDENTIFIER, ExtensionOID.SUBJECT_INFORMATION_ACCESS,
}
# "You can update the CA cert" (PcaUpdateStatus.html): ACTIVE Yes, EXPIRED
# Yes, DISABLED No; a PENDING_CERTIFICATE CA "needs a certificate to be
# operational" (its first import).
IMPORT_STATES = ("PENDING_CERTIFICATE", "ACTIVE", "EXPIRED")


def _blob(value) -> bytes:
    """A blob member as sent (base64 in awsJson), decoded; raw text otherwise."""
    if value is None:
        return b""
    if isinstance(value, bytes):
        value = value.decode("latin-1")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return value.encode()


def _pem_certs(raw: bytes, what: str) -> list[x509.Certificate]:
    if b"-----BEGIN CERTIFICATE-----" not in raw:
        raise _err("MalformedCertificateException", f"The {what} must be PEM-encoded.")
    try:
        return x509.load_pem_x509_certificates(raw)
    except ValueError:
        raise _err("MalformedCertificateException", f"The {what} could not be parsed.")


def _signed_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    try:
        cert.verify_directly_issued_by(issuer)
        return True
    except (ValueError, TypeError, InvalidSignature):
        return False


def _spki(key) -> bytes:
    return key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def _basic_constraints(cert):
    try:
        return cert.extensions.get_extension_for_class(x509.BasicConstraints)
    except x509.ExtensionNotFound:
        return None


def _check_critical(cert: x509.Certificate, what: str) -> None:
    for ext in cert.extensions:
        if ext.critical and ext.oid not in CRITICAL_ALLOWED:
            raise _err("MalformedCertificateException",
                       f"The {what} has the extension {ext.oid.dotted_string} marked critical, which AWS Private CA does not allow.")


def import_certificate_authority_certificate(self) -> str:
    """ImportCertificateAuthorityCertificate, with the checks above (moto
    checked only that the certificate parsed). On success the CA is ACTIVE
    with that certificate and chain; on an ACTIVE CA the certificate is
    replaced, which renews the CA with the same key (NotAfter moves;
    certificates issued before still verify with the same key). Also
    InvalidStateException "The state of the private CA does not allow this
    action to occur" while CREATING and outside IMPORT_STATES."""
    params = json.loads(self.body)
    ca = self.acmpca_backend.describe_certificate_authority(params.get("CertificateAuthorityArn"))
    asynchrony.check_not_creating(ca, _err, "import a certificate")
    if ca.status not in IMPORT_STATES:
        raise _err("InvalidStateException", f"The certificate authority {ca.arn} is {ca.status}: its certificate cannot be imported.")
    certs = _pem_certs(_blob(params.get("Certificate")), "certificate")
    if len(certs) != 1:
        raise _err("MalformedCertificateException", "The certificate must hold exactly one PEM certificate.")
    cert = certs[0]
    chain_raw = _blob(params.get("CertificateChain")).strip()
    chain = _pem_certs(chain_raw, "certificate chain") if chain_raw else []

    # the chain's shape first (root / subordinate rules), then the key
    self_signed = _signed_by(cert, cert)
    if ca.certificate_authority_type == "ROOT":
        if not self_signed:
            raise _err("InvalidRequestException", "Only a self-signed certificate can be imported as a root CA.")
        if chain:
            raise _err("InvalidRequestException", "A root CA is imported without a certificate chain.")
    else:
        if self_signed:
            raise _err("InvalidRequestException", "A self-signed certificate cannot be imported as a subordinate CA.")
        if not chain:
            raise _err("InvalidRequestException", "CertificateChain must be supplied when you import a subordinate CA.")
        der = cert.public_bytes(serialization.Encoding.DER)
        if any(c.public_bytes(serialization.Encoding.DER) == der for c in chain):
            raise _err("InvalidRequestException", "Your certificate chain must not include the private CA certificate that you are importing.")
    if _spki(cert.public_key()) != _spki(ca._fc_key.public_key()):
        raise _err("CertificateMismatchException", "The certificate's public key is not the key of this certificate authority (sign the CSR of GetCertificateAuthorityCsr).")

    bc = _basic_constraints(cert)
    if bc is None or not bc.value.ca:
        raise _err("MalformedCertificateException", "The certificate is not a CA certificate (Basic constraints CA:TRUE).")
    if not bc.critical:
        raise _err("MalformedCertificateException", "Basic constraints must be marked critical.")
    _check_critical(cert, "certificate")
    for c in chain:
        _check_critical(c, "certificate chain")

    if ca.certificate_authority_type != "ROOT":
        links = [cert] + chain
        for i, child in enumerate(links[:-1]):
            parent = links[i + 1]
            if not _signed_by(child, parent):
                raise _err("CertificateMismatchException", f"Certificate {i} of the chain ({child.subject.rfc4514_string()}) is not signed by the next one ({parent.subject.rfc4514_string()}): the root must be last, each certificate signed by the one after it.")
            pbc = _basic_constraints(parent)
            if pbc is None or not pbc.value.ca:
                raise _err("CertificateMismatchException", f"{parent.subject.rfc4514_string()} in the chain is not a CA certificate.")
            # below parent: the imported CA and links[1..i], i+1 CA certificates
            if pbc.value.path_length is not None and pbc.value.path_length < i + 1:
                raise _err("CertificateMismatchException", f"The path length constraint ({pbc.value.path_length}) of {parent.subject.rfc4514_string()} does not allow this CA certificate below it.")
            if child.not_valid_after_utc > parent.not_valid_after_utc:
                raise _err("CertificateMismatchException", f"{child.subject.rfc4514_string()} would outlive the certificate that signed it.")
        if not _signed_by(chain[-1], chain[-1]):
            raise _err("CertificateMismatchException", "The last certificate of the chain must be a self-signed root CA certificate.")

    ca.certificate_bytes = cert.public_bytes(serialization.Encoding.PEM)
    ca.certificate_chain = b"".join(c.public_bytes(serialization.Encoding.PEM) for c in chain) or None
    ca.status = "ACTIVE"
    ca.updated_at = unix_time()
    return "{}"


def get_certificate_authority_certificate(self) -> str:
    """API Reference, GetCertificateAuthorityCertificate: "Retrieves the
    certificate and certificate chain for your private certificate authority
    ... The chain does not include the CA certificate. Each certificate in
    the chain signs the one before it." The chain is the one imported (absent
    for a root). A CA without a certificate yet -> InvalidStateException.
    (moto answered only for an ACTIVE CA; a DISABLED or DELETED CA keeps its
    certificate, so it is returned: our reading.)"""
    ca = self.acmpca_backend.describe_certificate_authority(json.loads(self.body).get("CertificateAuthorityArn"))
    if not ca.certificate_bytes:
        raise _err("InvalidStateException", f"The certificate authority {ca.arn} has no certificate ({ca.status}).")
    out = {"Certificate": ca.certificate_bytes.decode().strip()}
    if ca.certificate_chain:
        out["CertificateChain"] = ca.certificate_chain.decode().strip()
    return json.dumps(out)


def update_certificate_authority(self) -> str:
    """API Reference, UpdateCertificateAuthority: "Your private CA must be in
    the ACTIVE or DISABLED state before you can update it. You can disable a
    private CA that is in the ACTIVE state or make a CA that is in the
    DISABLED state active again." Another state -> InvalidStateException;
    a Status other than ACTIVE / DISABLED -> InvalidArgsException (our
    message; moto set any status). RevocationConfiguration: see
    _set_revocation_configuration ("If you don't supply this parameter,
    existing capibilites remain unchanged")."""
    params = json.loads(self.body)
    ca = self.acmpca_backend.describe_certificate_authority(params.get("CertificateAuthorityArn"))
    if ca.status not in ("ACTIVE", "DISABLED"):
        raise _err("InvalidStateException", f"The certificate authority {ca.arn} is {ca.status}: only an ACTIVE or DISABLED CA can be updated.")
    status = params.get("Status")
    if status is not None and status not in ("ACTIVE", "DISABLED"):
        raise _err("InvalidArgsException", f"Status can only be set to ACTIVE or DISABLED, not {status}.")
    ca.set_revocation_configuration(params.get("RevocationConfiguration"))
    if status is not None:
        ca.status = status
    ca.updated_at = unix_time()
    return "{}"


def delete_certificate_authority(self) -> str:
    """API Reference, DeleteCertificateAuthority: "A private CA can be deleted
    if it is in the PENDING_CERTIFICATE, CREATING, EXPIRED, DISABLED, or
    FAILED state. To delete a CA in the ACTIVE state, you must first disable
    it, or else the delete request results in an exception"
    (InvalidStateException; a CA already DELETED likewise). "By default, if
    you do not set the PermanentDeletionTimeInDays parameter, the CA remains
    restorable for 30 days. You can set the parameter from 7 to 30 days"
    (the range is the model's, see Request validation). "A private CA
    deleted in the CREATING or FAILED state has no assigned restoration
    period and cannot be restored." The period runs on the emulator clock."""
    params = json.loads(self.body)
    ca = self.acmpca_backend.describe_certificate_authority(params.get("CertificateAuthorityArn"))
    if ca.status in ("ACTIVE", "DELETED"):
        raise _err("InvalidStateException", f"The certificate authority {ca.arn} is {ca.status}: disable it before deleting it.")
    days = params.get("PermanentDeletionTimeInDays") or 30
    restorable = ca.status not in ("CREATING", "FAILED")
    ca._fc_status_before_delete = ca.status
    ca._fc_restorable_until = (state.now().replace(microsecond=0) + dt.timedelta(days=int(days))) if restorable else None
    ca.status = "DELETED"
    ca.updated_at = unix_time()
    return "{}"


def restore_certificate_authority(self) -> str:
    """API Reference, RestoreCertificateAuthority (moto: not implemented):
    "Restores a certificate authority (CA) that is in the DELETED state ...
    The status of a restored CA is set to its pre-deletion status when the
    RestoreCertificateAuthority action returns." A CA not DELETED, or one
    deleted without a restoration period -> InvalidStateException; after the
    period the CA is gone (ResourceNotFoundException, see _purge_deleted)."""
    ca = self.acmpca_backend.describe_certificate_authority(json.loads(self.body).get("CertificateAuthorityArn"))
    if ca.status != "DELETED" or ca._fc_restorable_until is None:
        raise _err("InvalidStateException", f"The certificate authority {ca.arn} is {ca.status}: it cannot be restored.")
    ca.status = ca._fc_status_before_delete or "DISABLED"
    ca._fc_restorable_until = None
    ca._fc_status_before_delete = None
    ca.updated_at = unix_time()
    return "{}"


def apply() -> None:
    CA.__init__ = _ca_init
    CA.key = property(lambda self: self._fc_key)
    CA.issuer = property(_ca_subject)
    CA.csr = property(_ca_csr)
    CA.set_revocation_configuration = _set_revocation_configuration
    CA.to_json = _ca_to_json
    ACMPCAResponse.create_certificate_authority = create_certificate_authority
    ACMPCAResponse.issue_certificate = issue_certificate
    ACMPCAResponse.get_certificate = get_certificate
    ACMPCAResponse.revoke_certificate = revoke_certificate
    ACMPCAResponse.call_action = call_action
    ACMPCAResponse.get_certificate_authority_csr = get_certificate_authority_csr
    ACMPCAResponse.import_certificate_authority_certificate = import_certificate_authority_certificate
    ACMPCAResponse.get_certificate_authority_certificate = get_certificate_authority_certificate
    ACMPCAResponse.update_certificate_authority = update_certificate_authority
    ACMPCAResponse.delete_certificate_authority = delete_certificate_authority
    ACMPCAResponse.restore_certificate_authority = restore_certificate_authority
