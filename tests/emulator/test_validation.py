"""Request validation (fleetcert_emulator/validation.py) against botocore's models.

boto3 validates parameters itself before sending; these clients turn that off
(parameter_validation=False) so that what is tested is the emulator's answer.
"""

from __future__ import annotations

import http.client
import json

import boto3
import botocore.session
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from botocore.model import ServiceModel

from conftest import REGION, create_root_ca, make_csr
from fleetcert_emulator import javaregex, validation

CA_ARN = f"arn:aws:acm-pca:{REGION}:123456789012:certificate-authority/11111111-2222-3333-4444-555555555555"
CERT_ID = "a" * 64
# a record as fleetcert's marker.rs writes it (fleet, version, one entry)
MARKER = f"factory-a:1[{CERT_ID}:0a1b2c:1700000000:1731536000:{'e' * 64}:telemetry/ota#v2,x=y]"


def unchecked(emulator, service, account):
    """A boto3 client that sends whatever it is given."""
    return boto3.client(
        service, endpoint_url=emulator.url, region_name=REGION,
        aws_access_key_id=account, aws_secret_access_key="test-secret",
        config=Config(parameter_validation=False, retries={"total_max_attempts": 1, "mode": "standard"}),
    )


@pytest.fixture
def iot(emulator, account):
    return unchecked(emulator, "iot", account)


@pytest.fixture
def pca(emulator, account):
    return unchecked(emulator, "acm-pca", account)


def refused(call, code="InvalidRequestException", status=400) -> str:
    """The message of the error the call must get."""
    with pytest.raises(ClientError) as e:
        call()
    err = e.value.response
    assert err["Error"]["Code"] == code, err
    assert err["ResponseMetadata"]["HTTPStatusCode"] == status
    return err["Error"]["Message"]


def not_found(call):
    """The request got past validation: the resource it names does not exist."""
    refused(call, "ResourceNotFoundException", status=404)


def one(violation: str) -> str:
    return "1 validation error detected: " + violation


# ---------------------------------------------------------------------------
# IoT (restJson1)
# ---------------------------------------------------------------------------

def test_iot_range_on_query_members(iot):
    for size, bound in ((0, "greater than or equal to 1"), (251, "less than or equal to 250")):
        assert refused(lambda: iot.list_things(maxResults=size)) == one(
            f"Value '{size}' at 'maxResults' failed to satisfy constraint: Member must have value {bound}")
        assert refused(lambda: iot.list_certificates(pageSize=size)) == one(
            f"Value '{size}' at 'pageSize' failed to satisfy constraint: Member must have value {bound}")
    assert iot.list_things(maxResults=1)["things"] == []
    assert iot.list_things(maxResults=250)["things"] == []


def test_iot_pattern_on_the_uri_is_matched_whole(iot):
    assert refused(lambda: iot.create_thing(thingName="my thing")) == one(
        "Value 'my thing' at 'thingName' failed to satisfy constraint: "
        "Member must satisfy regular expression pattern: [a-zA-Z0-9:_-]+")
    # a valid prefix is not enough: the whole value must match
    refused(lambda: iot.describe_thing(thingName="ok!"))
    refused(lambda: iot.get_policy(policyName="bad name"))
    iot.create_thing(thingName="dev-1:a_b")


def test_iot_certificate_id_length_and_pattern(iot):
    message = refused(lambda: iot.describe_certificate(certificateId="xyz"))
    assert message.startswith("2 validation errors detected: ")
    assert "Value 'xyz' at 'certificateId' failed to satisfy constraint: Member must have length greater than or equal to 64" in message
    assert "Member must satisfy regular expression pattern: (0x)?[a-fA-F0-9]+" in message
    # right length and pattern: the request is valid, the certificate does not exist
    not_found(lambda: iot.describe_certificate(certificateId=CERT_ID))


def test_iot_string_length(iot):
    assert refused(lambda: iot.create_thing(thingName="t" * 129)) == one(
        f"Value '{'t' * 129}' at 'thingName' failed to satisfy constraint: "
        "Member must have length less than or equal to 128")
    # an empty name breaks both the length and the pattern: two errors, one message
    assert refused(lambda: iot.create_thing(thingName="t", thingTypeName="")) == (
        "2 validation errors detected: "
        "Value '' at 'thingTypeName' failed to satisfy constraint: Member must have length greater than or equal to 1; "
        "Value '' at 'thingTypeName' failed to satisfy constraint: "
        "Member must satisfy regular expression pattern: [a-zA-Z0-9:_-]+")
    iot.create_thing(thingName="t" * 128)


def test_iot_required_header_member(iot):
    iot.create_thing(thingName="t")
    # AttachThingPrincipal's principal travels in the x-amzn-principal header
    assert refused(lambda: iot.attach_thing_principal(thingName="t")) == one(
        "Value null at 'principal' failed to satisfy constraint: Member must not be null")
    # with the header the request is valid (the certificate does not exist)
    not_found(lambda: iot.attach_thing_principal(
        thingName="t", principal=f"arn:aws:iot:{REGION}:123456789012:cert/{CERT_ID}"))


def test_iot_enum_on_a_query_member(iot):
    statuses = botocore.session.get_session().get_service_model("iot").shape_for("CertificateStatus").enum
    assert refused(lambda: iot.update_certificate(certificateId=CERT_ID, newStatus="ACTIV")) == one(
        "Value 'ACTIV' at 'newStatus' failed to satisfy constraint: "
        f"Member must satisfy enum value set: [{', '.join(statuses)}]")
    assert statuses[:3] == ["ACTIVE", "INACTIVE", "REVOKED"]


def test_iot_nested_map_keys_and_values(iot):
    message = refused(lambda: iot.create_thing(
        thingName="t", attributePayload={"attributes": {'"state"': "ok", "fleetcert": "a b"}}))
    assert message == (
        "2 validation errors detected: "
        "Value '{\"state\"=ok, fleetcert=a b}' at 'attributePayload.attributes' failed to satisfy constraint: "
        "Map keys must satisfy constraint: [Member must have length less than or equal to 128, "
        "Member must satisfy regular expression pattern: [a-zA-Z0-9_.,@/:#-]+]; "
        "Value '{\"state\"=ok, fleetcert=a b}' at 'attributePayload.attributes' failed to satisfy constraint: "
        "Map value must satisfy constraint: [Member must have length less than or equal to 800, "
        "Member must satisfy regular expression pattern: [a-zA-Z0-9_.,@/:#=\\[\\]-]*]")
    refused(lambda: iot.create_thing(thingName="t", attributePayload={"attributes": {"fleetcert": "x" * 801}}))


def test_iot_fleetcert_marker_record_is_a_valid_attribute_value(iot):
    assert len(MARKER) <= 800
    iot.create_thing(thingName="dev-1", attributePayload={"attributes": {"fleetcert": MARKER}})
    assert iot.describe_thing(thingName="dev-1")["attributes"] == {"fleetcert": MARKER}
    iot.update_thing(thingName="dev-1", attributePayload={"attributes": {"fleetcert": ""}, "merge": True})
    things = iot.list_things(attributeName="fleetcert", attributeValue="factory-a", usePrefixAttributeValue=True)
    assert things["things"] == []


def test_iot_list_entries_inside_a_structure(iot):
    props = {"searchableAttributes": ["serial", "has space"]}
    assert refused(lambda: iot.create_thing_type(thingTypeName="sensor", thingTypeProperties=props)) == one(
        "Value '[serial, has space]' at 'thingTypeProperties.searchableAttributes' failed to satisfy constraint: "
        "Member must satisfy constraint: [Member must have length less than or equal to 128, "
        "Member must satisfy regular expression pattern: [a-zA-Z0-9_.,@/:#-]+]")
    iot.create_thing_type(thingTypeName="sensor", thingTypeProperties={"searchableAttributes": ["serial"]})


def test_iot_thing_type_description_is_printable_ascii(iot):
    # ThingTypeDescription: [\p{Graph}\x20]*, and Java's \p{Graph} is ASCII only
    for text in ("Capteur de température", "line 1\nline 2", "tab\there"):
        assert "at 'thingTypeProperties.thingTypeDescription' failed to satisfy constraint: " \
            "Member must satisfy regular expression pattern: [\\p{Graph}\\x20]*" in refused(
                lambda: iot.create_thing_type(thingTypeName="sensor", thingTypeProperties={"thingTypeDescription": text}))
    iot.create_thing_type(thingTypeName="sensor", thingTypeProperties={"thingTypeDescription": "Sensors (v2) ~ 100%"})


def test_iot_policy_with_fleetcert_owner_tag(iot):
    tags = [{"Key": "fleetcert:fleet", "Value": "factory-a"}]
    iot.create_policy(policyName="ota+v2,x=y@z.-_", policyDocument="{}", tags=tags)
    assert refused(lambda: iot.create_policy(policyName="p", policyDocument="{}",
                                             tags=[{"Key": "", "Value": "v"}])) == one(
        "Value '' at 'tags.1.member.key' failed to satisfy constraint: Member must have length greater than or equal to 1")


def test_iot_unknown_members_are_ignored_and_wrong_types_unreadable(emulator, iot, account):
    raw = _raw(emulator, account)
    status, headers, body = raw("POST", "/things/t", "iot", body=b'{"surprise": 1, "attributePayload": {}}')
    assert status == 200, body
    status, headers, body = raw("GET", "/things?maxResults=abc", "iot")
    assert status == 400 and headers["x-amzn-ErrorType"] == "SerializationException"
    status, headers, body = raw("POST", "/things/t2", "iot", body=b'{"thingTypeName": 5}')
    assert status == 400 and headers["x-amzn-ErrorType"] == "SerializationException"
    status, headers, body = raw("POST", "/things/t3", "iot", body=b"[1]")
    assert status == 400 and headers["x-amzn-ErrorType"] == "SerializationException"


def test_iot_error_shape_on_the_wire(emulator, account):
    status, headers, body = _raw(emulator, account)("GET", "/things?maxResults=0", "iot")
    assert status == 400
    assert headers["x-amzn-ErrorType"] == "InvalidRequestException"
    assert json.loads(body) == {"message": one(
        "Value '0' at 'maxResults' failed to satisfy constraint: Member must have value greater than or equal to 1")}


# ---------------------------------------------------------------------------
# ACM PCA (awsJson1_1)
# ---------------------------------------------------------------------------

def _issue(pca, **kw):
    args = dict(CertificateAuthorityArn=CA_ARN, Csr=make_csr("dev"), SigningAlgorithm="SHA256WITHECDSA",
                Validity={"Type": "DAYS", "Value": 7})
    args.update(kw)
    return pca.issue_certificate(**{k: v for k, v in args.items() if v is not None})


def test_pca_range(pca):
    for n, bound in ((0, "greater than or equal to 1"), (1001, "less than or equal to 1000")):
        assert refused(lambda: pca.list_certificate_authorities(MaxResults=n), "ValidationException") == one(
            f"Value '{n}' at 'maxResults' failed to satisfy constraint: Member must have value {bound}")
    pca.list_certificate_authorities(MaxResults=1000)


def test_pca_required_and_nested_structure(pca):
    assert refused(lambda: _issue(pca, Csr=None), "ValidationException") == one(
        "Value null at 'csr' failed to satisfy constraint: Member must not be null")
    assert refused(lambda: _issue(pca, Validity={"Type": "DAYS", "Value": 0}), "ValidationException") == one(
        "Value '0' at 'validity.value' failed to satisfy constraint: Member must have value greater than or equal to 1")
    assert refused(lambda: _issue(pca, Validity={"Value": 7}), "ValidationException") == one(
        "Value null at 'validity.type' failed to satisfy constraint: Member must not be null")


def test_pca_enum(pca):
    message = refused(lambda: _issue(pca, Validity={"Type": "WEEKS", "Value": 1}), "ValidationException")
    assert message == one("Value 'WEEKS' at 'validity.type' failed to satisfy constraint: "
                          "Member must satisfy enum value set: [END_DATE, ABSOLUTE, DAYS, MONTHS, YEARS]")
    message = refused(lambda: pca.create_certificate_authority(
        CertificateAuthorityConfiguration={"KeyAlgorithm": "EC_prime256v1", "SigningAlgorithm": "SHA256WITHECDSA",
                                           "Subject": {"CommonName": "x"}},
        CertificateAuthorityType="ROOTS"), "ValidationException")
    assert message == one("Value 'ROOTS' at 'certificateAuthorityType' failed to satisfy constraint: "
                          "Member must satisfy enum value set: [ROOT, SUBORDINATE]")


def test_pca_patterns_arn_and_idempotency_token(pca):
    assert refused(lambda: pca.describe_certificate_authority(CertificateAuthorityArn="not-an-arn"),
                   "ValidationException") == one(
        "Value 'not-an-arn' at 'certificateAuthorityArn' failed to satisfy constraint: Member must satisfy "
        "regular expression pattern: arn:[\\w+=/,.@-]+:acm-pca:[\\w+=/,.@-]*:[0-9]*:[\\w+=,.@-]+(/[\\w+=,.@-]+)*")
    # IdempotencyToken: 1..36 characters from [\u0009\u000A\u000D\u0020-\u00FF]
    assert refused(lambda: _issue(pca, IdempotencyToken="t" * 37), "ValidationException") == one(
        f"Value '{'t' * 37}' at 'idempotencyToken' failed to satisfy constraint: "
        "Member must have length less than or equal to 36")
    assert "at 'idempotencyToken' failed to satisfy constraint: Member must satisfy regular expression pattern" in \
        refused(lambda: _issue(pca, IdempotencyToken="price-€"), "ValidationException")
    # a valid token of 36 characters gets past validation (the CA does not exist)
    refused(lambda: _issue(pca, IdempotencyToken="é" * 36), "ResourceNotFoundException")


def test_pca_list_of_structures_and_unicode_tags(pca):
    ca_arn, _ = create_root_ca(pca)
    tags = [{"Key": "fleetcert:fleet", "Value": "factory-a"}, {"Key": "bad*", "Value": "v"}]
    assert refused(lambda: pca.tag_certificate_authority(CertificateAuthorityArn=ca_arn, Tags=tags),
                   "ValidationException") == one(
        "Value 'bad*' at 'tags.2.member.key' failed to satisfy constraint: "
        "Member must satisfy regular expression pattern: ([\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]*)")
    assert refused(lambda: pca.tag_certificate_authority(CertificateAuthorityArn=ca_arn, Tags=[]),
                   "ValidationException") == one(
        "Value '[]' at 'tags' failed to satisfy constraint: Member must have length greater than or equal to 1")
    # \p{L}, \p{Z}, \p{N}: letters, separators and digits of any script
    pca.tag_certificate_authority(CertificateAuthorityArn=ca_arn, Tags=[{"Key": "Fabrik Köln", "Value": "東京 ٣"}])


def test_pca_error_shape_on_the_wire(emulator, account):
    h = {"X-Amz-Target": "ACMPrivateCA.ListCertificateAuthorities", "Content-Type": "application/x-amz-json-1.1"}
    raw = _raw(emulator, account)
    status, headers, body = raw("POST", "/", "acm-pca", h, b'{"MaxResults": 1001, "Unknown": true}')
    assert status == 400 and headers["Content-Type"] == "application/x-amz-json-1.1"
    assert json.loads(body) == {"__type": "ValidationException", "message": one(
        "Value '1001' at 'maxResults' failed to satisfy constraint: Member must have value less than or equal to 1000")}
    status, _, body = raw("POST", "/", "acm-pca", h, b"not json")
    assert status == 400 and json.loads(body)["__type"] == "SerializationException"
    status, _, body = raw("POST", "/", "acm-pca", h, b'{"MaxResults": "ten"}')
    assert status == 400 and json.loads(body)["__type"] == "SerializationException"


# ---------------------------------------------------------------------------
# Where it sits in the layer, and the switch
# ---------------------------------------------------------------------------

def test_validate_requests_false_turns_it_off(emulator, iot, pca, account):
    refused(lambda: iot.describe_thing(thingName="my thing"))
    refused(lambda: pca.list_certificate_authorities(MaxResults=1001), "ValidationException")
    assert emulator.control("config", {"validate_requests": False})["validate_requests"] is False
    # moto answers instead
    not_found(lambda: iot.describe_thing(thingName="my thing"))
    pca.list_certificate_authorities(MaxResults=1001)
    emulator.control("config", {"validate_requests": True})
    refused(lambda: iot.describe_thing(thingName="my thing"))


def test_control_rejects_a_non_boolean_switch(emulator):
    import urllib.error
    with pytest.raises(urllib.error.HTTPError) as e:
        emulator.control("config", {"validate_requests": "no"})
    assert e.value.code == 400


def test_refusals_are_counted_and_come_after_iam_before_faults(emulator, iot, account):
    emulator.control("counters/reset", {})
    refused(lambda: iot.list_things(maxResults=0))
    counters = emulator.control("counters")
    assert counters["invalid"][f"{account}/{REGION}"] == {"iot:ListThings": 1}
    assert counters[f"{account}/{REGION}"]["iot:ListThings"] == 1
    # a malformed request never reaches the fault injection...
    emulator.control("config", {"fault_5xx_rate": 1.0})
    refused(lambda: iot.list_things(maxResults=0))
    emulator.control("config", {"fault_5xx_rate": 0.0})
    # ...but a denied one is AccessDenied whatever it carries
    emulator.control("iam/policy", {"access_key_id": account, "policy": {"Statement": []}})
    try:
        with pytest.raises(ClientError) as e:
            iot.list_things(maxResults=0)
        assert e.value.response["Error"]["Code"] == "AccessDeniedException"
    finally:
        emulator.control("iam/policy/clear", {"access_key_id": account})


def _raw(emulator, account):
    auth = (f"AWS4-HMAC-SHA256 Credential={account}/20260101/{REGION}/{{svc}}/aws4_request, "
            "SignedHeaders=host, Signature=00")

    def raw(method, path, svc, headers=None, body=None):
        c = http.client.HTTPConnection("127.0.0.1", emulator.port, timeout=5)
        c.request(method, path, body=body, headers={"Authorization": auth.format(svc=svc), **(headers or {})})
        r = c.getresponse()
        return r.status, dict(r.getheaders()), r.read()
    return raw


# ---------------------------------------------------------------------------
# In process: the pattern translation and the parts no IoT operation uses
# ---------------------------------------------------------------------------

def test_every_pattern_of_both_models_translates():
    count = 0
    for service in validation.SERVICES:
        model = validation._model(service)  # iotjobsdata is botocore's iot-jobs-data
        for name in model.shape_names:
            pattern = model.shape_for(name).metadata.get("pattern")
            if pattern:
                javaregex.compile_java(pattern)
                count += 1
    assert count > 60


@pytest.mark.parametrize("pattern,value,matches", [
    (r"[\w+=,.@-]+", "ops+v2@x", True),
    (r"[\w+=,.@-]+", "café", False),         # Java's \w is ASCII
    (r"[a-zA-Z0-9:_-]+", "a b", False),       # the whole value must match
    (r"[a-zA-Z0-9:_-]+", "ab\n", False),
    (r"^[1-9]+.[0-9]+", "1\r2", False),       # Java's . excludes every line terminator
    (r"^[1-9]+.[0-9]+", "1.2", True),
    (r"[\p{Graph}\x20]*", "a b~", True),
    (r"[\p{Graph}\x20]*", "é", False),        # POSIX classes are ASCII in Java
    (r"[^\p{C}]*", "Grüße", True),
    (r"[^\p{C}]*", "a\u200bb", False),        # a format character (Cf)
    (r"([\p{L}\p{Z}\p{N}_.:/=+\-@]*)", "Köln 東京 ٣", True),
    (r"([\p{L}\p{Z}\p{N}_.:/=+\-@]*)", "a*b", False),
    (r"[\u0009\u000A\u000D\u0020-\u00FF]*", "ÿ\t", True),
    (r"[\u0009\u000A\u000D\u0020-\u00FF]*", "€", False),
])
def test_java_pattern_semantics(pattern, value, matches):
    assert (javaregex.compile_java(pattern).fullmatch(value) is not None) is matches


@pytest.mark.parametrize("pattern", [r"[a-z&&[^b]]", r"[a[b]]", r"\p{Foo}", r"\h+", r"[\P{L}]"])
def test_java_only_constructs_are_refused_not_misread(pattern):
    with pytest.raises(javaregex.UnsupportedPattern):
        javaregex.compile_java(pattern)


def _rest_model() -> ServiceModel:
    """A restJson1 model with what IoT's lacks: a list-valued query member."""
    return ServiceModel({
        "metadata": {"protocol": "rest-json", "serviceId": "Demo", "endpointPrefix": "demo", "apiVersion": "1"},
        "operations": {"ListWidgets": {
            "name": "ListWidgets", "http": {"method": "GET", "requestUri": "/widgets/{owner+}"},
            "input": {"shape": "ListWidgetsRequest"}}},
        "shapes": {
            "ListWidgetsRequest": {"type": "structure", "required": ["owner"], "members": {
                "owner": {"shape": "Name", "location": "uri", "locationName": "owner"},
                "colors": {"shape": "Colors", "location": "querystring", "locationName": "color"},
                "limit": {"shape": "Limit", "location": "querystring", "locationName": "limit"}}},
            "Name": {"type": "string", "min": 1, "pattern": "[a-z/ ]+"},
            "Colors": {"type": "list", "member": {"shape": "Color"}, "max": 2},
            "Color": {"type": "string", "enum": ["red", "blue"]},
            "Limit": {"type": "integer", "min": 1},
        },
    })


def _errors(query: str, path: str = "/widgets/a%2Fb%20c") -> list[str]:
    model = _rest_model()
    shape = model.operation_model("ListWidgets").input_shape
    environ = {"RAW_URI": path + "?" + query, "QUERY_STRING": query}
    values = validation.rest_json_values(model, "ListWidgets", environ, b"")
    errors: list[str] = []
    validation.check_members(shape, values, "", errors)
    return errors


def test_list_valued_query_members_and_greedy_labels():
    assert _errors("color=red&color=blue&limit=1") == []  # the label is percent-decoded: "a/b c"
    assert _errors("color=red&color=green") == [
        "Value '[red, green]' at 'colors' failed to satisfy constraint: "
        "Member must satisfy constraint: [Member must satisfy enum value set: [red, blue]]"]
    assert _errors("color=red&color=red&color=blue") == [
        "Value '[red, red, blue]' at 'colors' failed to satisfy constraint: "
        "Member must have length less than or equal to 2"]
    assert _errors("limit=0", "/widgets/A") == [
        "Value 'A' at 'owner' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-z/ ]+",
        "Value '0' at 'limit' failed to satisfy constraint: Member must have value greater than or equal to 1"]
