"""Fidelity patches for moto's AWS IoT (iot, restJson1).

Each patch cites the AWS IoT API Reference page it follows
(https://docs.aws.amazon.com/iot/latest/apireference/API_<Operation>.html) or
the AWS IoT Developer Guide.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import re
import secrets

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import NameOID

from moto.core.responses import ActionResult, EmptyResult
from moto.core.utils import utcnow
from moto.iot import models as iot_models
from moto.iot.exceptions import (
    CertificateStateException,
    InvalidRequestException,
    IoTClientError,
    ResourceAlreadyExistsException,
    ResourceNotFoundException,
    ThingStillAttached,
    VersionConflictException,
)
from moto.iot.responses import IoTResponse

from . import asynchrony

FakeCertificate = iot_models.FakeCertificate
FakeCaCertificate = iot_models.FakeCaCertificate
IoTBackend = iot_models.IoTBackend


def _err(code: str, message: str, status: int = 400) -> IoTClientError:
    e = IoTClientError(code, message)
    e.code = status
    return e


def _cert_validation(msg: str) -> IoTClientError:
    return _err("CertificateValidationException", msg, 400)


def _load_pem(pem: str | None, what: str) -> x509.Certificate:
    try:
        return x509.load_pem_x509_certificate((pem or "").encode())
    except Exception:
        raise _cert_validation(f"The {what} is not a valid PEM certificate.")


def _der_id(pem: str) -> str:
    """Certificate id = SHA-256 of the certificate's DER encoding, lowercase hex
    (AWS IoT Developer Guide: the certificate ID is the SHA-256 fingerprint)."""
    return hashlib.sha256(_load_pem(pem, "certificate").public_bytes(serialization.Encoding.DER)).hexdigest()


def _signed_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    key = issuer.public_key()
    try:
        if isinstance(key, rsa.RSAPublicKey):
            key.verify(cert.signature, cert.tbs_certificate_bytes, padding.PKCS1v15(), cert.signature_hash_algorithm)
        elif isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(cert.signature, cert.tbs_certificate_bytes, ec.ECDSA(cert.signature_hash_algorithm))
        else:
            return False
    except (InvalidSignature, ValueError, TypeError):
        return False
    return cert.issuer == issuer.subject


def _tags(backend) -> dict:
    if not hasattr(backend, "_fc_tags"):
        backend._fc_tags = {}
    return backend._fc_tags


def _store_tags(backend, arn: str, tags) -> None:
    if tags:
        _tags(backend).setdefault(arn, {}).update({t["Key"]: t.get("Value", "") for t in tags})


# ---------------------------------------------------------------------------
# Pagination helpers. Page-size ranges come from botocore's IoT model
# (e.g. ListThings maxResults 1..250); AWS's page markers are opaque strings.
# ---------------------------------------------------------------------------
def _encode_marker(offset: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"o": offset}).encode()).decode()


def _decode_marker(marker: str | None) -> int:
    if not marker:
        return 0
    try:
        return int(json.loads(base64.urlsafe_b64decode(marker.encode()))["o"])
    except Exception:
        raise InvalidRequestException("The pagination token/marker is invalid.")


def _page(items: list, size, marker, default: int, maximum: int = 250):
    size = default if size in (None, "") else int(size)
    if not 1 <= size <= maximum:
        raise InvalidRequestException(f"Page size must be between 1 and {maximum}.")
    start = _decode_marker(marker)
    chunk = items[start:start + size]
    nxt = _encode_marker(start + size) if start + size < len(items) else None
    return chunk, nxt


# ---------------------------------------------------------------------------
# Certificates
# ---------------------------------------------------------------------------
def _compute_cert_id(self, certificate_pem: str) -> str:
    # moto hashed the PEM text unless configured otherwise; AWS hashes the DER.
    try:
        return _der_id(certificate_pem)
    except IoTClientError:
        return self.compute_pem_cert_id(certificate_pem)


def _validity(pem: str) -> dict:
    # DescribeCertificate / DescribeCACertificate, CertificateValidity: "notBefore /
    # notAfter: The certificate is not valid before/after this date" (from the cert).
    try:
        c = x509.load_pem_x509_certificate(pem.encode())
    except Exception:
        return {}
    return {"notBefore": c.not_valid_before_utc, "notAfter": c.not_valid_after_utc}


_orig_description = FakeCertificate.to_description_dict


def _cert_description(self) -> dict:
    d = _orig_description(self)
    d["validity"] = _validity(self.certificate_pem) or d.get("validity")
    d["certificateMode"] = getattr(self, "_fc_mode", "DEFAULT")
    d["customerVersion"] = getattr(self, "_fc_customer_version", 1)
    d["generationId"] = getattr(self, "_fc_generation", "1")
    if self.ca_certificate_id:
        d["caCertificateId"] = self.ca_certificate_id
    if isinstance(self, FakeCaCertificate):
        d["autoRegistrationStatus"] = getattr(self, "_fc_auto_registration", "DISABLE")
    return d


def _cert_summary(c) -> dict:
    return {
        "certificateArn": c.arn,
        "certificateId": c.certificate_id,
        "status": c.status,
        "certificateMode": getattr(c, "_fc_mode", "DEFAULT"),
        "creationDate": c.creation_date,
    }


def _sorted_certs(certs, ascending) -> list:
    asc = str(ascending).lower() == "true"
    return sorted(certs, key=lambda c: c.creation_date, reverse=not asc)


def get_registration_code(self):
    # GetRegistrationCode: "Gets a registration code used to register a CA
    # certificate with AWS IoT" - one code per account and region (moto made a
    # new one on every call).
    b = self.iot_backend
    if not getattr(b, "_fc_registration_code", None):
        b._fc_registration_code = secrets.token_hex(32)
    return ActionResult({"registrationCode": b._fc_registration_code})


def register_ca_certificate(self):
    """RegisterCACertificate.

    - certificateMode: "If the verificationCertificate field is not provided, set
      certificateMode to be SNI_ONLY. If the verificationCertificate field is
      provided, set certificateMode to be DEFAULT"; verificationCertificate "If
      certificateMode is SNI_ONLY, the verificationCertificate field must be
      empty. If certificateMode is DEFAULT or not provided, the
      verificationCertificate field must not be empty."
    - The verification certificate's CN is the registration code and it is
      signed by the CA's key (Developer Guide, "Register a CA certificate
      (DEFAULT mode)"), else CertificateValidationException.
    - The same CA certificate twice -> ResourceAlreadyExistsException.
    - setAsActive / allowAutoRegistration / registrationConfig / tags kept.
    """
    b = self.iot_backend
    ca_pem = self._get_param("caCertificate")
    mode = self._get_param("certificateMode") or "DEFAULT"
    verification_pem = self._get_param("verificationCertificate")
    if mode not in ("DEFAULT", "SNI_ONLY"):
        raise InvalidRequestException(f"Invalid certificateMode: {mode}")
    ca = _load_pem(ca_pem, "CA certificate")
    try:
        is_ca = ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    except x509.ExtensionNotFound:
        is_ca = False
    if not is_ca:
        raise _cert_validation("The certificate is not a CA certificate (basicConstraints CA:TRUE missing).")
    if mode == "SNI_ONLY" and verification_pem:
        raise InvalidRequestException("verificationCertificate must be empty when certificateMode is SNI_ONLY.")
    if mode == "DEFAULT":
        if not verification_pem:
            raise InvalidRequestException("verificationCertificate is required when certificateMode is DEFAULT.")
        ver = _load_pem(verification_pem, "verification certificate")
        cns = [a.value for a in ver.subject.get_attributes_for_oid(NameOID.COMMON_NAME)]
        code = getattr(b, "_fc_registration_code", None)
        if not code or cns != [code]:
            raise _cert_validation("The verification certificate's common name does not match the registration code.")
        if not _signed_by(ver, ca):
            raise _cert_validation("The verification certificate is not signed by the CA certificate's private key.")
    cert_id = _der_id(ca_pem)
    if cert_id in b.ca_certificates:
        existing = b.ca_certificates[cert_id]
        raise ResourceAlreadyExistsException("The CA certificate is already registered.", cert_id, existing.arn)
    cert = FakeCaCertificate(
        ca_certificate=ca_pem,
        status="ACTIVE" if self._get_bool_param("setAsActive", False) else "INACTIVE",
        account_id=b.account_id,
        region_name=b.region_name,
        registration_config=self._get_param("registrationConfig") or {},
    )
    cert.arn = cert.arn.replace(":cert/", ":cacert/")
    cert._fc_mode = mode
    cert._fc_auto_registration = "ENABLE" if self._get_bool_param("allowAutoRegistration", False) else "DISABLE"
    b.ca_certificates[cert.certificate_id] = cert
    _store_tags(b, cert.arn, self._get_param("tags"))
    return ActionResult({"certificateId": cert.certificate_id, "certificateArn": cert.arn})


def describe_ca_certificate(self):
    # DescribeCACertificate: certificateDescription (incl. certificateMode,
    # autoRegistrationStatus, validity) and registrationConfig.
    cert = self.iot_backend.describe_ca_certificate(self.path.split("/")[-1])
    return ActionResult({
        "certificateDescription": cert.to_description_dict(),
        "registrationConfig": cert.registration_config or {},
    })


def list_ca_certificates(self):
    # ListCACertificates: "The results are paginated with a default page size of
    # 25. You can use the returned marker to retrieve additional results."
    certs = _sorted_certs(self.iot_backend.ca_certificates.values(), self._get_param("isAscendingOrder"))
    page, nxt = _page(certs, self._get_param("pageSize"), self._get_param("marker"), 25)
    out = {"certificates": [_cert_summary(c) for c in page]}
    if nxt:
        out["nextMarker"] = nxt
    return ActionResult(out)


def update_ca_certificate(self):
    # UpdateCACertificate: newStatus ACTIVE | INACTIVE; newAutoRegistrationStatus
    # ENABLE | DISABLE; registrationConfig; removeAutoRegistration.
    cert = self.iot_backend.describe_ca_certificate(self.path.split("/")[-1])
    status = self._get_param("newStatus")
    auto = self._get_param("newAutoRegistrationStatus")
    if status is not None:
        if status not in ("ACTIVE", "INACTIVE"):
            raise InvalidRequestException(f"Invalid newStatus: {status}")
        cert.status = status
    if auto is not None:
        if auto not in ("ENABLE", "DISABLE"):
            raise InvalidRequestException(f"Invalid newAutoRegistrationStatus: {auto}")
        cert._fc_auto_registration = auto
    config = self._get_param("registrationConfig")
    if config is not None:
        cert.registration_config = config
    if self._get_bool_param("removeAutoRegistration", False):
        cert.registration_config = {}
    cert.last_modified_date = utcnow()
    return EmptyResult()


CERT_STATUSES = ("ACTIVE", "INACTIVE", "REVOKED", "PENDING_TRANSFER", "REGISTER_INACTIVE", "PENDING_ACTIVATION")


def register_certificate(self):
    """RegisterCertificate: "Registers a device certificate with AWS IoT in the
    same certificate mode as the signing CA. If you have more than one CA
    certificate that has the same subject field, you must specify the CA
    certificate that was used to sign the device certificate being registered."

    - The signing CA must be registered in this account and region and must have
      signed the certificate, else CertificateValidationException; several
      registered CAs with the issuer's subject and no caCertificatePem ->
      CertificateConflictException.
    - status (ACTIVE | INACTIVE | REVOKED | ...) or the deprecated setAsActive;
      neither -> INACTIVE. Registered twice -> ResourceAlreadyExistsException.
    """
    b = self.iot_backend
    pem = self._get_param("certificatePem")
    ca_pem = self._get_param("caCertificatePem")
    cert = _load_pem(pem, "certificate")
    if ca_pem:
        ca_id = _der_id(ca_pem)
        ca = b.ca_certificates.get(ca_id)
        if ca is None:
            raise _cert_validation("The CA certificate used to sign the device certificate is not registered.")
        candidates = [ca]
    else:
        candidates = [c for c in b.ca_certificates.values()
                      if _load_pem(c.certificate_pem, "CA certificate").subject == cert.issuer]
        if not candidates:
            raise _cert_validation("No registered CA certificate matches the certificate's issuer.")
        if len(candidates) > 1:
            raise _err("CertificateConflictException",
                       "More than one registered CA certificate has this subject; specify caCertificatePem.", 409)
    ca = candidates[0]
    if not _signed_by(cert, _load_pem(ca.certificate_pem, "CA certificate")):
        raise _cert_validation("The certificate is not signed by the given CA certificate.")
    status = self._get_param("status")
    if status is None:
        status = "ACTIVE" if self._get_bool_param("setAsActive", False) else "INACTIVE"
    if status not in CERT_STATUSES:
        raise InvalidRequestException(f"Invalid status: {status}")
    new = b.register_certificate(certificate_pem=pem, ca_certificate_pem=ca.certificate_pem,
                                 set_as_active=False, status=status)
    new.ca_certificate_id = ca.certificate_id
    new._fc_mode = getattr(ca, "_fc_mode", "DEFAULT")
    return ActionResult({"certificateId": new.certificate_id, "certificateArn": new.arn})


def register_certificate_without_ca(self):
    # RegisterCertificateWithoutCA: registered in SNI_ONLY certificate mode;
    # status defaults to INACTIVE.
    pem = self._get_param("certificatePem")
    _load_pem(pem, "certificate")
    status = self._get_param("status") or "INACTIVE"
    if status not in CERT_STATUSES:
        raise InvalidRequestException(f"Invalid status: {status}")
    new = self.iot_backend.register_certificate_without_ca(certificate_pem=pem, status=status)
    new._fc_mode = "SNI_ONLY"
    return ActionResult({"certificateId": new.certificate_id, "certificateArn": new.arn})


def update_certificate(self):
    """UpdateCertificate: newStatus is one of ACTIVE | INACTIVE | REVOKED |
    PENDING_TRANSFER | REGISTER_INACTIVE | PENDING_ACTIVATION; "Setting the status
    to PENDING_TRANSFER or PENDING_ACTIVATION will result in an exception being
    thrown. PENDING_TRANSFER and PENDING_ACTIVATION are statuses used internally
    by IoT." A revoked certificate cannot change status (REVOKED is terminal)
    -> CertificateStateException."""
    cert_id = self._get_param("certificateId")
    status = self._get_param("newStatus")
    cert = self.iot_backend.describe_certificate(cert_id)
    if status not in CERT_STATUSES:
        raise InvalidRequestException(f"Invalid newStatus: {status}")
    if status in ("PENDING_TRANSFER", "PENDING_ACTIVATION"):
        raise InvalidRequestException(f"The status {status} is used internally by AWS IoT and cannot be set.")
    if cert.status == "REVOKED" and status != "REVOKED":
        raise CertificateStateException("The certificate is revoked and its status cannot be changed.", cert_id)
    cert.status = status
    cert.last_modified_date = utcnow()
    return EmptyResult()


def describe_certificate(self):
    cert = self.iot_backend.describe_certificate(self._get_param("certificateId"))
    return ActionResult({"certificateDescription": cert.to_description_dict()})


def list_certificates(self):
    # ListCertificates: "The results are paginated with a default page size of 25."
    certs = _sorted_certs(self.iot_backend.certificates.values(), self._get_param("isAscendingOrder"))
    page, nxt = _page(certs, self._get_param("pageSize"), self._get_param("marker"), 25)
    out = {"certificates": [_cert_summary(c) for c in page]}
    if nxt:
        out["nextMarker"] = nxt
    return ActionResult(out)


def list_certificates_by_ca(self):
    # ListCertificatesByCA: "List the device certificates signed by the specified
    # CA certificate." Paginated with pageSize/marker -> nextMarker (default 25).
    ca_id = self._get_param("caCertificateId") or self.path.split("/")[-1]
    certs = [c for c in self.iot_backend.certificates.values() if c.ca_certificate_id == ca_id]
    certs = _sorted_certs(certs, self._get_param("isAscendingOrder"))
    page, nxt = _page(certs, self._get_param("pageSize"), self._get_param("marker"), 25)
    out = {"certificates": [_cert_summary(c) for c in page]}
    if nxt:
        out["nextMarker"] = nxt
    return ActionResult(out)


# ---------------------------------------------------------------------------
# Things. CreateThing / UpdateThing / AttributePayload; Developer Guide "AWS IoT
# Core quotas" (thing attributes: 3 without a thing type, 50 with one).
# ---------------------------------------------------------------------------
THING_NAME = re.compile(r"^[a-zA-Z0-9:_-]{1,128}$")
ATTR_NAME = re.compile(r"^[a-zA-Z0-9_.,@/:#-]{1,128}$")
ATTR_VALUE = re.compile(r"^[a-zA-Z0-9_.,@/:#=\[\]-]{0,800}$")


def _check_thing_name(name) -> None:
    if not isinstance(name, str) or not THING_NAME.match(name):
        raise InvalidRequestException(
            f"1 validation error detected: Value '{name}' at 'thingName' failed to satisfy constraint: "
            "Member must satisfy regular expression pattern: [a-zA-Z0-9:_-]+ (length 1-128)")


def _check_attributes(attrs: dict, has_type: bool) -> None:
    for k, v in attrs.items():
        if not ATTR_NAME.match(str(k)):
            raise InvalidRequestException(f"Invalid attribute name: '{k}' (pattern [a-zA-Z0-9_.,@/:#-]+, max 128)")
        if not isinstance(v, str) or not ATTR_VALUE.match(v):
            raise InvalidRequestException(f"Invalid value for attribute '{k}' (pattern [a-zA-Z0-9_.,@/:#=\\[\\]-]*, max 800)")
    limit = 50 if has_type else 3
    if len(attrs) > limit:
        raise InvalidRequestException(
            f"A thing {'with' if has_type else 'without'} a thing type can have at most {limit} attributes ({len(attrs)} given).")


def _find_thing(b, name):
    for t in b.things.values():
        if t.thing_name == name:
            return t
    return None


def create_thing(self):
    """CreateThing: "If this call is made multiple times using the same thing
    name and configuration, the call will succeed. If this call is made with the
    same thing name but different configuration a ResourceAlreadyExistsException
    is thrown." (moto overwrote the existing thing.)"""
    b = self.iot_backend
    name = self._get_param("thingName")
    type_name = self._get_param("thingTypeName")
    payload = self._get_param("attributePayload") or {}
    attrs = dict(payload.get("attributes") or {})
    _check_thing_name(name)
    _check_attributes(attrs, bool(type_name))
    existing = _find_thing(b, name)
    if existing is not None:
        same_type = (existing.thing_type.thing_type_name if existing.thing_type else None) == type_name
        same_attrs = existing.attributes == {k: v for k, v in attrs.items() if v != ""} or existing.attributes == attrs
        if same_type and same_attrs and not self._get_param("billingGroupName"):
            return ActionResult({"thingName": existing.thing_name, "thingArn": existing.arn, "thingId": existing.thing_id})
        raise ResourceAlreadyExistsException(f"Thing {name} already exists in account with different attributes",
                                             existing.thing_id, existing.arn)
    thing = b.create_thing(thing_name=name, thing_type_name=type_name,
                           attribute_payload={"attributes": attrs},
                           billing_group_name=self._get_param("billingGroupName"))
    return ActionResult({"thingName": thing.thing_name, "thingArn": thing.arn, "thingId": thing.thing_id})


def update_thing(self):
    """UpdateThing: expectedVersion "If the version of the thing record in the
    registry does not match the expected version specified in the request, the
    UpdateThing request is rejected with a VersionConflictException"; each update
    increments the version. AttributePayload: "To remove an attribute, call
    UpdateThing with an empty attribute value" (with merge), and without merge
    the attributes are replaced. Attribute limits as CreateThing."""
    b = self.iot_backend
    name = self._get_param("thingName")
    thing = b.describe_thing(name)
    expected = self._get_param("expectedVersion")
    if expected is not None and int(expected) != thing.version:
        raise VersionConflictException(name)
    type_name = self._get_param("thingTypeName")
    remove_type = bool(self._get_param("removeThingType"))
    payload = self._get_param("attributePayload")
    has_type = False if remove_type else bool(type_name or thing.thing_type)
    if payload is not None and "attributes" in payload:
        attrs = payload.get("attributes") or {}
        _check_attributes({k: v for k, v in attrs.items()}, True)  # patterns only
        merged = dict(thing.attributes) if payload.get("merge") else {}
        merged.update(attrs)
        merged = {k: v for k, v in merged.items() if v != ""}
        _check_attributes(merged, has_type)
    else:
        _check_attributes(thing.attributes, has_type)
    b.update_thing(thing_name=name, thing_type_name=type_name,
                   attribute_payload=payload, remove_thing_type=remove_type)
    thing.version += 1
    return EmptyResult()


def list_things(self):
    """ListThings: maxResults 1..250; attributeName/attributeValue and
    thingTypeName filters; usePrefixAttributeValue "When true, the action returns
    the thing resources with attribute values that start with the
    attributeValue provided." nextToken pagination."""
    b = self.iot_backend
    an = self._get_param("attributeName")
    av = self._get_param("attributeValue")
    tn = self._get_param("thingTypeName")
    prefix = str(self._get_param("usePrefixAttributeValue", "false")).lower() == "true"
    things = []
    for t in b.things.values():
        if tn is not None and (t.thing_type is None or t.thing_type.thing_type_name != tn):
            continue
        if an is not None:
            v = t.attributes.get(an)
            if v is None:
                continue
            if av is not None and not (v.startswith(av) if prefix else v == av):
                continue
        things.append(t)
    page, nxt = _page(things, self._get_param("maxResults"), self._get_param("nextToken"), 50)
    out = {"things": [t.to_dict() for t in page]}
    if nxt:
        out["nextToken"] = nxt
    return ActionResult(out)


def list_thing_principals(self):
    # ListThingPrincipals: maxResults 1..250, nextToken.
    principals = self.iot_backend.list_thing_principals(thing_name=self._get_param("thingName"))
    page, nxt = _page(principals, self._get_param("maxResults"), self._get_param("nextToken"), 25)
    return ActionResult({"principals": page, "nextToken": nxt})


def list_principal_things(self):
    # ListPrincipalThings: maxResults 1..250, nextToken.
    principal = self.headers.get("x-amzn-principal")
    if not any(c.arn == principal for c in self.iot_backend.certificates.values()):
        raise ResourceNotFoundException()
    things = self.iot_backend.list_principal_things(principal_arn=principal)
    page, nxt = _page(things, self._get_param("maxResults"), self._get_param("nextToken"), 25)
    return ActionResult({"things": page, "nextToken": nxt})


# ---------------------------------------------------------------------------
# Policies and tags
# ---------------------------------------------------------------------------
def list_attached_policies(self):
    # ListAttachedPolicies: pageSize 1..250, marker -> nextMarker.
    target = self._get_param("target")
    self.iot_backend._get_principal(target) if ":cert/" in str(target) else None
    policies = self.iot_backend.list_attached_policies(target=target)
    page, nxt = _page(policies, self._get_param("pageSize"), self._get_param("marker"), 25)
    out = {"policies": [p.to_dict() for p in page]}
    if nxt:
        out["nextMarker"] = nxt
    return ActionResult(out)


def list_targets_for_policy(self):
    # ListTargetsForPolicy: pageSize 1..250, marker -> nextMarker.
    targets = self.iot_backend.list_targets_for_policy(policy_name=self._get_param("policyName"))
    page, nxt = _page(targets, self._get_param("pageSize"), self._get_param("marker"), 25)
    out = {"targets": page}
    if nxt:
        out["nextMarker"] = nxt
    return ActionResult(out)


def list_policies(self):
    # ListPolicies: pageSize 1..250, marker -> nextMarker, isAscendingOrder.
    policies = sorted(self.iot_backend.policies.values(), key=lambda p: p.name,
                      reverse=str(self._get_param("isAscendingOrder", "true")).lower() == "false")
    page, nxt = _page(policies, self._get_param("pageSize"), self._get_param("marker"), 25)
    out = {"policies": [p.to_dict() for p in page]}
    if nxt:
        out["nextMarker"] = nxt
    return ActionResult(out)


_orig_create_policy = IoTResponse.create_policy
_orig_delete_policy = IoTResponse.delete_policy


def create_policy(self):
    # CreatePolicy: tags "Metadata which can be used to manage the policy."
    result = _orig_create_policy(self)
    policy = self.iot_backend.get_policy(self._get_param("policyName"))
    _store_tags(self.iot_backend, policy.arn, self._get_param("tags"))
    return result


def delete_policy(self):
    result = _orig_delete_policy(self)
    arn_suffix = ":policy/" + self._get_param("policyName")
    for arn in [a for a in _tags(self.iot_backend) if a.endswith(arn_suffix)]:
        del _tags(self.iot_backend)[arn]
    return result


def _resource_exists(b, arn: str) -> bool:
    if ":policy/" in arn:
        return any(p.arn == arn for p in b.policies.values())
    if ":thing/" in arn:
        return arn in b.things
    if ":cacert/" in arn:
        return any(c.arn == arn for c in b.ca_certificates.values())
    if ":thingtype/" in arn:
        return arn in b.thing_types
    if ":thinggroup/" in arn:
        return arn in b.thing_groups
    if ":job/" in arn:
        from . import jobs
        return any(j.arn == arn for j in jobs.live_jobs(b))
    return True


def tag_resource(self):
    # TagResource: "Adds to or modifies the tags of the given resource."
    b = self.iot_backend
    arn = self._get_param("resourceArn")
    if not _resource_exists(b, arn):
        raise ResourceNotFoundException(f"Resource {arn} not found")
    _store_tags(b, arn, self._get_param("tags"))
    return EmptyResult()


def untag_resource(self):
    # UntagResource: removes the given tag keys.
    b = self.iot_backend
    arn = self._get_param("resourceArn")
    if not _resource_exists(b, arn):
        raise ResourceNotFoundException(f"Resource {arn} not found")
    for k in self._get_param("tagKeys") or []:
        _tags(b).get(arn, {}).pop(k, None)
    return EmptyResult()


def list_tags_for_resource(self):
    # ListTagsForResource: tags of the resource (nextToken pagination; all fit one page here).
    b = self.iot_backend
    arn = self._get_param("resourceArn")
    if not _resource_exists(b, arn):
        raise ResourceNotFoundException(f"Resource {arn} not found")
    tags = [{"Key": k, "Value": v} for k, v in sorted(_tags(b).get(arn, {}).items())]
    return ActionResult({"tags": tags})


# ---------------------------------------------------------------------------
# Detachments that propagate later (asynchrony.py; thing_detach_seconds and
# policy_detach_seconds, 0 = at once as moto does). Until the delay is over the
# attachment is still in moto's maps, so every List*, DeleteThing,
# DeleteCertificate and DeletePolicy still sees it.
# ---------------------------------------------------------------------------
_orig_call_action = IoTResponse.call_action


def call_action(self):
    asynchrony.settle_iot(self.iot_backend)
    return _orig_call_action(self)


def _detach(backend, kind: str, key, detach_now) -> EmptyResult:
    """A repeated detach while one is pending: AWS documents no answer for it;
    it succeeds (the pair is on its way out). Otherwise moto's validation and
    ResourceNotFoundException for a pair that is not attached."""
    if asynchrony.detach_is_pending(backend, kind, key):
        return EmptyResult()
    attached = backend.principal_things if kind == "thing" else backend.principal_policies
    if key in attached and asynchrony.defer_detach(backend, kind, key):
        return EmptyResult()
    detach_now()
    return EmptyResult()


def detach_thing_principal(self):
    # DetachThingPrincipal: "This call is asynchronous. It might take several
    # seconds for the detachment to propagate."
    b = self.iot_backend
    thing, principal = self._get_param("thingName"), self.headers.get("x-amzn-principal")
    b._get_principal(principal)
    b.describe_thing(thing)
    return _detach(b, "thing", (principal, thing),
                   lambda: b.detach_thing_principal(thing_name=thing, principal_arn=principal))


def attach_thing_principal(self):
    # Attaching the pair again while its detachment is pending keeps it attached.
    b = self.iot_backend
    thing, principal = self._get_param("thingName"), self.headers.get("x-amzn-principal")
    b.attach_thing_principal(thing_name=thing, principal_arn=principal)
    asynchrony.cancel_detach(b, "thing", (principal, thing))
    return EmptyResult()


def detach_policy(self):
    # DetachPolicy: "Because of the distributed nature of Amazon Web Services,
    # it can take up to five minutes after a policy is detached before it's
    # ready to be deleted."
    b = self.iot_backend
    name, target = self._get_param("policyName"), self._get_param("target")
    b._get_principal(target)
    b.get_policy(name)
    return _detach(b, "policy", (target, name), lambda: b.detach_policy(policy_name=name, target=target))


def detach_principal_policy(self):
    # DetachPrincipalPolicy (deprecated; "works as expected for backward
    # compatibility"): the same attachment as DetachPolicy.
    b = self.iot_backend
    name, principal = self._get_param("policyName"), self.headers.get("x-amzn-iot-principal")
    b._get_principal(principal)
    b.get_policy(name)
    return _detach(b, "policy", (principal, name),
                   lambda: b.detach_principal_policy(policy_name=name, principal_arn=principal))


def attach_policy(self):
    b = self.iot_backend
    name, target = self._get_param("policyName"), self._get_param("target")
    b.attach_policy(policy_name=name, target=target)
    asynchrony.cancel_detach(b, "policy", (target, name))
    return EmptyResult()


def attach_principal_policy(self):
    b = self.iot_backend
    name, principal = self._get_param("policyName"), self.headers.get("x-amzn-iot-principal")
    b.attach_principal_policy(policy_name=name, principal_arn=principal)
    asynchrony.cancel_detach(b, "policy", (principal, name))
    return EmptyResult()


def delete_thing(self):
    """DeleteThing while a principal is attached: InvalidRequestException "Cannot
    delete. Thing <name> is still attached to one or more principals" (the
    message AWS answers, e.g. aws/aws-connected-device-framework#76 right after
    a detach). botocore's IoT model gives InvalidRequestException HTTP 400;
    moto sent 409."""
    name = self._get_param("thingName")
    try:
        self.iot_backend.delete_thing(thing_name=name)
    except ThingStillAttached as e:
        raise InvalidRequestException(e.message)
    return EmptyResult()


# ---------------------------------------------------------------------------
# Endpoint. DescribeEndpoint: "iot:Data-ATS - Returns an ATS signed data
# endpoint"; the prefix is fixed per account (Developer Guide, "AWS IoT device
# data and service endpoints": <prefix>-ats.iot.<region>.amazonaws.com).
# ---------------------------------------------------------------------------
def _endpoint_prefix(account_id: str) -> str:
    digest = hashlib.sha256(f"fleetcert-emulator:{account_id}".encode()).digest()
    return base64.b32encode(digest).decode().lower()[:14]


def describe_endpoint(self, endpoint_type: str):
    ep = iot_models.FakeEndpoint(endpoint_type or "iot:Data", self.region_name)
    prefix = _endpoint_prefix(self.account_id)
    ep.endpoint = re.sub(r"^[a-z0-9]{14}", prefix, ep.endpoint)
    self.endpoint = ep
    return ep


_orig_delete_certificate = IoTBackend.delete_certificate


def _delete_certificate(self, certificate_id: str, force_delete: bool = False) -> None:
    """DeleteCertificate with forceDelete: "Forces the deletion of a
    certificate if it is inactive and is not attached to an IoT thing"
    (API reference, DeleteCertificate): the certificate's policy attachments
    go with it. moto leaves them behind, and a later DeleteCertificate of any
    other certificate then trips over the dangling principal; a pending
    policy detachment of it is dropped too."""
    arn = self.describe_certificate(certificate_id).arn
    _orig_delete_certificate(self, certificate_id, force_delete)
    for key in [k for k in self.principal_policies if k[0] == arn]:
        del self.principal_policies[key]
        asynchrony.cancel_detach(self, "policy", key)


def apply() -> None:
    IoTBackend.delete_certificate = _delete_certificate
    FakeCertificate.compute_cert_id = _compute_cert_id
    FakeCertificate.to_description_dict = _cert_description
    IoTBackend.describe_endpoint = describe_endpoint
    IoTResponse.call_action = call_action
    for fn in (
        get_registration_code, register_ca_certificate, describe_ca_certificate,
        list_ca_certificates, update_ca_certificate, register_certificate,
        register_certificate_without_ca, update_certificate, describe_certificate,
        list_certificates, list_certificates_by_ca, create_thing, update_thing,
        list_things, list_thing_principals, list_principal_things,
        list_attached_policies, list_targets_for_policy, list_policies,
        create_policy, delete_policy, tag_resource, untag_resource,
        list_tags_for_resource, detach_thing_principal, attach_thing_principal,
        detach_policy, detach_principal_policy, attach_policy,
        attach_principal_policy, delete_thing,
    ):
        setattr(IoTResponse, fn.__name__, fn)
