"""Fidelity patches for moto's SSM Parameter Store (AmazonSSM, awsJson1_1).

Each patch cites the Systems Manager API Reference
(https://docs.aws.amazon.com/systems-manager/latest/APIReference/; the same
text is in botocore's ssm service model), the Systems Manager User Guide, or
what AWS answers. Kept from moto (and tested): ParameterAlreadyExists without
Overwrite, versions, "name:version" / "name:label" selectors, labels,
GetParameterHistory, DeleteParameter, Tags refused with Overwrite, and the
100-version limit (ParameterMaxVersionLimitExceeded when the oldest version
has a label).
"""

from __future__ import annotations

from moto.ssm.exceptions import SSMException, ValidationException
from moto.ssm.models import Parameter, SimpleSystemManagerBackend

from . import kmsuse

# ---------------------------------------------------------------------------
# Tiers. PutParameter, Tier: "Standard parameters have a content size limit of
# 4 KB ... Advanced parameters have a content size limit of 8 KB ... You can
# change a standard parameter to an advanced parameter any time. But you can't
# revert an advanced parameter to a standard parameter." Intelligent-Tiering:
# "Parameter Store evaluates each request to determine if the parameter is
# standard or advanced" ("Managing parameter tiers", User Guide,
# https://docs.aws.amazon.com/systems-manager/latest/userguide/parameter-store-advanced-parameters.html),
# and the tier reported is Standard or Advanced. moto stored any size in the
# standard tier and reported "Intelligent-Tiering" as a tier.
# Sizes are counted in UTF-8 bytes (the quota is 4 KB / 8 KB; AWS's message
# says characters: for ASCII, as PEM is, the two agree).
# ---------------------------------------------------------------------------
STANDARD_MAX, ADVANCED_MAX = 4096, 8192
# AWS's answers (hashicorp/terraform-provider-aws#18521,
# github-aws-runners/terraform-aws-github-runner#3815: HTTP 400)
STANDARD_TOO_LARGE = (
    "Standard tier parameters support a maximum parameter value of 4096 characters. To create a larger "
    "parameter value, upgrade the parameter to use the advanced-parameter tier. For more information, see "
    "https://docs.aws.amazon.com/systems-manager/latest/userguide/parameter-store-advanced-parameters.html")
# as quoted from a failed PutParameter (not confirmed in AWS's documentation)
ADVANCED_TOO_LARGE = ("The specified parameter value is too large. Advanced-tier parameters support a "
                      "maximum parameter value of 8192 characters.")


def _tier(requested: str | None, previous: str | None, size: int) -> str:
    if requested == "Intelligent-Tiering":
        return "Advanced" if size > STANDARD_MAX or previous == "Advanced" else "Standard"
    if requested is None:
        return previous or "Standard"
    if requested == "Standard" and previous == "Advanced":
        # our message: AWS documents the rule, not its answer
        raise ValidationException(
            "This parameter uses the advanced-parameter tier. You can't revert an advanced parameter "
            "to a standard parameter.")
    return requested


def _check_size(tier: str, size: int) -> None:
    if size > ADVANCED_MAX:
        raise ValidationException(ADVANCED_TOO_LARGE)
    if tier == "Standard" and size > STANDARD_MAX:
        raise ValidationException(STANDARD_TOO_LARGE)


# ---------------------------------------------------------------------------
# KMS (kmsuse.py says when a key is refused). A key that does not exist or
# cannot be used in its state is InvalidKeyId ("The query key ID isn't
# valid", listed by PutParameter, GetParameter, GetParameters,
# GetParametersByPath and GetParameterHistory) carrying KMS's message, as AWS
# answers: "InvalidKeyId: Key 'arn:aws:kms:...:key/...' does not exist
# (Service: AWSKMS; Status Code: 400; Error Code: NotFoundException; ...)"
# (binxio/aws-ssm-copy#10, PutParameter); "InvalidKeyId: arn:aws:kms:...:key/...
# is disabled. (Service: AWSKMS; ...; Error Code: DisabledException; ...)"
# (turbot/steampipe-plugin-aws, table_aws_ssm_parameter.go, GetParameter). A
# caller that may not use the key gets KMS's AccessDeniedException relayed:
# "AccessDeniedException: User: ... is not authorized to perform: kms:Decrypt
# on resource: arn:aws:kms:...:key/... because no resource-based policy allows
# the kms:Decrypt action (Service: AWSKMS; Status Code: 400; Error Code:
# AccessDeniedException; ...)" (hashicorp/terraform-provider-aws#42849,
# GetParameter). All HTTP 400.
# ---------------------------------------------------------------------------

def _kms(account: str, region: str, key_ref: str | None, action: str) -> None:
    try:
        kmsuse.check_service_use(account, region, key_ref, action)
    except kmsuse.KmsRefusal as refusal:
        code = "AccessDeniedException" if refusal.code == "AccessDeniedException" else "InvalidKeyId"
        raise SSMException(code, refusal.with_kms_trailer())


_orig_put_parameter = SimpleSystemManagerBackend.put_parameter
_orig_response_object = Parameter.response_object


def put_parameter(self, name, description, value, parameter_type, allowed_pattern, keyid, overwrite,
                  tags, data_type, tier, policies):
    versions = self._parameters.get(name) or []
    previous = versions[-1] if versions else None
    if previous is not None and not overwrite:
        # moto raises ParameterAlreadyExists after its own checks; ours must not come first
        return _orig_put_parameter(self, name, description, value, parameter_type, allowed_pattern,
                                   keyid, overwrite, tags, data_type, tier, policies)
    if value:
        size = len(value.encode("utf-8"))
        tier = _tier(tier, previous.tier if previous else None, size)
        _check_size(tier, size)
    kind = parameter_type or (previous.parameter_type if previous else None)
    if kind == "SecureString":
        key = keyid if keyid is not None else (previous.keyid if previous else None)
        # standard parameters: kms:Encrypt; advanced ones: envelope encryption
        _kms(self.account_id, self.region_name, key, "GenerateDataKey" if tier == "Advanced" else "Encrypt")
    return _orig_put_parameter(self, name, description, value, parameter_type, allowed_pattern, keyid,
                               overwrite, tags, data_type, tier, policies)


def response_object(self, decrypt: bool = False, region: str | None = None):
    # WithDecryption of a SecureString decrypts under the key of that version
    # (GetParameterHistory builds its answer without the region: the request's)
    where = region or kmsuse.caller_region()
    if decrypt and self.parameter_type == "SecureString" and where:
        _kms(self.account_id, where, self.keyid, "Decrypt")
    return _orig_response_object(self, decrypt, region)


def apply() -> None:
    SimpleSystemManagerBackend.put_parameter = put_parameter
    Parameter.response_object = response_object
