"""Use of a KMS key: by KMS itself, and by Secrets Manager and SSM for the caller.

Secrets Manager and Parameter Store encrypt with KMS *as the caller*:

- Secrets Manager: "To encrypt the secret with a KMS key other than
  aws/secretsmanager, you need kms:GenerateDataKey and kms:Decrypt permission
  to the key" (CreateSecret, Secrets Manager API Reference); GetSecretValue:
  "If the secret is encrypted using a customer-managed key instead of the
  Amazon Web Services managed key aws/secretsmanager, then you also need
  kms:Decrypt permissions for that key."
- Parameter Store: standard SecureString parameters "are encrypted and
  decrypted directly under the KMS key that you specify" (kms:Encrypt /
  kms:Decrypt), advanced ones with envelope encryption (kms:GenerateDataKey)
  ("AWS KMS encryption for AWS Systems Manager Parameter Store SecureString
  parameters", Systems Manager User Guide,
  https://docs.aws.amazon.com/systems-manager/latest/userguide/secure-string-parameter-kms-encryption.html).

AWS managed keys (alias/aws/secretsmanager, alias/aws/ssm) are never refused:
"All users and roles in the Amazon Web Services account automatically have
access to use aws/secretsmanager" (CreateSecret), and the aws/ssm key "has
Decrypt permission for all IAM principals within the AWS account" (Systems
Manager User Guide, "Setting up Parameter Store").

A customer managed key is refused, in this order (KMS's own checks):

1. It does not exist: NotFoundException "Key '<key ARN>' does not exist"
   (as KMS answers: boto/botocore#2107), or for an alias "Alias <alias ARN>
   is not found." (cloudposse/docs#152).
2. The caller may not use it:
   - its key policy denies every caller (POST /_fleetcert/kms/deny): IAM's
     message "... because no resource-based policy allows the kms:<Action>
     action" (hashicorp/terraform-provider-aws#42849, a real GetParameter);
   - or the caller's identity policy (iam.py) does not allow kms:<Action> on
     the key ARN: "... because no identity-based policy allows ..." (the
     default key policy delegates to IAM: "Allows access to the AWS account
     and enables IAM policies", KMS Developer Guide, "Default key policy").
3. Its key state: "DisabledException: <key ARN> is disabled." and
   "KMSInvalidStateException: <key ARN> is pending deletion." (KMS Developer
   Guide, "Key states of AWS KMS keys", table details [1] and [3],
   https://docs.aws.amazon.com/kms/latest/developerguide/key-state.html).

The caller (access key id, account, region, operation) is set by the middleware around
each call into moto, on the request's thread.
"""

from __future__ import annotations

import threading
import uuid

from . import iam, state

_caller = threading.local()


class KmsRefusal(Exception):
    """KMS refused a use of a key: code (KMS's error code) and KMS's message."""

    def __init__(self, code: str, message: str, key_arn: str | None):
        super().__init__(message)
        self.code, self.message, self.key_arn = code, message, key_arn

    def with_kms_trailer(self) -> str:
        """The message as a service that called KMS relays it (the AWS SDK for
        Java's form, as SSM answers it: "... (Service: AWSKMS; Status Code: 400;
        Error Code: NotFoundException; Request ID: ...; Proxy: null)")."""
        return (f"{self.message} (Service: AWSKMS; Status Code: 400; Error Code: {self.code}; "
                f"Request ID: {uuid.uuid4()}; Proxy: null)")


def set_caller(access_key: str | None, account: str | None, region: str | None, op: str | None) -> None:
    _caller.access_key, _caller.account, _caller.region, _caller.op = access_key, account, region, op


def caller_region() -> str | None:
    return getattr(_caller, "region", None)


def _caller_arn(account: str) -> str:
    key = getattr(_caller, "access_key", None) or account
    with state.LOCK:
        policy = state.iam_policies.get(key)
    return policy["user_arn"] if policy else f"arn:aws:iam::{account}:user/{key}"


def is_aws_managed(key_ref: str | None) -> bool:
    """A reference to an AWS managed key (alias/aws/<service>, or its alias ARN)."""
    if not key_ref:
        return True  # none given: the service's AWS managed key
    return key_ref.startswith("alias/aws/") or ":alias/aws/" in key_ref


def _backend_for(key_ref: str, account: str, region: str):
    from moto.kms.models import kms_backends

    if key_ref.startswith("arn:"):
        parts = key_ref.split(":", 5)
        if len(parts) == 6:
            region, account = parts[3], parts[4]
    return kms_backends[account][region], account, region


def resolve(account: str, region: str, key_ref: str):
    """The moto Key a key id, key ARN, alias name or alias ARN names.

    Raises KmsRefusal(NotFoundException) when there is none."""
    backend, account, region = _backend_for(key_ref, account, region)
    if key_ref.startswith("alias/") or ":alias/" in key_ref:
        alias = "alias/" + key_ref.split("alias/", 1)[1]
        key_id = next((k.id for k in backend.keys.values() if alias in k.aliases), None)
        if key_id is None:
            raise KmsRefusal("NotFoundException",
                             f"Alias arn:aws:kms:{region}:{account}:{alias} is not found.", None)
    else:
        key_id = key_ref.split(":key/", 1)[1] if ":key/" in key_ref else key_ref
    key = backend.keys.get(key_id)
    if key is None:
        raise KmsRefusal("NotFoundException",
                         f"Key 'arn:aws:kms:{region}:{account}:key/{key_id}' does not exist", None)
    return key


def key_policy_refusal(key, action: str) -> KmsRefusal | None:
    """The denial of a key whose key policy lets no caller use it."""
    with state.LOCK:
        denied = (key.account_id, key.id) in state.kms_denied
    if not denied:
        return None
    who = _caller_arn(getattr(_caller, "account", None) or key.account_id)
    return KmsRefusal("AccessDeniedException",
                      f"User: {who} is not authorized to perform: kms:{action} on resource: {key.arn} "
                      f"because no resource-based policy allows the kms:{action} action", key.arn)


def state_refusal(key) -> KmsRefusal | None:
    if key.key_state == "Disabled":
        return KmsRefusal("DisabledException", f"{key.arn} is disabled.", key.arn)
    if key.key_state == "PendingDeletion":
        return KmsRefusal("KMSInvalidStateException", f"{key.arn} is pending deletion.", key.arn)
    return None


def _identity_refusal(key, action: str) -> KmsRefusal | None:
    """The caller's identity policy, when one is set, must allow kms:<action> on the key."""
    access_key = getattr(_caller, "access_key", None)
    with state.LOCK:
        policy = state.iam_policies.get(access_key) if access_key else None
    if policy is None:
        return None
    verdict, resource = iam.authorize(policy["statements"], f"kms:{action}", [key.arn])
    if verdict == "Allow":
        return None
    message = iam.denial_message(policy["user_arn"], f"kms:{action}", resource, verdict)
    account = getattr(_caller, "account", None) or key.account_id
    with state.LOCK:
        state.denied[f"{account}/{key.region}"][f"kms:{action}"] += 1
        state.denials.append({
            "account": account, "region": key.region, "access_key_id": access_key,
            "action": f"kms:{action}", "resource": key.arn, "verdict": verdict, "message": message,
            "via": getattr(_caller, "op", None),
        })
    return KmsRefusal("AccessDeniedException", message, key.arn)


def check_service_use(account: str, region: str, key_ref: str | None, action: str) -> None:
    """Raise KmsRefusal if Secrets Manager / SSM may not use the key for the caller."""
    if is_aws_managed(key_ref):
        return
    key = resolve(account, region, key_ref)
    refusal = key_policy_refusal(key, action) or _identity_refusal(key, action) or state_refusal(key)
    if refusal:
        raise refusal


def key_ids_of(account: str, region: str, key_ref: str) -> str:
    """The key id of a reference, for the control endpoint (KmsRefusal if none)."""
    return resolve(account, region, key_ref).id
