"""IAM enforcement (fleetcert_emulator/iam.py): identity policies per access key id."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest
from botocore.exceptions import ClientError

from conftest import REGION, create_root_ca, issue
from test_iot import register_ca


def code(exc: ClientError) -> str:
    return exc.response["Error"]["Code"]


def thing_arn(account: str, name: str) -> str:
    return f"arn:aws:iot:{REGION}:{account}:thing/{name}"


def allow(action, resource, effect="Allow"):
    return {"Effect": effect, "Action": action, "Resource": resource}


def set_policy(emulator, account, *statements, user=None):
    body = {"access_key_id": account, "policy": {"Version": "2012-10-17", "Statement": list(statements)}}
    if user:
        body["user"] = user
    return emulator.control("iam/policy", body)


@pytest.fixture(autouse=True)
def _clear_policy(emulator, account):
    yield
    emulator.control("iam/policy/clear", {"access_key_id": account})


def denied(call) -> ClientError:
    with pytest.raises(ClientError) as e:
        call()
    assert code(e.value) == "AccessDeniedException", e.value.response
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    return e.value


def test_allowed_by_exact_arn_and_denied_on_another_resource(emulator, iot, account):
    for name in ("sensor-1", "sensor-2"):
        iot.create_thing(thingName=name)
    set_policy(emulator, account, allow("iot:DescribeThing", thing_arn(account, "sensor-1")), user="pipeline")
    assert iot.describe_thing(thingName="sensor-1")["thingName"] == "sensor-1"
    e = denied(lambda: iot.describe_thing(thingName="sensor-2"))
    # IAM's message, naming the principal, the action and the resource
    assert e.response["Error"]["Message"] == (
        f"User: arn:aws:iam::{account}:user/pipeline is not authorized to perform: iot:DescribeThing "
        f"on resource: {thing_arn(account, 'sensor-2')} because no identity-based policy allows the "
        "iot:DescribeThing action")
    # restJson1: the code travels in x-amzn-ErrorType
    assert e.response["ResponseMetadata"]["HTTPHeaders"]["x-amzn-errortype"] == "AccessDeniedException"
    # an action the policy does not name is denied whatever the resource
    denied(lambda: iot.update_thing(thingName="sensor-1", attributePayload={"attributes": {"a": "b"}}))


def test_allowed_by_wildcards_in_action_and_resource(emulator, iot, account):
    for name in ("sensor-1", "gateway-1"):
        iot.create_thing(thingName=name)
    # action names are case-insensitive; * and ? match in both
    set_policy(emulator, account, allow(["iot:describe*"], f"arn:aws:iot:*:{account}:thing/sens?r-*"))
    iot.describe_thing(thingName="sensor-1")
    denied(lambda: iot.describe_thing(thingName="gateway-1"))
    # ARNs are case-sensitive
    set_policy(emulator, account, allow("iot:DescribeThing", f"arn:aws:iot:*:{account}:thing/SENSOR-*"))
    denied(lambda: iot.describe_thing(thingName="sensor-1"))


def test_explicit_deny_overrides_allow(emulator, iot, account):
    iot.create_thing(thingName="lock")
    set_policy(emulator, account,
               allow("iot:*", "*"),
               allow("iot:DescribeThing", thing_arn(account, "lock"), effect="Deny"))
    iot.list_things()
    e = denied(lambda: iot.describe_thing(thingName="lock"))
    assert e.response["Error"]["Message"].endswith("with an explicit deny in an identity-based policy")


def test_not_action_and_not_resource(emulator, iot, account):
    iot.create_thing(thingName="a")
    iot.create_thing(thingName="b")
    set_policy(emulator, account,
               {"Effect": "Allow", "NotAction": "iot:Delete*", "Resource": "*"},
               {"Effect": "Deny", "Action": "iot:DescribeThing", "NotResource": thing_arn(account, "a")})
    iot.describe_thing(thingName="a")
    denied(lambda: iot.describe_thing(thingName="b"))
    denied(lambda: iot.delete_thing(thingName="a"))


def test_actions_without_resource_types_need_star(emulator, iot, account):
    # ListThings names no resource: a statement narrowed to things does not cover it.
    set_policy(emulator, account, allow(["iot:ListThings", "iot:DescribeEndpoint"], f"arn:aws:iot:*:{account}:thing/*"))
    e = denied(lambda: iot.list_things())
    assert "iot:ListThings on resource: * because" in e.response["Error"]["Message"]
    set_policy(emulator, account, allow(["iot:ListThings", "iot:DescribeEndpoint"], "*"))
    iot.list_things()
    iot.describe_endpoint(endpointType="iot:Data-ATS")


def test_pca_issue_is_authorised_on_the_ca_arn(emulator, pca, account):
    ca_arn, _ = create_root_ca(pca)
    other_arn, _ = create_root_ca(pca, cn="Other Root")
    set_policy(emulator, account,
               allow(["acm-pca:IssueCertificate", "acm-pca:GetCertificate"], ca_arn),
               allow("acm-pca:ListCertificateAuthorities", "*"))
    issue(pca, ca_arn, cn="dev-1")
    pca.list_certificate_authorities()
    e = denied(lambda: issue(pca, other_arn, cn="dev-2"))
    assert f"acm-pca:IssueCertificate on resource: {other_arn} because" in e.response["Error"]["Message"]
    # awsJson1_1: the code travels in "__type"
    assert e.response["ResponseMetadata"]["HTTPHeaders"]["content-type"] == "application/x-amz-json-1.1"
    # CreateCertificateAuthority has no resource type: "*" only
    denied(lambda: create_root_ca(pca, cn="Third"))


def test_attach_policy_needs_the_policy_and_the_target(emulator, pca, iot, account):
    ca_arn, ca_pem = create_root_ca(pca)
    register_ca(pca, iot, ca_arn, ca_pem)
    _, dev = issue(pca, ca_arn, cn="dev")
    cert_arn = iot.register_certificate(certificatePem=dev, status="ACTIVE")["certificateArn"]
    doc = json.dumps({"Version": "2012-10-17", "Statement": [allow("iot:Connect", "*")]})
    for name in ("telemetry", "admin"):
        iot.create_policy(policyName=name, policyDocument=doc)
    policy_arn = f"arn:aws:iot:{REGION}:{account}:policy/telemetry"
    set_policy(emulator, account, allow("iot:AttachPolicy", [policy_arn, f"arn:aws:iot:{REGION}:{account}:cert/*"]))
    iot.attach_policy(policyName="telemetry", target=cert_arn)
    e = denied(lambda: iot.attach_policy(policyName="admin", target=cert_arn))
    assert f"on resource: arn:aws:iot:{REGION}:{account}:policy/admin because" in e.response["Error"]["Message"]
    set_policy(emulator, account, allow("iot:AttachPolicy", policy_arn))
    e = denied(lambda: iot.attach_policy(policyName="telemetry", target=cert_arn))
    assert f"on resource: {cert_arn} because" in e.response["Error"]["Message"]


def test_denials_are_counted_and_listed_and_clear_lifts_the_policy(emulator, iot, account):
    iot.create_thing(thingName="t")
    set_policy(emulator, account, allow("iot:ListThings", "*"))
    assert account in emulator.control("iam/policy")
    denied(lambda: iot.describe_thing(thingName="t"))
    denied(lambda: iot.describe_thing(thingName="t"))
    counters = emulator.control("counters")
    assert counters["denied"][f"{account}/{REGION}"] == {"iot:DescribeThing": 2}
    assert counters[f"{account}/{REGION}"]["iot:DescribeThing"] == 2  # denied calls are still counted
    # every request that names a resource is counted by resource, denied or not
    assert counters["resources"][f"{account}/{REGION}"]["iot:DescribeThing"] == {thing_arn(account, "t"): 2}
    mine = [d for d in emulator.control("iam/denials") if d["account"] == account]
    assert [(d["action"], d["resource"], d["verdict"]) for d in mine] == \
        [("iot:DescribeThing", thing_arn(account, "t"), "ImplicitDeny")] * 2
    assert emulator.control("iam/policy/clear", {"access_key_id": account}) == {"ok": True, "cleared": True}
    iot.describe_thing(thingName="t")


def test_other_keys_are_not_affected(emulator, iot, account, ):
    from conftest import make_client
    other = f"{(int(account) + 500_000) % 10**12:012d}"
    set_policy(emulator, other, allow("iot:ListThings", "*"))
    try:
        iot.create_thing(thingName="free")  # this test's key has no policy: everything is allowed
        denied(lambda: make_client(emulator, "iot", other).create_thing(thingName="x"))
    finally:
        emulator.control("iam/policy/clear", {"access_key_id": other})


@pytest.mark.parametrize("policy, error", [
    ({"Statement": [{"Effect": "Allow", "Action": "iot:*", "Resource": "*", "Condition": {}}]}, "Condition"),
    ({"Statement": [{"Effect": "Maybe", "Action": "iot:*", "Resource": "*"}]}, "Effect"),
    ({"Statement": [{"Effect": "Allow", "Resource": "*"}]}, "Action"),
    ({"Statement": [{"Effect": "Allow", "Action": "iot:*", "Resource": "thing/${aws:username}"}]}, "variables"),
    ("{not json", "not JSON"),
])
def test_unsupported_or_invalid_policies_are_refused(emulator, account, policy, error):
    req = urllib.request.Request(emulator.url + "/_fleetcert/iam/policy", method="POST",
                                 data=json.dumps({"access_key_id": account, "policy": policy}).encode())
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(req, timeout=10)
    assert e.value.code == 400
    assert error in json.loads(e.value.read())["error"]


def test_fail_after_carries_the_request_out_and_times_limits_it(emulator, iot):
    iot.create_thing(thingName="dev")
    emulator.control("config", {"fail_requests": [{
        "operation": "iot:UpdateThing", "path_contains": "/things/dev", "after": True, "times": 1,
        "status": 500, "code": "InternalFailureException"}]})
    try:
        with pytest.raises(ClientError) as e:
            iot.update_thing(thingName="dev", attributePayload={"attributes": {"a": "1"}}, expectedVersion=1)
        assert code(e.value) == "InternalFailureException"
        # carried out: the version moved, so the same request now conflicts
        assert iot.describe_thing(thingName="dev")["attributes"] == {"a": "1"}
        with pytest.raises(ClientError) as e:
            iot.update_thing(thingName="dev", attributePayload={"attributes": {"a": "1"}}, expectedVersion=1)
        assert code(e.value) == "VersionConflictException"  # times: 1, so moto's own answer
    finally:
        emulator.control("config", {"fail_requests": []})
