"""The resources Secrets Manager, SSM and KMS requests act on, for iam.py.

From the Service Authorization Reference's resource types:

- Secrets Manager ("Actions, resources, and condition keys for AWS Secrets
  Manager", https://docs.aws.amazon.com/service-authorization/latest/reference/list_awssecretsmanager.html;
  also "Permissions reference for AWS Secrets Manager"): every action on a
  secret has resource type Secret, arn:aws:secretsmanager:<region>:<account>:secret:<SecretId>.
  The ARN ends in the hyphen and six random characters Secrets Manager adds
  (CreateSecret, Name: "Secrets Manager automatically adds a hyphen and six
  random characters after the secret name at the end of the ARN"), so a policy
  names secrets as ...:secret:fleetcert/<fleet>/* or ...:secret:<name>-??????.
  The request's SecretId (a name, an ARN or a partial ARN) is resolved to the
  secret's ARN; a secret that does not exist is named
  ...:secret:<SecretId> (our choice; AWS documents none). CreateSecret is
  authorised against the ARN the new secret will get: its suffix is chosen
  here and handed to moto (patches_secrets.hint_arn). ListSecrets,
  BatchGetSecretValue and GetRandomPassword have no resource type: "*".
- SSM ("... for AWS Systems Manager",
  https://docs.aws.amazon.com/service-authorization/latest/reference/list_awssystemsmanager.html):
  resource type parameter, arn:aws:ssm:<region>:<account>:parameter/<name>
  where a name that starts with "/" loses it (the ARN has one slash: the
  ARNs moto and AWS return, e.g. arn:aws:ssm:us-east-1:091144949931:parameter/GREETING
  in aws-samples/aws-workshop-for-kubernetes#250). A "name:version" or
  "name:label" selector is not part of the ARN. GetParameters and
  DeleteParameters act on each name; GetParametersByPath on the path's own
  ARN (so a policy allowing parameter/fleetcert/f/* does not allow the path
  /fleetcert/f itself); AddTagsToResource / RemoveTagsFromResource /
  ListTagsForResource of a Parameter on its ARN, other resource types "*".
  DescribeParameters: "*".
- KMS ("... for AWS Key Management Service",
  https://docs.aws.amazon.com/service-authorization/latest/reference/list_awskeymanagementservice.html):
  resource type key, arn:aws:kms:<region>:<account>:key/<key id>; an alias in
  the request is resolved to its key. Decrypt without KeyId acts on the key
  the ciphertext names. CreateAlias / UpdateAlias / DeleteAlias act on the
  alias (resource type alias) and the key. CreateKey, ListKeys, ListAliases,
  GenerateRandom: "*".
"""

from __future__ import annotations

import base64
import json
import random
import string

from . import state

_SECRETS_NO_RESOURCE = {"ListSecrets", "BatchGetSecretValue", "GetRandomPassword"}
_KMS_NO_RESOURCE = {"CreateKey", "ListKeys", "ListAliases", "GenerateRandom", "CreateCustomKeyStore",
                    "DescribeCustomKeyStores", "ListRetirableGrants"}


def _payload(body: bytes) -> dict:
    try:
        payload = json.loads(body) if body.strip() else {}
    except ValueError:
        return {}
    return payload if isinstance(payload, dict) else {}


# --- Secrets Manager --------------------------------------------------------

def _secret_arn(region: str, account: str, secret_id: str) -> str:
    from moto.secretsmanager.models import secretsmanager_backends

    with state.MOTO_LOCK:
        secret = secretsmanager_backends[account][region].secrets.get(secret_id)
    if secret is not None:
        return secret.arn
    if secret_id.startswith("arn:"):
        return secret_id
    return f"arn:aws:secretsmanager:{region}:{account}:secret:{secret_id}"


def _new_secret_arn(region: str, account: str, name: str) -> str:
    from . import patches_secrets
    from moto.secretsmanager.models import secretsmanager_backends

    with state.MOTO_LOCK:
        existing = secretsmanager_backends[account][region].secrets.get(name)
    if existing is not None:
        return existing.arn
    # moto's own suffix: six letters (SecretsManagerSecretIdentifier.generate)
    suffix = "".join(random.choice(string.ascii_letters) for _ in range(6))
    arn = f"arn:aws:secretsmanager:{region}:{account}:secret:{name}-{suffix}"
    patches_secrets.hint_arn(account, region, name, arn)
    return arn


def secrets_resources(name: str, region: str, account: str, payload: dict) -> list[str]:
    if name in _SECRETS_NO_RESOURCE:
        return ["*"]
    if name == "CreateSecret":
        secret_name = payload.get("Name")
        return [_new_secret_arn(region, account, secret_name)] if isinstance(secret_name, str) else ["*"]
    secret_id = payload.get("SecretId")
    return [_secret_arn(region, account, secret_id)] if isinstance(secret_id, str) else ["*"]


# --- SSM --------------------------------------------------------------------

def parameter_arn(region: str, account: str, name: str) -> str:
    if name.startswith("arn:"):
        prefix, _, rest = name.partition(":parameter/")
        return f"{prefix}:parameter/{rest.split(':', 1)[0]}"
    bare = name.split(":", 1)[0]  # "name:version" / "name:label"
    return f"arn:aws:ssm:{region}:{account}:parameter/{bare.lstrip('/')}"


def ssm_resources(name: str, region: str, account: str, payload: dict) -> list[str]:
    if name in ("GetParameters", "DeleteParameters"):
        names = payload.get("Names")
        if isinstance(names, list) and names and all(isinstance(n, str) for n in names):
            return [parameter_arn(region, account, n) for n in names]
        return ["*"]
    if name in ("AddTagsToResource", "RemoveTagsFromResource", "ListTagsForResource"):
        rid = payload.get("ResourceId")
        if payload.get("ResourceType") == "Parameter" and isinstance(rid, str):
            return [parameter_arn(region, account, rid)]
        return ["*"]
    member = payload.get("Path") if name == "GetParametersByPath" else payload.get("Name")
    if name.endswith(("Parameter", "ParameterHistory", "ParameterVersion", "ParametersByPath")) \
            and isinstance(member, str):
        return [parameter_arn(region, account, member)]
    return ["*"]


# --- KMS --------------------------------------------------------------------

def _key_arn(region: str, account: str, key_ref: str) -> str:
    from . import kmsuse

    with state.MOTO_LOCK:
        try:
            return kmsuse.resolve(account, region, key_ref).arn
        except kmsuse.KmsRefusal:
            pass
    if key_ref.startswith("arn:"):
        return key_ref
    if key_ref.startswith("alias/"):
        return f"arn:aws:kms:{region}:{account}:{key_ref}"
    return f"arn:aws:kms:{region}:{account}:key/{key_ref}"


def _ciphertext_key(payload: dict) -> str | None:
    """The key id a moto ciphertext starts with (moto.kms.utils: 36 bytes)."""
    try:
        blob = base64.b64decode(payload.get("CiphertextBlob") or "")
        return blob[:36].decode("ascii") if len(blob) > 36 else None
    except (ValueError, UnicodeDecodeError):
        return None


def kms_resources(name: str, region: str, account: str, payload: dict) -> list[str]:
    if name in _KMS_NO_RESOURCE:
        return ["*"]
    out = []
    alias = payload.get("AliasName")
    if name in ("CreateAlias", "UpdateAlias", "DeleteAlias") and isinstance(alias, str):
        out.append(f"arn:aws:kms:{region}:{account}:{alias}")
    key = payload.get("KeyId") or payload.get("TargetKeyId") or payload.get("DestinationKeyId")
    if key is None and name == "Decrypt":
        key = _ciphertext_key(payload)
    if isinstance(key, str):
        out.append(_key_arn(region, account, key))
    return out or ["*"]


def request_resources(op: str, region: str, account: str, body: bytes) -> list[str]:
    service, _, name = op.partition(":")
    payload = _payload(body)
    if service == "secretsmanager":
        return secrets_resources(name, region, account, payload)
    if service == "ssm":
        return ssm_resources(name, region, account, payload)
    if service == "kms":
        return kms_resources(name, region, account, payload)
    return ["*"]
