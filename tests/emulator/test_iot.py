"""AWS IoT fidelity patches."""

from __future__ import annotations

import datetime as dt
import hashlib

import pytest
from botocore.exceptions import ClientError
from cryptography.hazmat.primitives import serialization

from conftest import create_root_ca, issue, load


def code(exc: ClientError) -> str:
    return exc.response["Error"]["Code"]


def der_sha256(pem: str) -> str:
    return hashlib.sha256(load(pem).public_bytes(serialization.Encoding.DER)).hexdigest()


def register_ca(pca, iot, ca_arn, ca_pem):
    reg_code = iot.get_registration_code()["registrationCode"]
    _, ver = issue(pca, ca_arn, cn=reg_code, template="EndEntityCertificate/V1")
    return iot.register_ca_certificate(caCertificate=ca_pem, verificationCertificate=ver, setAsActive=True)


def test_registration_code_is_stable(iot):
    assert iot.get_registration_code()["registrationCode"] == iot.get_registration_code()["registrationCode"]


def test_register_ca_default_mode_checks_verification_cert(pca, iot):
    ca_arn, ca_pem = create_root_ca(pca)
    reg_code = iot.get_registration_code()["registrationCode"]
    _, wrong_cn = issue(pca, ca_arn, cn="not-the-code")
    other_arn, _ = create_root_ca(pca, cn="Other Root")
    _, wrong_signer = issue(pca, other_arn, cn=reg_code)
    for bogus in (wrong_cn, wrong_signer):
        with pytest.raises(ClientError) as e:
            iot.register_ca_certificate(caCertificate=ca_pem, verificationCertificate=bogus, setAsActive=True)
        assert code(e.value) == "CertificateValidationException"
    with pytest.raises(ClientError) as e:  # DEFAULT needs a verification certificate
        iot.register_ca_certificate(caCertificate=ca_pem, setAsActive=True)
    assert code(e.value) == "InvalidRequestException"
    res = register_ca(pca, iot, ca_arn, ca_pem)
    assert res["certificateId"] == der_sha256(ca_pem)
    d = iot.describe_ca_certificate(certificateId=res["certificateId"])["certificateDescription"]
    assert d["status"] == "ACTIVE" and d["certificateMode"] == "DEFAULT" and d["autoRegistrationStatus"] == "DISABLE"
    assert d["validity"]["notAfter"] == load(ca_pem).not_valid_after_utc
    assert d["certificatePem"].strip() == ca_pem.strip()
    with pytest.raises(ClientError) as e:  # the same CA twice
        register_ca(pca, iot, ca_arn, ca_pem)
    assert code(e.value) == "ResourceAlreadyExistsException"


def test_register_ca_sni_only_and_update(pca, iot):
    ca_arn, ca_pem = create_root_ca(pca)
    res = iot.register_ca_certificate(caCertificate=ca_pem, certificateMode="SNI_ONLY", allowAutoRegistration=True)
    d = iot.describe_ca_certificate(certificateId=res["certificateId"])["certificateDescription"]
    assert d["certificateMode"] == "SNI_ONLY" and d["status"] == "INACTIVE" and d["autoRegistrationStatus"] == "ENABLE"
    iot.update_ca_certificate(certificateId=res["certificateId"], newStatus="ACTIVE", newAutoRegistrationStatus="DISABLE")
    d = iot.describe_ca_certificate(certificateId=res["certificateId"])["certificateDescription"]
    assert d["status"] == "ACTIVE" and d["autoRegistrationStatus"] == "DISABLE"
    listed = iot.list_ca_certificates()["certificates"]
    assert [c["certificateId"] for c in listed] == [res["certificateId"]]


def test_list_ca_certificates_paginates(pca, iot):
    ids = set()
    for i in range(3):
        _, pem = create_root_ca(pca, cn=f"Root {i}")
        ids.add(iot.register_ca_certificate(caCertificate=pem, certificateMode="SNI_ONLY")["certificateId"])
    seen, marker = [], None
    while True:
        page = iot.list_ca_certificates(pageSize=2, **({"marker": marker} if marker else {}))
        seen += [c["certificateId"] for c in page["certificates"]]
        marker = page.get("nextMarker")
        if not marker:
            break
    assert set(seen) == ids and len(seen) == 3


def test_register_certificate(pca, iot):
    ca_arn, ca_pem = create_root_ca(pca)
    ca_id = register_ca(pca, iot, ca_arn, ca_pem)["certificateId"]
    _, dev = issue(pca, ca_arn, cn="sensor-1", days=30)
    res = iot.register_certificate(certificatePem=dev, caCertificatePem=ca_pem)
    assert res["certificateId"] == der_sha256(dev)
    d = iot.describe_certificate(certificateId=res["certificateId"])["certificateDescription"]
    assert d["status"] == "INACTIVE"  # neither status nor setAsActive
    assert d["caCertificateId"] == ca_id and d["certificateMode"] == "DEFAULT"
    leaf = load(dev)
    assert d["validity"] == {"notBefore": leaf.not_valid_before_utc, "notAfter": leaf.not_valid_after_utc}
    with pytest.raises(ClientError) as e:
        iot.register_certificate(certificatePem=dev, caCertificatePem=ca_pem, status="ACTIVE")
    assert code(e.value) == "ResourceAlreadyExistsException"
    # without caCertificatePem the registered CA is found from the issuer
    _, dev2 = issue(pca, ca_arn, cn="sensor-2")
    res2 = iot.register_certificate(certificatePem=dev2, status="ACTIVE")
    assert iot.describe_certificate(certificateId=res2["certificateId"])["certificateDescription"]["status"] == "ACTIVE"


def test_register_certificate_from_other_ca_refused(pca, iot):
    ca_arn, ca_pem = create_root_ca(pca)
    register_ca(pca, iot, ca_arn, ca_pem)
    other_arn, other_pem = create_root_ca(pca, cn="Other Root")
    _, foreign = issue(pca, other_arn, cn="intruder")
    with pytest.raises(ClientError) as e:  # claims our CA, signed by another
        iot.register_certificate(certificatePem=foreign, caCertificatePem=ca_pem, status="ACTIVE")
    assert code(e.value) == "CertificateValidationException"
    with pytest.raises(ClientError) as e:  # its CA is not registered
        iot.register_certificate(certificatePem=foreign, caCertificatePem=other_pem, status="ACTIVE")
    assert code(e.value) == "CertificateValidationException"
    with pytest.raises(ClientError) as e:
        iot.register_certificate(certificatePem=foreign, status="ACTIVE")
    assert code(e.value) == "CertificateValidationException"


def test_update_certificate_statuses(pca, iot):
    ca_arn, ca_pem = create_root_ca(pca)
    register_ca(pca, iot, ca_arn, ca_pem)
    _, dev = issue(pca, ca_arn)
    cid = iot.register_certificate(certificatePem=dev, caCertificatePem=ca_pem, status="ACTIVE")["certificateId"]
    with pytest.raises(ClientError) as e:
        iot.delete_certificate(certificateId=cid)
    assert code(e.value) == "CertificateStateException"
    for bad in ("BOGUS", "PENDING_TRANSFER"):
        with pytest.raises(ClientError) as e:
            iot.update_certificate(certificateId=cid, newStatus=bad)
        assert code(e.value) == "InvalidRequestException"
    iot.update_certificate(certificateId=cid, newStatus="INACTIVE")
    iot.update_certificate(certificateId=cid, newStatus="REVOKED")
    with pytest.raises(ClientError) as e:
        iot.update_certificate(certificateId=cid, newStatus="ACTIVE")
    assert code(e.value) == "CertificateStateException"
    iot.delete_certificate(certificateId=cid)


def test_list_certificates_by_ca_paginates(pca, iot):
    ca_arn, ca_pem = create_root_ca(pca)
    ca_id = register_ca(pca, iot, ca_arn, ca_pem)["certificateId"]
    ids = set()
    for i in range(5):
        _, dev = issue(pca, ca_arn, cn=f"d{i}")
        ids.add(iot.register_certificate(certificatePem=dev, caCertificatePem=ca_pem)["certificateId"])
    seen, marker, pages = [], None, 0
    while True:
        page = iot.list_certificates_by_ca(caCertificateId=ca_id, pageSize=2, **({"marker": marker} if marker else {}))
        assert len(page["certificates"]) <= 2
        seen += [c["certificateId"] for c in page["certificates"]]
        pages += 1
        marker = page.get("nextMarker")
        if not marker:
            break
    assert pages == 3 and set(seen) == ids and len(seen) == 5
    listed = iot.list_certificates(pageSize=3)
    assert len(listed["certificates"]) == 3 and listed["nextMarker"]
    with pytest.raises(ClientError) as e:
        iot.list_certificates(pageSize=251)
    assert code(e.value) == "InvalidRequestException"


def test_list_things_pagination_and_filters(iot):
    iot.create_thing_type(thingTypeName="sensor")
    for i in range(7):
        kw = {"thingTypeName": "sensor"} if i % 2 else {}
        iot.create_thing(thingName=f"t-{i}", attributePayload={"attributes": {"line": "A" if i < 4 else "B", "n": str(i)}}, **kw)
    names, token = [], None
    while True:
        page = iot.list_things(maxResults=3, **({"nextToken": token} if token else {}))
        assert len(page["things"]) <= 3
        names += [t["thingName"] for t in page["things"]]
        token = page.get("nextToken")
        if not token:
            break
    assert sorted(names) == [f"t-{i}" for i in range(7)]
    assert {t["thingName"] for t in iot.list_things(attributeName="line", attributeValue="B")["things"]} == {"t-4", "t-5", "t-6"}
    assert {t["thingName"] for t in iot.list_things(thingTypeName="sensor")["things"]} == {"t-1", "t-3", "t-5"}
    assert {t["thingName"] for t in iot.list_things(thingTypeName="sensor", attributeName="line", attributeValue="A")["things"]} == {"t-1", "t-3"}
    assert all("version" in t for t in iot.list_things()["things"])
    with pytest.raises(ClientError) as e:
        iot.list_things(maxResults=251)
    assert code(e.value) == "InvalidRequestException"


def test_create_thing_idempotent_and_conflict(iot):
    a = iot.create_thing(thingName="dev-1", attributePayload={"attributes": {"a": "1"}})
    b = iot.create_thing(thingName="dev-1", attributePayload={"attributes": {"a": "1"}})
    assert a["thingArn"] == b["thingArn"] and a["thingId"] == b["thingId"]
    with pytest.raises(ClientError) as e:
        iot.create_thing(thingName="dev-1", attributePayload={"attributes": {"a": "2"}})
    assert code(e.value) == "ResourceAlreadyExistsException"
    assert iot.describe_thing(thingName="dev-1")["attributes"] == {"a": "1"}


def test_thing_name_and_attribute_limits(iot):
    for bad_name in ("has space", "x" * 129, ""):
        with pytest.raises(ClientError) as e:
            iot.create_thing(thingName=bad_name) if bad_name else iot.create_thing(thingName="ok", attributePayload={"attributes": {"": "v"}})
        assert code(e.value) in ("InvalidRequestException", "ValidationException")
    four = {f"k{i}": "v" for i in range(4)}
    with pytest.raises(ClientError) as e:
        iot.create_thing(thingName="too-many", attributePayload={"attributes": four})
    assert code(e.value) == "InvalidRequestException"
    iot.create_thing_type(thingTypeName="typed")
    iot.create_thing(thingName="typed-1", thingTypeName="typed", attributePayload={"attributes": four})
    with pytest.raises(ClientError) as e:
        iot.create_thing(thingName="typed-2", thingTypeName="typed",
                         attributePayload={"attributes": {f"k{i}": "v" for i in range(51)}})
    assert code(e.value) == "InvalidRequestException"
    for attrs in ({"bad name": "v"}, {"k": "has space"}, {"k": "x" * 801}, {"k" * 129: "v"}):
        with pytest.raises(ClientError) as e:
            iot.create_thing(thingName="bad-attr", attributePayload={"attributes": attrs})
        assert code(e.value) == "InvalidRequestException"
    iot.create_thing(thingName="okchars", attributePayload={"attributes": {"a_b.c,d@e/f:g#h-i": "x=[1]-y"}})
    iot.create_thing(thingName="three", attributePayload={"attributes": {"a": "1", "b": "2", "c": "3"}})
    with pytest.raises(ClientError) as e:
        iot.update_thing(thingName="three", attributePayload={"attributes": {"d": "4"}, "merge": True})
    assert code(e.value) == "InvalidRequestException"
    iot.update_thing(thingName="three", attributePayload={"attributes": {"c": "", "d": "4"}, "merge": True})
    assert iot.describe_thing(thingName="three")["attributes"] == {"a": "1", "b": "2", "d": "4"}


def test_update_thing_expected_version(iot):
    iot.create_thing(thingName="v", attributePayload={"attributes": {"a": "1"}})
    assert iot.describe_thing(thingName="v")["version"] == 1
    iot.update_thing(thingName="v", attributePayload={"attributes": {"a": "2"}, "merge": True}, expectedVersion=1)
    assert iot.describe_thing(thingName="v")["version"] == 2
    with pytest.raises(ClientError) as e:
        iot.update_thing(thingName="v", attributePayload={"attributes": {"a": "3"}, "merge": True}, expectedVersion=1)
    assert code(e.value) == "VersionConflictException"
    assert iot.describe_thing(thingName="v")["attributes"] == {"a": "2"}
    iot.update_thing(thingName="v", attributePayload={"attributes": {"b": "x"}})  # no merge: replace
    d = iot.describe_thing(thingName="v")
    assert d["attributes"] == {"b": "x"} and d["version"] == 3


def test_policies_tags_and_versions(iot):
    doc = '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:Connect","Resource":"*"}]}'
    arn = iot.create_policy(policyName="telemetry", policyDocument=doc,
                            tags=[{"Key": "fleetcert:fleet", "Value": "factory-a"}])["policyArn"]
    assert iot.list_tags_for_resource(resourceArn=arn)["tags"] == [{"Key": "fleetcert:fleet", "Value": "factory-a"}]
    iot.tag_resource(resourceArn=arn, tags=[{"Key": "x", "Value": "y"}])
    iot.untag_resource(resourceArn=arn, tagKeys=["x"])
    assert [t["Key"] for t in iot.list_tags_for_resource(resourceArn=arn)["tags"]] == ["fleetcert:fleet"]
    for i in range(4):
        iot.create_policy_version(policyName="telemetry", policyDocument=doc.replace("*", f"r{i}"), setAsDefault=True)
    with pytest.raises(ClientError) as e:
        iot.create_policy_version(policyName="telemetry", policyDocument=doc)
    assert code(e.value) == "VersionsLimitExceededException"
    got = iot.get_policy(policyName="telemetry")
    assert got["defaultVersionId"] == "5" and "r3" in got["policyDocument"]
    with pytest.raises(ClientError) as e:
        iot.delete_policy_version(policyName="telemetry", policyVersionId="5")
    assert code(e.value) == "InvalidRequestException"
    iot.delete_policy_version(policyName="telemetry", policyVersionId="1")
    iot.set_default_policy_version(policyName="telemetry", policyVersionId="2")
    assert iot.get_policy(policyName="telemetry")["defaultVersionId"] == "2"
    assert len(iot.list_policy_versions(policyName="telemetry")["policyVersions"]) == 4
    for i in range(3):
        iot.create_policy(policyName=f"p{i}", policyDocument=doc)
    page = iot.list_policies(pageSize=2)
    assert len(page["policies"]) == 2 and page["nextMarker"]


def test_attachments_and_lists(emulator, pca, iot, account):
    ca_arn, ca_pem = create_root_ca(pca)
    register_ca(pca, iot, ca_arn, ca_pem)
    _, dev = issue(pca, ca_arn)
    cert_arn = iot.register_certificate(certificatePem=dev, caCertificatePem=ca_pem, status="ACTIVE")["certificateArn"]
    iot.create_policy(policyName="pol", policyDocument='{"Version":"2012-10-17","Statement":[]}')
    iot.attach_policy(policyName="pol", target=cert_arn)
    for i in range(3):
        iot.create_thing(thingName=f"th{i}")
        iot.attach_thing_principal(thingName=f"th{i}", principal=cert_arn)
    assert [p["policyName"] for p in iot.list_attached_policies(target=cert_arn)["policies"]] == ["pol"]
    assert iot.list_targets_for_policy(policyName="pol")["targets"] == [cert_arn]
    page = iot.list_principal_things(principal=cert_arn, maxResults=2)
    assert len(page["things"]) == 2 and page["nextToken"]
    rest = iot.list_principal_things(principal=cert_arn, maxResults=2, nextToken=page["nextToken"])
    assert len(rest["things"]) == 1 and not rest.get("nextToken")
    assert iot.list_thing_principals(thingName="th0")["principals"] == [cert_arn]
    counted = emulator.control("counters")[f"{account}/ap-northeast-1"]
    assert counted["iot:ListAttachedPolicies"] == 1 and counted["iot:AttachPolicy"] == 1
    assert counted["iot:AttachThingPrincipal"] == 3 and "iot:Unknown" not in counted
    with pytest.raises(ClientError) as e:
        iot.delete_thing(thingName="th0")
    assert code(e.value) == "InvalidRequestException"


def test_describe_endpoint_stable(iot):
    a = iot.describe_endpoint(endpointType="iot:Data-ATS")["endpointAddress"]
    b = iot.describe_endpoint(endpointType="iot:Data-ATS")["endpointAddress"]
    assert a == b
    prefix, rest = a.split("-ats.", 1)
    assert len(prefix) == 14 and prefix.isalnum() and prefix == prefix.lower()
    assert rest == "iot.ap-northeast-1.amazonaws.com"
