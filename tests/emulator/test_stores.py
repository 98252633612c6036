"""Secrets Manager, SSM Parameter Store and KMS through the emulator's layer.

Routing and naming, IAM enforcement, request validation and the fidelity
patches (patches_secrets.py, patches_ssm.py, patches_kms.py, kmsuse.py).
"""

from __future__ import annotations

import datetime as dt
import json
import re
import urllib.error
import urllib.request

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from conftest import REGION, make_client

FLEET = "fleetcert/f1"


def code(e: ClientError) -> str:
    return e.response["Error"]["Code"]


def fails(call, expected_code: str, status: int = 400) -> ClientError:
    with pytest.raises(ClientError) as e:
        call()
    assert code(e.value) == expected_code, e.value.response
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == status
    return e.value


def message(e: ClientError) -> str:
    return e.response["Error"]["Message"]


def raw_client(emulator, service, account):
    """A client that sends what it is given: the server-side checks answer."""
    return boto3.client(
        service, endpoint_url=emulator.url, region_name=REGION,
        aws_access_key_id=account, aws_secret_access_key="test-secret",
        config=Config(parameter_validation=False, retries={"total_max_attempts": 1}),
    )


@pytest.fixture
def sm(emulator, account):
    return make_client(emulator, "secretsmanager", account)


@pytest.fixture
def ssm(emulator, account):
    return make_client(emulator, "ssm", account)


@pytest.fixture
def kms(emulator, account):
    return make_client(emulator, "kms", account)


@pytest.fixture(autouse=True)
def _clear_policy(emulator, account):
    yield
    emulator.control("iam/policy/clear", {"access_key_id": account})


def set_policy(emulator, account, *statements):
    emulator.control("iam/policy", {"access_key_id": account,
                                    "policy": {"Version": "2012-10-17", "Statement": list(statements)}})


def allow(action, resource, effect="Allow"):
    return {"Effect": effect, "Action": action, "Resource": resource}


def stages(sm, secret_id, **kw) -> dict[str, list[str]]:
    """VersionId -> labels, from ListSecretVersionIds."""
    return {v["VersionId"]: sorted(v["VersionStages"])
            for v in sm.list_secret_version_ids(SecretId=secret_id, **kw)["Versions"]}


TOKEN_A, TOKEN_B, TOKEN_C = "a" * 32, "b" * 32, "c" * 32


# ---------------------------------------------------------------------------
# Routing, naming and the layer
# ---------------------------------------------------------------------------

def test_operation_names_counters_and_writes(emulator, sm, ssm, kms, account):
    sm.create_secret(Name=f"{FLEET}/dev")
    ssm.put_parameter(Name=f"/{FLEET}/dev", Value="v", Type="SecureString")
    key = kms.create_key()["KeyMetadata"]["KeyId"]
    kms.encrypt(KeyId=key, Plaintext=b"x")
    ssm.get_parameter(Name=f"/{FLEET}/dev", WithDecryption=True)
    counters = emulator.control("counters")[f"{account}/{REGION}"]
    for op in ("secretsmanager:CreateSecret", "ssm:PutParameter", "ssm:GetParameter", "kms:CreateKey", "kms:Encrypt"):
        assert counters[op] == 1, counters
    writes = [w["operation"] for w in emulator.control("writes") if w["account"] == account]
    # KMS's cryptographic operations change nothing: not in the writes log
    assert writes == ["secretsmanager:CreateSecret", "ssm:PutParameter", "kms:CreateKey"]


def test_fail_requests_and_the_awsjson_error_shape(emulator, sm):
    sm.create_secret(Name=f"{FLEET}/dev", SecretString="v")
    emulator.control("config", {"fail_requests": [{
        "operation": "secretsmanager:GetSecretValue", "code": "InternalServiceError", "status": 500, "times": 1}]})
    try:
        e = fails(lambda: sm.get_secret_value(SecretId=f"{FLEET}/dev"), "InternalServiceError", 500)
        assert e.response["ResponseMetadata"]["HTTPHeaders"]["content-type"] == "application/x-amz-json-1.1"
        assert sm.get_secret_value(SecretId=f"{FLEET}/dev")["SecretString"] == "v"
    finally:
        emulator.control("config", {"fail_requests": []})


def test_quotas_throttle_store_operations(emulator, ssm):
    emulator.control("config", {"quotas": {"ssm:PutParameter": 1}, "quota_clock": "test"})
    ssm.put_parameter(Name="/q/a", Value="v", Type="String")
    e = fails(lambda: ssm.put_parameter(Name="/q/b", Value="v", Type="String"), "ThrottlingException")
    assert message(e) == "Rate exceeded"


def test_requests_are_validated_against_the_models(emulator, account):
    sm = raw_client(emulator, "secretsmanager", account)
    e = fails(lambda: sm.create_secret(Name="x", SecretString="v", ClientRequestToken="short"), "ValidationException")
    assert message(e) == ("1 validation error detected: Value 'short' at 'clientRequestToken' failed to satisfy "
                          "constraint: Member must have length greater than or equal to 32")
    # SecretString is sensitive: its value is not echoed
    e = fails(lambda: sm.create_secret(Name="x", SecretString="s" * 65537), "ValidationException")
    assert message(e) == ("1 validation error detected: Value at 'secretString' failed to satisfy constraint: "
                          "Member must have length less than or equal to 65536")
    sm.create_secret(Name="x", SecretString="s" * 65536)
    ssm = raw_client(emulator, "ssm", account)
    e = fails(lambda: ssm.get_parameter_history(Name="/x", MaxResults=51), "ValidationException")
    assert "Value '51' at 'maxResults'" in message(e)
    kms = raw_client(emulator, "kms", account)
    e = fails(lambda: kms.generate_data_key(KeyId="alias/x", NumberOfBytes=2000), "ValidationException")
    assert "Member must have value less than or equal to 1024" in message(e)
    assert emulator.control("counters")["invalid"][f"{account}/{REGION}"] == {
        "secretsmanager:CreateSecret": 2, "ssm:GetParameterHistory": 1, "kms:GenerateDataKey": 1}


# ---------------------------------------------------------------------------
# IAM enforcement
# ---------------------------------------------------------------------------

def secret_glob(account, path):
    return f"arn:aws:secretsmanager:{REGION}:{account}:secret:{path}"


def test_secrets_manager_policy_on_the_fleet_prefix(emulator, sm, account):
    set_policy(emulator, account,
               allow(["secretsmanager:CreateSecret", "secretsmanager:GetSecretValue"],
                     secret_glob(account, f"{FLEET}/*")),
               allow("secretsmanager:DescribeSecret", secret_glob(account, "fleetcert/f2/dev-??????")))
    arn = sm.create_secret(Name=f"{FLEET}/dev", SecretString="v")["ARN"]
    assert sm.get_secret_value(SecretId=arn)["SecretString"] == "v"
    e = fails(lambda: sm.create_secret(Name="fleetcert/f2/dev", SecretString="v"), "AccessDeniedException")
    # authorised against the ARN the secret would get: name, hyphen, six characters
    m = re.search(r"on resource: (\S+) because no identity-based policy allows the "
                  r"secretsmanager:CreateSecret action$", message(e))
    assert m and re.fullmatch(secret_glob(account, r"fleetcert/f2/dev-[A-Za-z]{6}"), m.group(1)), message(e)
    assert message(e).startswith(f"User: arn:aws:iam::{account}:user/{account} is not authorized to perform: "
                                 "secretsmanager:CreateSecret")
    # the ARN authorised is the ARN created
    resources = emulator.control("counters")["resources"][f"{account}/{REGION}"]
    assert list(resources["secretsmanager:CreateSecret"]) == [arn, m.group(1)]
    # a -?????? policy matches the suffix; ListSecrets has no resource type
    set_policy(emulator, account, allow("secretsmanager:*", secret_glob(account, f"{FLEET}/dev-??????")))
    sm.describe_secret(SecretId=f"{FLEET}/dev")
    e = fails(lambda: sm.list_secrets(), "AccessDeniedException")
    assert "secretsmanager:ListSecrets on resource: * because" in message(e)


def test_ssm_policy_on_parameter_arns(emulator, ssm, account):
    arn = f"arn:aws:ssm:{REGION}:{account}:parameter/{FLEET}"
    set_policy(emulator, account,
               allow(["ssm:PutParameter", "ssm:GetParameters"], f"{arn}/*"),
               allow("ssm:GetParameter", f"{arn}/dev"))
    ssm.put_parameter(Name=f"/{FLEET}/dev", Value="v", Type="SecureString")
    # a version selector is not part of the ARN
    assert ssm.get_parameter(Name=f"/{FLEET}/dev:1", WithDecryption=True)["Parameter"]["Value"] == "v"
    e = fails(lambda: ssm.put_parameter(Name="/fleetcert/f2/dev", Value="v", Type="String"),
              "AccessDeniedException")
    # one slash after "parameter": the name's leading "/" is not doubled
    assert f"ssm:PutParameter on resource: arn:aws:ssm:{REGION}:{account}:parameter/fleetcert/f2/dev because" \
        in message(e)
    fails(lambda: ssm.get_parameters(Names=[f"/{FLEET}/dev", "/fleetcert/f2/dev"]), "AccessDeniedException")
    # GetParametersByPath acts on the path's own ARN
    set_policy(emulator, account, allow("ssm:GetParametersByPath", f"{arn}/*"))
    e = fails(lambda: ssm.get_parameters_by_path(Path=f"/{FLEET}"), "AccessDeniedException")
    assert f"on resource: {arn} because" in message(e)
    set_policy(emulator, account, allow("ssm:GetParametersByPath", f"{arn}*"))
    assert [p["Name"] for p in ssm.get_parameters_by_path(Path=f"/{FLEET}")["Parameters"]] == [f"/{FLEET}/dev"]


def test_kms_policy_on_key_arns_through_aliases(emulator, kms, account):
    key_a = kms.create_key()["KeyMetadata"]
    key_b = kms.create_key()["KeyMetadata"]
    kms.create_alias(AliasName="alias/fleet", TargetKeyId=key_a["KeyId"])
    set_policy(emulator, account, allow(["kms:Encrypt", "kms:Decrypt"], key_a["Arn"]))
    blob = kms.encrypt(KeyId="alias/fleet", Plaintext=b"x")["CiphertextBlob"]  # the alias's key
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"x"  # the ciphertext's key
    e = fails(lambda: kms.encrypt(KeyId=key_b["KeyId"], Plaintext=b"x"), "AccessDeniedException")
    assert f"kms:Encrypt on resource: {key_b['Arn']} because" in message(e)
    fails(lambda: kms.create_key(), "AccessDeniedException")  # no resource type: "*"


def test_secrets_manager_uses_a_customer_key_as_the_caller(emulator, sm, kms, account):
    key = kms.create_key()["KeyMetadata"]
    sm.create_secret(Name=f"{FLEET}/default", SecretString="v")
    sm.create_secret(Name=f"{FLEET}/cmk", SecretString="v", KmsKeyId=key["Arn"])
    actions = ["secretsmanager:PutSecretValue", "secretsmanager:GetSecretValue"]
    set_policy(emulator, account, allow(actions, "*"))
    # aws/secretsmanager: every principal of the account may use it through the service
    sm.put_secret_value(SecretId=f"{FLEET}/default", SecretString="v2")
    e = fails(lambda: sm.put_secret_value(SecretId=f"{FLEET}/cmk", SecretString="v2"), "AccessDeniedException")
    assert message(e) == "Access to KMS is not allowed"
    fails(lambda: sm.get_secret_value(SecretId=f"{FLEET}/cmk"), "AccessDeniedException")
    set_policy(emulator, account, allow(actions, "*"), allow(["kms:GenerateDataKey", "kms:Decrypt"], key["Arn"]))
    sm.put_secret_value(SecretId=f"{FLEET}/cmk", SecretString="v2")
    assert sm.get_secret_value(SecretId=f"{FLEET}/cmk")["SecretString"] == "v2"
    mine = [(d["action"], d["resource"], d["via"]) for d in emulator.control("iam/denials")
            if d["account"] == account]
    assert mine == [("kms:GenerateDataKey", key["Arn"], "secretsmanager:PutSecretValue"),
                    ("kms:Decrypt", key["Arn"], "secretsmanager:GetSecretValue")]


def test_ssm_uses_a_customer_key_as_the_caller(emulator, ssm, kms, account):
    key = kms.create_key()["KeyMetadata"]
    set_policy(emulator, account, allow(["ssm:PutParameter", "ssm:GetParameter"], "*"))
    ssm.put_parameter(Name="/p/default", Value="v", Type="SecureString")  # alias/aws/ssm
    e = fails(lambda: ssm.put_parameter(Name="/p/cmk", Value="v", Type="SecureString", KeyId=key["KeyId"]),
              "AccessDeniedException")
    assert message(e).startswith(
        f"User: arn:aws:iam::{account}:user/{account} is not authorized to perform: kms:Encrypt on resource: "
        f"{key['Arn']} because no identity-based policy allows the kms:Encrypt action (Service: AWSKMS; "
        "Status Code: 400; Error Code: AccessDeniedException; Request ID: ")
    # an advanced parameter is envelope-encrypted: kms:GenerateDataKey
    set_policy(emulator, account, allow(["ssm:PutParameter", "ssm:GetParameter"], "*"),
               allow("kms:GenerateDataKey", key["Arn"]))
    ssm.put_parameter(Name="/p/cmk", Value="v", Type="SecureString", KeyId=key["KeyId"], Tier="Advanced")
    assert ssm.get_parameter(Name="/p/cmk")["Parameter"]["Value"] != "v"  # no decryption asked
    e = fails(lambda: ssm.get_parameter(Name="/p/cmk", WithDecryption=True), "AccessDeniedException")
    assert "kms:Decrypt on resource" in message(e)


# ---------------------------------------------------------------------------
# Secrets Manager
# ---------------------------------------------------------------------------

def test_create_secret_without_a_value_has_no_version(sm):
    sm.create_secret(Name=f"{FLEET}/dev", Tags=[{"Key": "fleet", "Value": "f1"}])
    described = sm.describe_secret(SecretId=f"{FLEET}/dev")
    assert "VersionIdsToStages" not in described
    assert described["Tags"] == [{"Key": "fleet", "Value": "f1"}]
    assert sm.list_secret_version_ids(SecretId=f"{FLEET}/dev")["Versions"] == []
    e = fails(lambda: sm.get_secret_value(SecretId=f"{FLEET}/dev"), "ResourceNotFoundException")
    assert message(e) == "Secrets Manager can't find the specified secret value for staging label: AWSCURRENT"
    sm.tag_resource(SecretId=f"{FLEET}/dev", Tags=[{"Key": "device", "Value": "dev"}])
    assert len(sm.describe_secret(SecretId=f"{FLEET}/dev")["Tags"]) == 2


def test_custom_label_does_not_move_awscurrent(sm):
    name = f"{FLEET}/dev"
    sm.create_secret(Name=name)
    # the first version gets AWSCURRENT whatever its labels
    first = sm.put_secret_value(SecretId=name, SecretString="v1", VersionStages=["PENDING"],
                                ClientRequestToken=TOKEN_A)
    assert sorted(first["VersionStages"]) == ["AWSCURRENT", "PENDING"]
    sm.put_secret_value(SecretId=name, SecretString="v2", VersionStages=["PENDING"], ClientRequestToken=TOKEN_B)
    # PENDING moved to the new version; AWSCURRENT stayed
    assert stages(sm, name) == {TOKEN_A: ["AWSCURRENT"], TOKEN_B: ["PENDING"]}
    assert sm.get_secret_value(SecretId=name)["SecretString"] == "v1"
    assert sm.get_secret_value(SecretId=name, VersionStage="PENDING")["SecretString"] == "v2"


def test_put_without_stages_moves_awscurrent_and_keeps_other_labels(sm):
    name = f"{FLEET}/dev"
    sm.create_secret(Name=name, SecretString="v1", ClientRequestToken=TOKEN_A)
    sm.update_secret_version_stage(SecretId=name, VersionStage="KEEP", MoveToVersionId=TOKEN_A)
    sm.put_secret_value(SecretId=name, SecretString="v2", ClientRequestToken=TOKEN_B)
    # the old version keeps its own label (moto replaced them all by AWSPREVIOUS)
    assert stages(sm, name) == {TOKEN_A: ["AWSPREVIOUS", "KEEP"], TOKEN_B: ["AWSCURRENT"]}
    sm.put_secret_value(SecretId=name, SecretString="v3", ClientRequestToken=TOKEN_C)
    assert stages(sm, name) == {TOKEN_A: ["KEEP"], TOKEN_B: ["AWSPREVIOUS"], TOKEN_C: ["AWSCURRENT"]}
    assert sm.get_secret_value(SecretId=name)["SecretString"] == "v3"
    assert sm.get_secret_value(SecretId=name, VersionStage="AWSPREVIOUS")["SecretString"] == "v2"
    # a label given with AWSCURRENT leaves the version that had it
    sm.put_secret_value(SecretId=name, SecretString="v4", VersionStages=["AWSCURRENT", "KEEP"],
                        ClientRequestToken="d" * 32)
    assert stages(sm, name, IncludeDeprecated=True) == {
        TOKEN_A: [], TOKEN_B: [], TOKEN_C: ["AWSPREVIOUS"], "d" * 32: ["AWSCURRENT", "KEEP"]}


def test_client_request_token_is_idempotent(sm):
    name = f"{FLEET}/dev"
    sm.create_secret(Name=name, SecretString="v1", ClientRequestToken=TOKEN_A)
    again = sm.create_secret(Name=name, SecretString="v1", ClientRequestToken=TOKEN_A)
    assert again["VersionId"] == TOKEN_A
    sm.put_secret_value(SecretId=name, SecretString="v2", ClientRequestToken=TOKEN_B)
    replay = sm.put_secret_value(SecretId=name, SecretString="v2", ClientRequestToken=TOKEN_B)
    assert replay["VersionId"] == TOKEN_B
    assert len(stages(sm, name)) == 2  # no new version
    e = fails(lambda: sm.put_secret_value(SecretId=name, SecretString="other", ClientRequestToken=TOKEN_B),
              "ResourceExistsException")
    assert TOKEN_B in message(e)
    fails(lambda: sm.create_secret(Name=name, SecretString="v1"), "ResourceExistsException")


def test_update_secret_version_stage_rolls_back(sm):
    name = f"{FLEET}/dev"
    sm.create_secret(Name=name, SecretString="v1", ClientRequestToken=TOKEN_A)
    sm.put_secret_value(SecretId=name, SecretString="v2", ClientRequestToken=TOKEN_B)
    sm.update_secret_version_stage(SecretId=name, VersionStage="AWSCURRENT",
                                   MoveToVersionId=TOKEN_A, RemoveFromVersionId=TOKEN_B)
    # GetSecretValue follows the label (moto kept returning v2)
    assert sm.get_secret_value(SecretId=name)["SecretString"] == "v1"
    assert stages(sm, name) == {TOKEN_A: ["AWSCURRENT"], TOKEN_B: ["AWSPREVIOUS"]}
    e = fails(lambda: sm.update_secret_version_stage(SecretId=name, VersionStage="AWSPREVIOUS",
                                                     MoveToVersionId=TOKEN_A), "InvalidParameterException")
    assert f"Staging label AWSPREVIOUS is currently attached to version {TOKEN_B}" in message(e)
    fails(lambda: sm.update_secret_version_stage(SecretId=name, VersionStage="AWSPREVIOUS",
                                                 MoveToVersionId=TOKEN_A, RemoveFromVersionId=TOKEN_A),
          "InvalidParameterException")
    # removing the last label deprecates the version: listed only with IncludeDeprecated
    sm.update_secret_version_stage(SecretId=name, VersionStage="AWSPREVIOUS", RemoveFromVersionId=TOKEN_B)
    assert stages(sm, name) == {TOKEN_A: ["AWSCURRENT"]}
    assert stages(sm, name, IncludeDeprecated=True) == {TOKEN_A: ["AWSCURRENT"], TOKEN_B: []}
    assert list(sm.describe_secret(SecretId=name)["VersionIdsToStages"]) == [TOKEN_A]


def test_list_secret_version_ids(sm):
    name = f"{FLEET}/dev"
    arn = sm.create_secret(Name=name, SecretString="v1", ClientRequestToken=TOKEN_A)["ARN"]
    sm.put_secret_value(SecretId=name, SecretString="v2", ClientRequestToken=TOKEN_B)
    page = sm.list_secret_version_ids(SecretId=name, MaxResults=1)
    assert page["ARN"] == arn and page["Name"] == name
    rest = sm.list_secret_version_ids(SecretId=name, MaxResults=1, NextToken=page["NextToken"])
    assert [v["VersionId"] for v in page["Versions"] + rest["Versions"]] == [TOKEN_A, TOKEN_B]
    assert "NextToken" not in rest
    fails(lambda: sm.list_secret_version_ids(SecretId=f"{FLEET}/none"), "ResourceNotFoundException")


def test_get_secret_value_by_stage(sm):
    name = f"{FLEET}/dev"
    sm.create_secret(Name=name, SecretString="v1")
    e = fails(lambda: sm.get_secret_value(SecretId=name, VersionStage="NOPE"), "ResourceNotFoundException")
    assert message(e) == "Secrets Manager can't find the specified secret value for staging label: NOPE"


def test_delete_secret_with_a_recovery_window(sm):
    name = f"{FLEET}/dev"
    sm.create_secret(Name=name, SecretString="v1")
    fails(lambda: sm.delete_secret(SecretId=name, RecoveryWindowInDays=6), "InvalidParameterException")
    e = fails(lambda: sm.delete_secret(SecretId=name, RecoveryWindowInDays=7, ForceDeleteWithoutRecovery=True),
              "InvalidParameterException")
    assert message(e) == "You can't use ForceDeleteWithoutRecovery in conjunction with RecoveryWindowInDays."
    before = dt.datetime.now(dt.timezone.utc)
    deletion = sm.delete_secret(SecretId=name, RecoveryWindowInDays=7)["DeletionDate"]
    assert dt.timedelta(days=7) - dt.timedelta(minutes=1) < deletion - before < dt.timedelta(days=7, minutes=1)
    assert sm.describe_secret(SecretId=name)["DeletedDate"] == deletion
    marked = "You can't perform this operation on the secret because it was marked for deletion."
    for call in (lambda: sm.get_secret_value(SecretId=name),
                 lambda: sm.put_secret_value(SecretId=name, SecretString="v2"),
                 lambda: sm.delete_secret(SecretId=name),
                 lambda: sm.tag_resource(SecretId=name, Tags=[{"Key": "k", "Value": "v"}]),
                 lambda: sm.update_secret_version_stage(SecretId=name, VersionStage="X", MoveToVersionId=TOKEN_A)):
        assert message(fails(call, "InvalidRequestException")) == marked
    e = fails(lambda: sm.create_secret(Name=name, SecretString="v"), "InvalidRequestException")
    assert message(e) == ("You can't create this secret because a secret with this name is already "
                          "scheduled for deletion.")
    sm.delete_secret(SecretId=name, ForceDeleteWithoutRecovery=True)
    fails(lambda: sm.describe_secret(SecretId=name), "ResourceNotFoundException")
    sm.create_secret(Name=name, SecretString="again")


def test_secret_under_a_disabled_or_missing_key(sm, kms, account):
    key = kms.create_key()["KeyMetadata"]
    name = f"{FLEET}/dev"
    sm.create_secret(Name=name, SecretString="v1", KmsKeyId=key["KeyId"])
    kms.disable_key(KeyId=key["KeyId"])
    e = fails(lambda: sm.get_secret_value(SecretId=name), "DecryptionFailure")
    assert message(e).startswith(f"Secrets Manager can't decrypt the secret value: {key['Arn']} is disabled. "
                                 "(Service: AWSKMS; Status Code: 400; Error Code: DisabledException; Request ID: ")
    e = fails(lambda: sm.put_secret_value(SecretId=name, SecretString="v2"), "EncryptionFailure")
    assert f"{key['Arn']} is disabled." in message(e)
    fails(lambda: sm.create_secret(Name=f"{FLEET}/other", SecretString="v", KmsKeyId=key["Arn"]),
          "EncryptionFailure")
    kms.enable_key(KeyId=key["KeyId"])
    assert sm.get_secret_value(SecretId=name)["SecretString"] == "v1"
    missing = f"arn:aws:kms:{REGION}:{account}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    e = fails(lambda: sm.create_secret(Name=f"{FLEET}/x", SecretString="v", KmsKeyId=missing), "EncryptionFailure")
    assert f"Key '{missing}' does not exist (Service: AWSKMS;" in message(e)
    fails(lambda: sm.describe_secret(SecretId=f"{FLEET}/x"), "ResourceNotFoundException")  # not created


def test_secret_under_a_key_the_caller_may_not_use(emulator, sm, kms, account):
    key = kms.create_key()["KeyMetadata"]
    kms.create_alias(AliasName="alias/fleet", TargetKeyId=key["KeyId"])
    name = f"{FLEET}/dev"
    sm.create_secret(Name=name, SecretString="v1", KmsKeyId="alias/fleet")
    denied = emulator.control("kms/deny", {"account": account, "key_id": "alias/fleet", "region": REGION})
    assert denied == {"ok": True, "account": account, "key_id": key["KeyId"], "denied": True}
    assert {"account": account, "key_id": key["KeyId"]} in emulator.control("kms/deny")
    e = fails(lambda: sm.get_secret_value(SecretId=name), "AccessDeniedException")
    assert message(e) == "Access to KMS is not allowed"
    fails(lambda: sm.put_secret_value(SecretId=name, SecretString="v2"), "AccessDeniedException")
    emulator.control("kms/deny/clear", {"account": account, "key_id": key["Arn"]})
    assert sm.get_secret_value(SecretId=name)["SecretString"] == "v1"


# ---------------------------------------------------------------------------
# SSM Parameter Store
# ---------------------------------------------------------------------------

def test_parameter_versions_labels_and_history(ssm):
    name = f"/{FLEET}/dev"
    assert ssm.put_parameter(Name=name, Value="v1", Type="SecureString")["Version"] == 1
    e = fails(lambda: ssm.put_parameter(Name=name, Value="v2", Type="SecureString"), "ParameterAlreadyExists")
    assert message(e) == ("The parameter already exists. To overwrite this value, set the overwrite option in "
                          "the request to true.")
    assert ssm.put_parameter(Name=name, Value="v2", Type="SecureString", Overwrite=True)["Version"] == 2
    got = ssm.get_parameter(Name=name, WithDecryption=True)["Parameter"]
    assert (got["Value"], got["Version"], got["Type"]) == ("v2", 2, "SecureString")
    assert ssm.get_parameter(Name=name)["Parameter"]["Value"] != "v2"  # not decrypted
    assert ssm.get_parameter(Name=f"{name}:1", WithDecryption=True)["Parameter"]["Value"] == "v1"
    fails(lambda: ssm.get_parameter(Name=f"{name}:9"), "ParameterVersionNotFound")
    ssm.label_parameter_version(Name=name, ParameterVersion=1, Labels=["good"])
    assert ssm.get_parameter(Name=f"{name}:good", WithDecryption=True)["Parameter"]["Value"] == "v1"
    ssm.label_parameter_version(Name=name, ParameterVersion=2, Labels=["good"])  # a label moves
    history = ssm.get_parameter_history(Name=name, WithDecryption=True)["Parameters"]
    assert [(h["Version"], h["Value"], h["Labels"], h["KeyId"]) for h in history] == [
        (1, "v1", [], "alias/aws/ssm"), (2, "v2", ["good"], "alias/aws/ssm")]
    ssm.delete_parameter(Name=name)
    fails(lambda: ssm.get_parameter(Name=name), "ParameterNotFound")
    fails(lambda: ssm.delete_parameter(Name=name), "ParameterNotFound")


def test_parameter_tiers_and_sizes(ssm):
    ssm.put_parameter(Name="/t/std", Value="x" * 4096, Type="SecureString")
    e = fails(lambda: ssm.put_parameter(Name="/t/big", Value="x" * 4097, Type="SecureString"), "ValidationException")
    assert message(e).startswith("Standard tier parameters support a maximum parameter value of 4096 characters.")
    # counted in bytes: 2049 two-byte characters are 4098 bytes
    fails(lambda: ssm.put_parameter(Name="/t/big", Value="é" * 2049, Type="String"), "ValidationException")
    assert ssm.put_parameter(Name="/t/adv", Value="x" * 8192, Type="SecureString", Tier="Advanced")["Tier"] == "Advanced"
    fails(lambda: ssm.put_parameter(Name="/t/huge", Value="x" * 8193, Type="SecureString", Tier="Advanced"),
          "ValidationException")
    # Intelligent-Tiering picks the tier the value needs
    assert ssm.put_parameter(Name="/t/it1", Value="x", Type="String", Tier="Intelligent-Tiering")["Tier"] == "Standard"
    assert ssm.put_parameter(Name="/t/it2", Value="x" * 5000, Type="String",
                             Tier="Intelligent-Tiering")["Tier"] == "Advanced"
    # an advanced parameter stays advanced
    assert ssm.put_parameter(Name="/t/adv", Value="y", Overwrite=True)["Tier"] == "Advanced"
    fails(lambda: ssm.put_parameter(Name="/t/adv", Value="y", Overwrite=True, Tier="Standard"), "ValidationException")


def test_parameter_tags_and_overwrite(ssm):
    tags = [{"Key": "fleet", "Value": "f1"}]
    ssm.put_parameter(Name="/p/x", Value="v", Type="String", Tags=tags)
    assert ssm.list_tags_for_resource(ResourceType="Parameter", ResourceId="/p/x")["TagList"] == tags
    e = fails(lambda: ssm.put_parameter(Name="/p/x", Value="v2", Type="String", Overwrite=True, Tags=tags),
              "ValidationException")
    assert "tags and overwrite can't be used together" in message(e)


def test_parameter_under_a_customer_key(emulator, ssm, kms, account):
    key = kms.create_key()["KeyMetadata"]
    ssm.put_parameter(Name="/k/p", Value="v", Type="SecureString", KeyId=key["KeyId"])
    assert ssm.get_parameter(Name="/k/p", WithDecryption=True)["Parameter"]["Value"] == "v"
    assert ssm.get_parameter_history(Name="/k/p")["Parameters"][0]["KeyId"] == key["KeyId"]
    kms.disable_key(KeyId=key["KeyId"])
    e = fails(lambda: ssm.get_parameter(Name="/k/p", WithDecryption=True), "InvalidKeyId")
    assert message(e).startswith(f"{key['Arn']} is disabled. (Service: AWSKMS; Status Code: 400; "
                                 "Error Code: DisabledException; Request ID: ")
    fails(lambda: ssm.get_parameter_history(Name="/k/p", WithDecryption=True), "InvalidKeyId")
    ssm.get_parameter(Name="/k/p")  # the ciphertext needs no key
    fails(lambda: ssm.put_parameter(Name="/k/p", Value="v2", Type="SecureString", Overwrite=True), "InvalidKeyId")
    kms.enable_key(KeyId=key["KeyId"])
    e = fails(lambda: ssm.put_parameter(Name="/k/q", Value="v", Type="SecureString", KeyId="alias/none"),
              "InvalidKeyId")
    assert message(e).startswith(f"Alias arn:aws:kms:{REGION}:{account}:alias/none is not found. (Service: AWSKMS;")
    missing = "1234abcd-12ab-34cd-56ef-1234567890ab"
    e = fails(lambda: ssm.put_parameter(Name="/k/q", Value="v", Type="SecureString", KeyId=missing), "InvalidKeyId")
    assert f"Key 'arn:aws:kms:{REGION}:{account}:key/{missing}' does not exist" in message(e)
    emulator.control("kms/deny", {"account": account, "key_id": key["KeyId"]})
    e = fails(lambda: ssm.get_parameter(Name="/k/p", WithDecryption=True), "AccessDeniedException")
    assert f"kms:Decrypt on resource: {key['Arn']} because no resource-based policy allows the kms:Decrypt " \
           "action (Service: AWSKMS;" in message(e)


def test_hundred_versions_limit(ssm):
    name = "/v/p"
    for n in range(1, 101):
        ssm.put_parameter(Name=name, Value=f"v{n}", Type="String", Overwrite=n > 1)
    ssm.label_parameter_version(Name=name, ParameterVersion=1, Labels=["first"])
    e = fails(lambda: ssm.put_parameter(Name=name, Value="v101", Overwrite=True), "ParameterMaxVersionLimitExceeded")
    assert "Version 1, the oldest version, can't be deleted because it has a label" in message(e)
    ssm.label_parameter_version(Name=name, ParameterVersion=2, Labels=["first"])
    assert ssm.put_parameter(Name=name, Value="v101", Overwrite=True)["Version"] == 101
    fails(lambda: ssm.get_parameter(Name=f"{name}:1"), "ParameterVersionNotFound")  # the oldest went


# ---------------------------------------------------------------------------
# KMS
# ---------------------------------------------------------------------------

def test_kms_key_states(kms):
    key = kms.create_key()["KeyMetadata"]
    blob = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"x")["CiphertextBlob"]
    kms.disable_key(KeyId=key["KeyId"])
    for call in (lambda: kms.encrypt(KeyId=key["KeyId"], Plaintext=b"x"),
                 lambda: kms.decrypt(CiphertextBlob=blob),
                 lambda: kms.generate_data_key(KeyId=key["Arn"], KeySpec="AES_256")):
        assert message(fails(call, "DisabledException")) == f"{key['Arn']} is disabled."
    kms.enable_key(KeyId=key["KeyId"])
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"x"
    kms.schedule_key_deletion(KeyId=key["KeyId"], PendingWindowInDays=7)
    e = fails(lambda: kms.encrypt(KeyId=key["KeyId"], Plaintext=b"x"), "KMSInvalidStateException")
    assert message(e) == f"{key['Arn']} is pending deletion."
    assert kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]["KeyState"] == "PendingDeletion"


def test_kms_deny_control(emulator, kms, account):
    key = kms.create_key()["KeyMetadata"]
    emulator.control("kms/deny", {"account": account, "key_id": key["Arn"]})
    e = fails(lambda: kms.generate_data_key(KeyId=key["KeyId"], KeySpec="AES_256"), "AccessDeniedException")
    assert message(e) == (f"User: arn:aws:iam::{account}:user/{account} is not authorized to perform: "
                          f"kms:GenerateDataKey on resource: {key['Arn']} because no resource-based policy "
                          "allows the kms:GenerateDataKey action")
    kms.describe_key(KeyId=key["KeyId"])  # only cryptographic use is refused
    other = kms.create_key()["KeyMetadata"]
    kms.encrypt(KeyId=other["KeyId"], Plaintext=b"x")
    emulator.control("reset", {})
    kms2 = make_client(emulator, "kms", account)
    assert emulator.control("kms/deny") == []
    assert kms2.list_keys()["Keys"] == []


@pytest.mark.parametrize("body, error", [
    ({"key_id": "x"}, "kms/deny takes"),
    ({"account": "111122223333", "key_id": "alias/x"}, "needs the region"),
    ({"account": "111122223333", "key_id": "alias/x", "region": REGION}, "is not found"),
])
def test_kms_deny_control_refuses_bad_bodies(emulator, body, error):
    req = urllib.request.Request(emulator.url + "/_fleetcert/kms/deny", method="POST",
                                 data=json.dumps(body).encode())
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(req, timeout=10)
    assert e.value.code == 400
    assert error in json.loads(e.value.read())["error"]
