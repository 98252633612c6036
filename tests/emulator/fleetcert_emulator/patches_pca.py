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
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from moto.acmpca import models as pca_models
from moto.acmpca.responses import ACMPCAResponse
from moto.core.exceptions import JsonRESTError
from moto.core.utils import unix_time
from moto.moto_api._internal import mock_random

from . import asynchrony, state

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
    - InvalidStateException unless the CA is ACTIVE; a ROOT CA in
      PENDING_CERTIFICATE may issue its own certificate with RootCACertificate/V1
      (User Guide, "Installing the root CA certificate").
      A CA still CREATING (ca_creating_seconds) is refused the same way:
      InvalidStateException, "The state of the private CA does not allow this
      action to occur" (in IssueCertificate's error list).
    - "The validity period of the certificate ... cannot exceed the validity of
      the issuing CA" -> ValidationException.
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
        ca.status == "PENDING_CERTIFICATE"
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
    if ca_cert is not None and not_after > ca_cert.not_valid_after_utc:
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
    cert = builder.sign(ca._fc_key, SIGNING_ALGORITHMS[signing][1]())
    pem = cert.public_bytes(serialization.Encoding.PEM)

    arn = f"{ca.arn}/certificate/{serial:032x}"
    ca.issued_certificates[arn] = pem
    if not self_issue:
        ca.issued_certificates_certificate_chains[arn] = _ca_chain_pem(ca).encode()
    ca._fc_serials[serial] = arn
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
    -> InvalidRequestException; CA must be ACTIVE (InvalidStateException)."""
    params = json.loads(self.body)
    ca = self.acmpca_backend.describe_certificate_authority(params.get("CertificateAuthorityArn"))
    if ca.status != "ACTIVE":
        raise _err("InvalidStateException", f"The certificate authority {ca.arn} is not ACTIVE.")
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
    return "{}"


_orig_call_action = ACMPCAResponse.call_action
_orig_get_csr = ACMPCAResponse.get_certificate_authority_csr
_orig_import_ca_certificate = ACMPCAResponse.import_certificate_authority_certificate


def call_action(self):
    asynchrony.settle_pca(self.acmpca_backend)  # CREATING -> PENDING_CERTIFICATE when due
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


def import_certificate_authority_certificate(self) -> str:
    """API Reference, ImportCertificateAuthorityCertificate, InvalidStateException
    "The state of the private CA does not allow this action to occur": a CA
    still CREATING has no CSR to sign yet."""
    ca = self.acmpca_backend.describe_certificate_authority(json.loads(self.body).get("CertificateAuthorityArn"))
    asynchrony.check_not_creating(ca, _err, "import a certificate")
    return _orig_import_ca_certificate(self)


def apply() -> None:
    CA.__init__ = _ca_init
    CA.key = property(lambda self: self._fc_key)
    CA.issuer = property(_ca_subject)
    CA.csr = property(_ca_csr)
    ACMPCAResponse.create_certificate_authority = create_certificate_authority
    ACMPCAResponse.issue_certificate = issue_certificate
    ACMPCAResponse.get_certificate = get_certificate
    ACMPCAResponse.revoke_certificate = revoke_certificate
    ACMPCAResponse.call_action = call_action
    ACMPCAResponse.get_certificate_authority_csr = get_certificate_authority_csr
    ACMPCAResponse.import_certificate_authority_certificate = import_certificate_authority_certificate
