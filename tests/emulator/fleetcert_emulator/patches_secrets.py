"""Fidelity patches for moto's Secrets Manager (awsJson1_1).

Each patch cites the Secrets Manager API Reference
(https://docs.aws.amazon.com/secretsmanager/latest/apireference/; the same text
is in botocore's secretsmanager service model) or what AWS answers. Only what
fleetcert relies on and moto 5.2.5 gets wrong is patched; the README lists what
is kept from moto.
"""

from __future__ import annotations

import json
import threading

from moto.secretsmanager import models as sm_models
from moto.secretsmanager.exceptions import (
    InvalidParameterException,
    InvalidRequestException,
    ResourceNotFoundException,
    SecretHasNoValueException,
    SecretNotFoundException,
    SecretsManagerClientError,
    SecretStageVersionMismatchException,
)
from moto.secretsmanager.responses import SecretsManagerResponse
from moto.secretsmanager.utils import SecretsManagerSecretIdentifier

from . import kmsuse

FakeSecret = sm_models.FakeSecret
Backend = sm_models.SecretsManagerBackend

# InvalidRequestException "The secret is scheduled for deletion" (its
# documented causes); the message is AWS's, as GetSecretValue answers it
# (aws/copilot-cli#4871: "An error occurred (InvalidRequestException) when
# calling the GetSecretValue operation: You can't perform this operation on
# the secret because it was marked for deletion.").
MARKED_FOR_DELETION = "You can't perform this operation on the secret because it was marked for deletion."


# HTTP 400 for every error: Secrets Manager is awsJson1_1 and its API Reference
# gives each error of each operation "HTTP Status Code: 400" (e.g. GetSecretValue,
# https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_GetSecretValue.html#API_GetSecretValue_Errors);
# AWS answers a missing secret "Secrets Manager can't find the specified secret.
# (Service: AWSSecretsManager; Status Code: 400; Error Code:
# ResourceNotFoundException; ...)" (as the AWS SDK for Java reports it). moto
# sent 404 for ResourceNotFoundException and for a stage/version mismatch.
_MOTO_404 = (ResourceNotFoundException, SecretNotFoundException, SecretHasNoValueException,
             SecretStageVersionMismatchException)


def _with_status_400(cls) -> None:
    original = cls.__init__

    def __init__(self, *args, **kwargs):
        original(self, *args, **kwargs)
        self.code = 400

    cls.__init__ = __init__


class _Error(SecretsManagerClientError):
    """An error code moto has no class for (EncryptionFailure, DecryptionFailure, ...)."""

    def __init__(self, code: str, message: str):
        super().__init__(code, message)


# ---------------------------------------------------------------------------
# Staging labels.
# PutSecretValue, VersionStages: "If you specify a staging label that's already
# associated with a different version of the same secret, then Secrets Manager
# removes the label from the other version and attaches it to this version. If
# you specify AWSCURRENT, and it is already attached to another version, then
# Secrets Manager also moves the staging label AWSPREVIOUS to the version that
# AWSCURRENT was removed from." UpdateSecretVersionStage: "Each staging label
# can be attached to only one version at a time."
# moto replaced all of the old current version's labels by [AWSPREVIOUS] (a
# custom label on it was lost) and left a label given with AWSCURRENT on its
# old version too; and it kept the version GetSecretValue returns in a field of
# its own, which UpdateSecretVersionStage did not move (a rollback kept
# returning the newer value). The current version is now the one labelled
# AWSCURRENT.
# ---------------------------------------------------------------------------

def _current_version_id(self) -> str | None:
    return next((vid for vid, v in self.versions.items() if "AWSCURRENT" in v["version_stages"]), None)


def _move_labels(secret, labels: list[str], to_version: str) -> None:
    """Attach labels to one version, taking them from any other; AWSCURRENT's
    old version gets AWSPREVIOUS."""
    old_current = _current_version_id(secret)
    for vid, version in secret.versions.items():
        if vid != to_version:
            version["version_stages"] = [s for s in version["version_stages"] if s not in labels]
    stages = secret.versions[to_version]["version_stages"]
    stages.extend(s for s in dict.fromkeys(labels) if s not in stages)
    if "AWSCURRENT" in labels and old_current not in (None, to_version):
        for version in secret.versions.values():
            if "AWSPREVIOUS" in version["version_stages"]:
                version["version_stages"].remove("AWSPREVIOUS")
        secret.versions[old_current]["version_stages"].append("AWSPREVIOUS")


def reset_default_version(self, secret_version: dict, version_id: str) -> None:
    labels = list(secret_version["version_stages"])
    secret_version["version_stages"] = []
    self.versions[version_id] = secret_version
    _move_labels(self, labels, version_id)


def _form_version_ids_to_stages(self) -> dict:
    # DescribeSecret, VersionIdsToStages: "A list of the versions of the secret
    # that have staging labels attached."
    return {vid: v["version_stages"] for vid, v in self.versions.items() if v["version_stages"]}


# ---------------------------------------------------------------------------
# The ARN of a new secret. The middleware authorises CreateSecret against the
# ARN the secret will have ("Secrets Manager automatically adds a hyphen and six
# random characters after the secret name at the end of the ARN", CreateSecret,
# Name), so it picks the suffix before moto creates the secret.
# ---------------------------------------------------------------------------
_hint = threading.local()
_orig_generate = SecretsManagerSecretIdentifier.generate


def hint_arn(account: str, region: str, name: str, arn: str) -> None:
    _hint.value = (account, region, name, arn)


def generate(self, existing_ids=None, tags=None) -> str:
    hint = getattr(_hint, "value", None)
    if hint and hint[:3] == (self.account_id, self.region, self.name):
        _hint.value = None
        return hint[3]
    return _orig_generate(self, existing_ids, tags)


# ---------------------------------------------------------------------------
# KMS. Secrets Manager encrypts each new version under the secret's key and
# decrypts with the key the version was encrypted under (kmsuse.py says when a
# key is refused). A refused write is EncryptionFailure ("Secrets Manager can't
# encrypt the protected secret text using the provided KMS key. Check that the
# KMS key is available, enabled, and not in an invalid state"), a refused read
# DecryptionFailure, as AWS answers a disabled key: "An error occurred
# (DecryptionFailure) when calling the GetSecretValue operation: Secrets
# Manager can't decrypt the secret value: arn:aws:kms:...:key/... is disabled.
# (Service: AWSKMS; Status Code: 400; Error Code: DisabledException; ...)"
# (AWS GovCloud (US) User Guide, root user access keys, "Issue:
# DecryptionFailure"). A caller that may not use the key gets
# AccessDeniedException "Access to KMS is not allowed" (HTTP 400, as AWS
# answers: aws/aws-cdk#7677 for CreateSecret, aws-samples/
# aws-secrets-manager-rotation-lambdas#53 for GetSecretValue). All HTTP 400
# (Secrets Manager API Reference, Common Errors).
# ---------------------------------------------------------------------------

def _kms(backend, key_ref: str | None, action: str) -> str | None:
    """The key ARN Secrets Manager used (None: aws/secretsmanager), or the error."""
    try:
        kmsuse.check_service_use(backend.account_id, backend.region_name, key_ref, action)
    except kmsuse.KmsRefusal as refusal:
        if refusal.code == "AccessDeniedException":
            raise _Error("AccessDeniedException", "Access to KMS is not allowed")
        if action == "Decrypt":
            raise _Error("DecryptionFailure", "Secrets Manager can't decrypt the secret value: "
                         + refusal.with_kms_trailer())
        raise _Error("EncryptionFailure", "Secrets Manager can't encrypt the secret value: "
                     + refusal.with_kms_trailer())
    return None if kmsuse.is_aws_managed(key_ref) else key_ref


def _record_key(backend, result: str, key_ref: str | None) -> str:
    """Remember which key encrypted the version a write created."""
    out = json.loads(result)
    secret = backend.secrets.get(out.get("ARN") or out.get("Name"))
    version = secret.versions.get(out.get("VersionId")) if secret else None
    if version is not None and "fc_kms_key" not in version:
        version["fc_kms_key"] = key_ref
    return result


def _live_secret(backend, secret_id: str):
    """The secret, which must exist and not be marked for deletion."""
    secret = backend.secrets.get(secret_id)
    if secret is None:
        raise SecretNotFoundException()
    if secret.is_deleted():
        raise InvalidRequestException(MARKED_FOR_DELETION)
    return secret


# ---------------------------------------------------------------------------
# Operations
# ---------------------------------------------------------------------------
_orig_create_secret = Backend.create_secret
_orig_put_secret_value = Backend.put_secret_value
_orig_get_secret_value = Backend.get_secret_value
_orig_delete_secret = Backend.delete_secret
_orig_tag_resource = Backend.tag_resource


def create_secret(self, name, secret_string, secret_binary, description, tags, kms_key_id,
                  client_request_token, replica_regions, force_overwrite):
    existing = self.secrets.get(name)
    if existing is not None and existing.is_deleted():
        # AWS's answer (aws/copilot-cli#655, aws-ia/terraform-aws-eks-blueprints#1733);
        # moto answered ResourceExistsException
        raise InvalidRequestException(
            "You can't create this secret because a secret with this name is already scheduled for deletion.")
    has_value = secret_string is not None or secret_binary is not None
    key = _kms(self, kms_key_id, "GenerateDataKey") if has_value and existing is None else None
    result = _orig_create_secret(self, name, secret_string, secret_binary, description, tags, kms_key_id,
                                 client_request_token, replica_regions, force_overwrite)
    return _record_key(self, result, key) if has_value else result


def put_secret_value(self, secret_id, secret_string, secret_binary, client_request_token, version_stages):
    secret = _live_secret(self, secret_id)
    key = _kms(self, secret.kms_key_id, "GenerateDataKey")
    result = _orig_put_secret_value(self, secret_id, secret_string, secret_binary,
                                    client_request_token, version_stages)
    return _record_key(self, result, key)


def _version_to_read(secret, version_id, version_stage):
    if version_id:
        return secret.versions.get(version_id)
    stage = version_stage or "AWSCURRENT"
    return next((v for v in secret.versions.values() if stage in v["version_stages"]), None)


def get_secret_value(self, secret_id, version_id, version_stage):
    secret = _live_secret(self, secret_id)
    version = _version_to_read(secret, version_id, version_stage)
    if version is None and version_stage and not version_id:
        # moto: "Secrets Manager can't find the specified secret." for a label no
        # version has; AWS names the label, as moto does for AWSCURRENT
        raise ResourceNotFoundException(
            f"Secrets Manager can't find the specified secret value for staging label: {version_stage}")
    if version is not None:
        _kms(self, version.get("fc_kms_key", secret.kms_key_id), "Decrypt")
    return _orig_get_secret_value(self, secret_id, version_id, version_stage)


def delete_secret(self, secret_id, recovery_window_in_days, force_delete_without_recovery):
    # DeleteSecret, RecoveryWindowInDays: "The number of days from 7 to 30 ...
    # You can't use both this parameter and ForceDeleteWithoutRecovery in the
    # same call." moto's messages carried a botocore-style prefix and padding.
    if recovery_window_in_days is not None and not 7 <= recovery_window_in_days <= 30:
        raise InvalidParameterException(
            "The RecoveryWindowInDays value must be between 7 and 30 days (inclusive).")
    if recovery_window_in_days and force_delete_without_recovery:
        raise InvalidParameterException(
            "You can't use ForceDeleteWithoutRecovery in conjunction with RecoveryWindowInDays.")
    secret = self.secrets.get(secret_id)
    if secret is not None and secret.is_deleted() and not force_delete_without_recovery:
        raise InvalidRequestException(MARKED_FOR_DELETION)
    return _orig_delete_secret(self, secret_id, recovery_window_in_days, force_delete_without_recovery)


def tag_resource(self, arn, tags):
    _live_secret(self, arn)
    return _orig_tag_resource(self, arn, tags)


def list_secret_version_ids(self, secret_id, include_deprecated=False, max_results=None, next_token=None):
    """ListSecretVersionIds: "ListSecretVersionIds only returns versions that
    contain a secret value"; IncludeDeprecated: "Versions without staging
    labels are considered deprecated ... By default, versions without staging
    labels aren't included." moto listed every version, answered a missing
    secret with HTTP 500 (a KeyError), gave the secret's name as its ARN and
    today as each version's CreatedDate. Pages of MaxResults (1-100, the
    model's range; 100 when absent, our choice) with an opaque NextToken."""
    secret = self.secrets.get(secret_id)
    if secret is None:
        raise SecretNotFoundException()
    versions = [
        {"VersionId": vid, "VersionStages": list(v["version_stages"]), "CreatedDate": v["createdate"]}
        for vid, v in secret.versions.items()
        if ("secret_string" in v or "secret_binary" in v) and (include_deprecated or v["version_stages"])
    ]
    start = int(next_token) if next_token and next_token.isdigit() else 0
    end = start + (max_results or 100)
    out = {"ARN": secret.arn, "Name": secret.name, "Versions": versions[start:end]}
    if end < len(versions):
        out["NextToken"] = str(end)
    return json.dumps(out)


def _list_secret_version_ids_response(self):
    return self.backend.list_secret_version_ids(
        self._get_param("SecretId"),
        include_deprecated=bool(self._get_param("IncludeDeprecated", False)),
        max_results=self._get_param("MaxResults"),
        next_token=self._get_param("NextToken"),
    )


def update_secret_version_stage(self, secret_id, version_stage, remove_from_version_id, move_to_version_id):
    """UpdateSecretVersionStage, RemoveFromVersionId: "If the staging label you
    are trying to attach to one version is already attached to a different
    version, then you must include this parameter and specify the version that
    the label is to be removed from. If the label is attached and you either do
    not specify this parameter, or the version ID does not match, then the
    operation fails." moto enforced that only for AWSCURRENT and could attach a
    label twice; moving AWSCURRENT moves AWSPREVIOUS to the version it left."""
    secret = _live_secret(self, secret_id)
    holder = next((vid for vid, v in secret.versions.items() if version_stage in v["version_stages"]), None)
    for vid in (remove_from_version_id, move_to_version_id):
        if vid and vid not in secret.versions:
            raise InvalidParameterException(f"Not a valid version: {vid}")
    if remove_from_version_id and remove_from_version_id != holder:
        raise InvalidParameterException(
            f"Version stage {version_stage} not found in version {remove_from_version_id}")
    if move_to_version_id and holder not in (None, move_to_version_id) and not remove_from_version_id:
        raise InvalidParameterException(
            f"The parameter RemoveFromVersionId can't be empty. Staging label {version_stage} is currently "
            f"attached to version {holder}, so you must explicitly reference that version in RemoveFromVersionId.")
    if move_to_version_id:
        _move_labels(secret, [version_stage], move_to_version_id)
    elif remove_from_version_id:
        secret.versions[remove_from_version_id]["version_stages"].remove(version_stage)
    return secret.arn, secret.name


def apply() -> None:
    for cls in _MOTO_404:
        _with_status_400(cls)
    FakeSecret.default_version_id = property(_current_version_id, lambda self, value: None)
    FakeSecret.reset_default_version = reset_default_version
    FakeSecret._form_version_ids_to_stages = _form_version_ids_to_stages
    SecretsManagerSecretIdentifier.generate = generate
    Backend.create_secret = create_secret
    Backend.put_secret_value = put_secret_value
    Backend.get_secret_value = get_secret_value
    Backend.delete_secret = delete_secret
    Backend.tag_resource = tag_resource
    Backend.list_secret_version_ids = list_secret_version_ids
    Backend.update_secret_version_stage = update_secret_version_stage
    SecretsManagerResponse.list_secret_version_ids = _list_secret_version_ids_response
