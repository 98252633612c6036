"""ACM PCA revocation configuration (CRL / OCSP) and the CRLs written to S3.

Sources ("API Reference" = https://docs.aws.amazon.com/privateca/latest/APIReference/,
"User Guide" = https://docs.aws.amazon.com/privateca/latest/userguide/):

- API Reference, CrlConfiguration / OcspConfiguration / RevocationConfiguration
  and CreateCertificateAuthority / UpdateCertificateAuthority ("The following
  requirements apply to revocation configurations").
- User Guide, "Set up a CRL for AWS Private CA" (crl-planning.html): "Access
  policies for CRLs in Amazon S3", "Enable S3 Block Public Access (BPA)",
  "CRL structure".
- AWS Knowledge Center "acm-ca-crl-s3-getbucketacl" (the bucket policy that
  grants acm-pca.amazonaws.com s3:PutObject, s3:PutObjectAcl, s3:GetBucketAcl
  and s3:GetBucketLocation on the bucket and its objects).
- The refusal AWS answers for a bucket it cannot write: "ValidationException:
  Permission error with your S3 bucket 'xxxx'. Check that your bucket policy,
  encryption settings, S3 Block Public Access settings, and global account
  permissions are configured correctly. For more information, check the
  service documentation." (quoted in hashicorp/terraform-provider-aws#33306).
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import json

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from . import state

SERVICE_PRINCIPAL = "acm-pca.amazonaws.com"
# The four actions of the documented bucket policy (Knowledge Center
# acm-ca-crl-s3-getbucketacl; User Guide crl-planning.html#s3-policies):
# "Action": ["s3:PutObject", "s3:PutObjectAcl", "s3:GetBucketAcl", "s3:GetBucketLocation"],
# "Resource": ["arn:aws:s3:::your-crl-storage-bucket/*", "arn:aws:s3:::your-crl-storage-bucket"]
OBJECT_ACTIONS = ("s3:PutObject", "s3:PutObjectAcl")
BUCKET_ACTIONS = ("s3:GetBucketAcl", "s3:GetBucketLocation")

# RevokeCertificate RevocationReason -> the CRL entry's X509v3 CRL Reason Code
# (CrlConfiguration: "CRL Entry Extensions ... X509v3 CRL Reason Code: Reason
# the certificate was revoked"; RFC 5280 5.3.1 names the values).
REASONS = {
    "UNSPECIFIED": x509.ReasonFlags.unspecified,
    "KEY_COMPROMISE": x509.ReasonFlags.key_compromise,
    "CERTIFICATE_AUTHORITY_COMPROMISE": x509.ReasonFlags.ca_compromise,
    "AFFILIATION_CHANGED": x509.ReasonFlags.affiliation_changed,
    "SUPERSEDED": x509.ReasonFlags.superseded,
    "CESSATION_OF_OPERATION": x509.ReasonFlags.cessation_of_operation,
    "PRIVILEGE_WITHDRAWN": x509.ReasonFlags.privilege_withdrawn,
    "A_A_COMPROMISE": x509.ReasonFlags.aa_compromise,
}


def crl_key(ca) -> str:
    # The object AWS writes for a complete CRL: crl/<CA id>.crl (the CDP URI
    # of crl-planning.html, "Determining the CRL Distribution Point (CDP) URI").
    return f"crl/{ca.id}.crl"


def _s3():
    from moto.s3.models import s3_backends
    return s3_backends


def _bucket(name: str):
    """The moto bucket of that name, in whichever account owns it, or None."""
    backends = _s3()
    owner = backends.bucket_accounts.get(name)
    if not owner:
        return None
    partition, account = owner
    try:
        return backends[account][partition].get_bucket(name)
    except Exception:
        return None


def _permission_error(err, bucket: str):
    return err(
        "ValidationException",
        f"Permission error with your S3 bucket '{bucket}'. Check that your bucket policy, encryption "
        "settings, S3 Block Public Access settings, and global account permissions are configured "
        "correctly. For more information, check the service documentation.",
    )


def _as_list(v):
    if v is None:
        return []
    return v if isinstance(v, list) else [v]


def _principal_is_pca(principal) -> bool:
    if principal == "*":
        return True
    if isinstance(principal, dict):
        if principal.get("AWS") == "*":
            return True
        return SERVICE_PRINCIPAL in _as_list(principal.get("Service"))
    return False


def _condition_holds(cond: dict | None, account: str, ca_arn: str) -> bool:
    """The documented policy narrows the grant with aws:SourceAccount and
    aws:SourceArn ("StringEquals": {"aws:SourceAccount": "account",
    "aws:SourceArn": "arn:partition:acm-pca:region:account:certificate-authority/CA_ID"}).
    StringEquals / StringLike / ArnEquals / ArnLike on those two keys are
    evaluated with the CA's account and ARN; any other condition is taken as
    not holding (the grant is then not counted), the stricter reading."""
    if not cond:
        return True
    values = {"aws:sourceaccount": account, "aws:sourcearn": ca_arn}
    for op, body in cond.items():
        like = op in ("StringLike", "ArnLike")
        if op not in ("StringEquals", "StringLike", "ArnEquals", "ArnLike") or not isinstance(body, dict):
            return False
        for key, wanted in body.items():
            actual = values.get(key.lower())
            if actual is None:
                return False
            pats = _as_list(wanted)
            if not any(fnmatch.fnmatchcase(actual, p) if like else actual == p for p in pats):
                return False
    return True


def _allowed(statements, action: str, resource: str, account: str, ca_arn: str) -> bool:
    verdict = False
    for st in statements:
        if not _principal_is_pca(st.get("Principal")):
            continue
        actions = [a.lower() for a in _as_list(st.get("Action"))]
        if not any(fnmatch.fnmatchcase(action.lower(), a) for a in actions):
            continue
        if not any(fnmatch.fnmatchcase(resource, r) for r in _as_list(st.get("Resource"))):
            continue
        if not _condition_holds(st.get("Condition"), account, ca_arn):
            continue
        if st.get("Effect") == "Deny":
            return False
        if st.get("Effect") == "Allow":
            verdict = True
    return verdict


def _public_acls_blocked(bucket) -> bool:
    """S3 Block Public Access on the bucket or on its account (s3control)."""
    pab = getattr(bucket, "public_access_block", None)
    if pab is not None and (pab.block_public_acls or pab.ignore_public_acls):
        return True
    try:
        from moto.s3control.models import s3control_backends
        acct = s3control_backends[bucket.account_id][getattr(bucket, "partition", "aws")]
        apab = acct.public_access_block
        return bool(apab and (apab.block_public_acls or apab.ignore_public_acls))
    except Exception:
        return False


def validate(ca, revocation_configuration: dict | None, err) -> None:
    """API Reference, CreateCertificateAuthority / UpdateCertificateAuthority,
    RevocationConfiguration: "A configuration disabling CRLs or OCSP must
    contain only the Enabled=False parameter, and will fail if other
    parameters such as CustomCname or ExpirationInDays are included."; "the
    value of a CNAME parameter must not include a protocol prefix such as
    "http://" or "https://"."; CrlDistributionPointExtensionConfiguration
    OmitExtension: "This configuration cannot be enabled with a custom CNAME
    set." All three refused with InvalidArgsException ("One or more of the
    specified arguments was not valid", in both operations' error lists; the
    messages are ours).

    "Both Amazon Web Services Private CA and the IAM principal must have
    permission to write to the S3 bucket that you specify" (UpdateCertificateAuthority):
    the bucket must exist and its policy must grant acm-pca.amazonaws.com the
    four documented actions (bucket ARN for GetBucketAcl / GetBucketLocation,
    the CRL object's ARN for PutObject / PutObjectAcl). CrlConfiguration
    S3ObjectAcl: "If you have have enabled the Block Public Access (BPA)
    feature in your S3 account, then you must specify the value of this
    parameter as BUCKET_OWNER_FULL_CONTROL, and not doing so results in an
    error" (PUBLIC_READ is the default). Each failure: AWS's
    ValidationException "Permission error with your S3 bucket ..."."""
    if not revocation_configuration:
        return
    for kind, cname_key in (("CrlConfiguration", "CustomCname"), ("OcspConfiguration", "OcspCustomCname")):
        conf = revocation_configuration.get(kind)
        if conf is None:
            continue
        if not conf.get("Enabled"):
            extra = sorted(k for k in conf if k != "Enabled")
            if extra:
                raise err("InvalidArgsException",
                          f"A {kind} that disables revocation must contain only Enabled=false (got {', '.join(extra)}).")
            continue
        cname = conf.get(cname_key) or ""
        if cname.lower().startswith(("http://", "https://")):
            raise err("InvalidArgsException", f"{cname_key} must not include a protocol prefix: {cname}")
    crl = revocation_configuration.get("CrlConfiguration")
    if not crl or not crl.get("Enabled"):
        return
    if (crl.get("CrlDistributionPointExtensionConfiguration") or {}).get("OmitExtension") and crl.get("CustomCname"):
        raise err("InvalidArgsException", "OmitExtension cannot be enabled with a CustomCname set.")
    name = crl.get("S3BucketName")
    if not name:
        raise err("InvalidArgsException", "S3BucketName is required when the CRL is enabled.")
    bucket = _bucket(name)
    if bucket is None:
        raise _permission_error(err, name)
    try:
        statements = _as_list(json.loads(bucket.policy.decode()).get("Statement")) if bucket.policy else []
    except (ValueError, AttributeError):
        statements = []
    bucket_arn = f"arn:aws:s3:::{name}"
    object_arn = f"{bucket_arn}/{crl_key(ca)}"
    for action in BUCKET_ACTIONS:
        if not _allowed(statements, action, bucket_arn, ca.account_id, ca.arn):
            raise _permission_error(err, name)
    for action in OBJECT_ACTIONS:
        if not _allowed(statements, action, object_arn, ca.account_id, ca.arn):
            raise _permission_error(err, name)
    if crl.get("S3ObjectAcl", "PUBLIC_READ") == "PUBLIC_READ" and _public_acls_blocked(bucket):
        raise _permission_error(err, name)


def normalise(revocation_configuration: dict | None) -> dict | None:
    """What DescribeCertificateAuthority echoes: as given, with S3ObjectAcl
    PUBLIC_READ filled in for an enabled CRL ("If no value is specified, the
    default is PUBLIC_READ"). moto filled it in for a disabled CRL as well."""
    if revocation_configuration is None:
        return None
    out = json.loads(json.dumps(revocation_configuration))
    crl = out.get("CrlConfiguration")
    if crl and crl.get("Enabled") and "S3ObjectAcl" not in crl:
        crl["S3ObjectAcl"] = "PUBLIC_READ"
    return out


def crl_config(ca) -> dict | None:
    crl = (ca.revocation_configuration or {}).get("CrlConfiguration") or {}
    return crl if crl.get("Enabled") else None


def distribution_point(ca, region: str):
    """The CRL Distribution Points extension of a certificate the CA issues
    (CrlConfiguration: "Your private CA by default copies the CNAME or the S3
    bucket name to the CRL Distribution Points extension of each certificate
    it issues"; OmitExtension true: "the CDP extension will not be present").
    URL: http://<CustomCname>/crl/<CA id>.crl, or
    http://<bucket>.s3.<region>.amazonaws.com/crl/<CA id>.crl without one
    (our reading of crl-planning.html's CDP URI section, not confirmed)."""
    crl = crl_config(ca)
    if not crl or (crl.get("CrlDistributionPointExtensionConfiguration") or {}).get("OmitExtension"):
        return None
    host = crl.get("CustomCname") or f"{crl['S3BucketName']}.s3.{region}.amazonaws.com"
    url = f"http://{host}/{crl_key(ca)}"
    return x509.CRLDistributionPoints([
        x509.DistributionPoint(full_name=[x509.UniformResourceIdentifier(url)],
                               relative_name=None, reasons=None, crl_issuer=None)
    ])


def write_crl(ca, hash_cls) -> None:
    """Write the CA's complete CRL to crl/<CA id>.crl in its bucket.

    When: at once, when RevokeCertificate succeeds, dated on the emulator
    clock (AWS: "A CRL is typically updated approximately 30 minutes after a
    certificate is revoked"; the emulator does not model the delay, so a test
    reads the CRL right after revoking). Nothing is written while the CRL is
    disabled; the next write lists every revocation so far.

    Content (CrlConfiguration, "CRLs contain the following fields"): version
    2, the CA's subject as Issuer, Last Update = now, Next Update = now +
    ExpirationInDays, one entry per revoked certificate (serial, revocation
    date, CRL Reason Code), Authority Key Identifier and CRL Number
    extensions, signed with the CA key and the CA's signing algorithm;
    DER-encoded ("Certificate revocation lists created by Amazon Web Services
    Private CA are DER-encoded"). "When a certificate is revoked, it appears
    in the CRL until the certificate expires, and then in one additional CRL
    after expiration": an entry is dropped once its certificate expired before
    the previous CRL was written. The CRL Number is the emulator clock in
    milliseconds (AWS's example "X509v3 CRL Number: 1519676905984" is one),
    kept strictly increasing.
    """
    crl = crl_config(ca)
    if not crl or not ca.certificate_bytes:
        return
    bucket_name = crl["S3BucketName"]
    bucket = _bucket(bucket_name)
    if bucket is None:
        return  # AWS retries every 15 minutes; nothing to write to here
    now = state.now().replace(microsecond=0)
    previous = getattr(ca, "_fc_crl_last", None)
    number = max(int(now.timestamp() * 1000), getattr(ca, "_fc_crl_number", 0) + 1)
    ca_cert = ca.certificate
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(ca_cert.subject)
        .last_update(now)
        .next_update(now + dt.timedelta(days=int(crl.get("ExpirationInDays") or 7)))
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca._fc_key.public_key()), False)
        .add_extension(x509.CRLNumber(number), False)
    )
    for serial, record in sorted(ca._fc_revoked.items()):
        expires = getattr(ca, "_fc_expiry", {}).get(serial)
        if expires is not None and previous is not None and expires < previous:
            continue
        revoked_at = dt.datetime.fromisoformat(record["revoked_at"].replace("Z", "+00:00"))
        entry = (
            x509.RevokedCertificateBuilder()
            .serial_number(serial)
            .revocation_date(revoked_at)
            .add_extension(x509.CRLReason(REASONS[record["reason"]]), False)
            .build()
        )
        builder = builder.add_revoked_certificate(entry)
    der = builder.sign(ca._fc_key, hash_cls()).public_bytes(serialization.Encoding.DER)
    ca._fc_crl_last = now
    ca._fc_crl_number = number
    from moto.s3.models import get_canned_acl
    backends = _s3()
    partition, account = backends.bucket_accounts[bucket_name]
    key = backends[account][partition].put_object(bucket_name, crl_key(ca), der)
    # S3ObjectAcl: PUBLIC_READ -> canned ACL public-read, BUCKET_OWNER_FULL_CONTROL
    # -> bucket-owner-full-control ("only the owner of the CRL S3 bucket can access the CRL")
    acl = "bucket-owner-full-control" if crl.get("S3ObjectAcl") == "BUCKET_OWNER_FULL_CONTROL" else "public-read"
    key.set_acl(get_canned_acl(acl))
